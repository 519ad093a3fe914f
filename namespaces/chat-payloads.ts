/**
 * /chat payloads: the checks of what Avaya Spaces-style clients send (channels, messages, presence
 * events) and the shapes the server answers with. Every refusal is INVALID_PAYLOAD (the protocol's
 * one code for a bad field), except a payload over --max-payload (PAYLOAD_TOO_LARGE).
 */
import { randomUUID } from 'node:crypto';
import type { AppSocket } from '../lib/core/app-socket.js';
import { ServiceError } from '../lib/core/errors.js';
import type { ChatChannel, ChatContent, ChatMessage, ChatSender } from '../lib/core/events.js';
import { RawJson } from '../lib/json/raw-json.js';
import { checkSize, parseObject, type Limits } from '../lib/core/validate.js';

const CATEGORIES = new Set(['chat', 'idea', 'task']);
const PRESENCE_PREFIX = 'app.event.presence.';
/** Longest `category` of a presence event and `parentMsg`: ids and names, never text. */
const MAX_TAG_LENGTH = 256;
/** ISO 8601 date-time, as `Date.prototype.toISOString` and clients write it (offset or Z required). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export const invalid = (message: string): ServiceError => new ServiceError('INVALID_PAYLOAD', message);

/** The payload object; a JSON string that is not JSON, or not an object, is INVALID_PAYLOAD too. */
export function payloadOf(raw: unknown, limits: Limits): Record<string, unknown> {
  try {
    return parseObject(raw, limits);
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'INVALID_JSON') throw invalid('payload is not valid JSON');
    throw err;
  }
}

/**
 * A field as a value: the decoder keeps a large field of a large packet as its text
 * (lib/core/large-packets.ts); /chat checks every field it reads, so it is parsed here (its size
 * and depth were bounded by the decoder).
 */
export function field(payload: Record<string, unknown>, name: string): unknown {
  const value = payload[name];
  return value instanceof RawJson ? JSON.parse(value.text) : value;
}

/** `{type: 'topic', _id}` with a non-empty string `_id` no longer than a room name. */
export function parseChannel(value: unknown, limits: Limits): ChatChannel {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('channel must be {type: "topic", _id}');
  const { type, _id } = value as Record<string, unknown>;
  if (type !== 'topic') throw invalid('channel.type must be "topic"');
  if (typeof _id !== 'string' || _id.length === 0 || _id.length > limits.maxRoomLength) {
    throw invalid(`channel._id must be a non-empty string of at most ${limits.maxRoomLength} characters`);
  }
  return { _id, type: 'topic' };
}

/** What a failure event repeats of the channel a client sent: its string fields, bounded. */
export function echoChannel(value: unknown, limits: Limits): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof RawJson) return null;
  const { type, _id } = value as Record<string, unknown>;
  const echo: Record<string, string> = {};
  if (typeof _id === 'string') echo._id = _id.slice(0, limits.maxRoomLength);
  if (typeof type === 'string') echo.type = type.slice(0, MAX_TAG_LENGTH);
  return echo;
}

/** What SEND_MESSAGE_FAILED repeats of the `topicId` a client sent. */
export function echoTopic(value: unknown, limits: Limits): string | null {
  return typeof value === 'string' ? value.slice(0, limits.maxRoomLength) : null;
}

/**
 * Who the connection is: with auth on, the token's user (`sub`) and name; with --auth none, the
 * `name` query parameter as both (checked at connect), else the connection's id.
 */
export function senderOf(socket: AppSocket): ChatSender {
  const auth = socket.data.auth;
  if (auth) return { _id: auth.user, displayname: auth.name, type: 'user' };
  const name = queryName(socket);
  const id = typeof name === 'string' && name !== '' ? name : socket.id;
  return { _id: id, displayname: id, type: 'user' };
}

/** `?name=`: the query of v4 and 1.7 clients, or the namespace query of 2.x clients (which arrives as `auth`). */
function queryName(socket: AppSocket): unknown {
  const { query, auth } = socket.handshake;
  const name = query.name ?? (auth as Record<string, unknown> | undefined)?.name;
  return Array.isArray(name) ? name[0] : name;
}

/** Throws INVALID_NAME for a `name` query parameter that is present but not a usable name. */
export function checkQueryName(socket: AppSocket, limits: Limits): void {
  if (socket.data.auth) return;
  const name = queryName(socket);
  if (name === undefined || name === '') return;
  if (typeof name !== 'string' || name.length > limits.maxNameLength) {
    throw new ServiceError('INVALID_NAME', `name must be a string of at most ${limits.maxNameLength} characters`);
  }
}

const optionalString = (content: Record<string, unknown>, name: string): string | undefined => {
  const value = content[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`content.${name} must be a string`);
  return value;
};

const optionalArray = (content: Record<string, unknown>, name: string): unknown[] | undefined => {
  const value = content[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalid(`content.${name} must be an array`);
  return value;
};

/** The content as delivered: its known fields only, `cid` set to the sender. */
function parseContent(value: unknown, sender: ChatSender): ChatContent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('content must be an object with bodyText');
  const content = value as Record<string, unknown>;
  if (typeof content.bodyText !== 'string') throw invalid('content.bodyText must be a string');
  const out: ChatContent = { bodyText: content.bodyText, cid: sender._id };
  const data = optionalArray(content, 'data');
  if (data !== undefined) out.data = data;
  const description = optionalString(content, 'description');
  if (description !== undefined) out.description = description;
  const assignees = optionalArray(content, 'assignees');
  if (assignees !== undefined) out.assignees = assignees;
  const status = optionalString(content, 'status');
  if (status !== undefined) out.status = status;
  const dueDate = optionalString(content, 'dueDate');
  if (dueDate !== undefined) out.dueDate = dueDate;
  return out;
}

function parseCreated(value: unknown, now: Date): string {
  if (value === undefined || value === null) return now.toISOString();
  if (typeof value !== 'string' || value.length > 64 || !ISO_TIME.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalid('created must be an ISO 8601 time, e.g. 2026-01-31T12:00:00.000Z');
  }
  return value;
}

/**
 * SEND_MESSAGE's payload as the MESSAGE_SENT every subscriber gets (without meta, added as it is
 * published), the sender from the connection. Throws INVALID_PAYLOAD or PAYLOAD_TOO_LARGE.
 */
export function parseMessage(raw: unknown, payload: Record<string, unknown>, sender: ChatSender, limits: Limits): ChatMessage {
  const topicId = field(payload, 'topicId');
  if (typeof topicId !== 'string' || topicId.length === 0 || topicId.length > limits.maxRoomLength) {
    throw invalid(`topicId must be a non-empty string of at most ${limits.maxRoomLength} characters`);
  }
  const category = field(payload, 'category');
  if (typeof category !== 'string' || !CATEGORIES.has(category)) throw invalid('category must be "chat", "idea" or "task"');
  const content = parseContent(field(payload, 'content'), sender);
  const created = parseCreated(field(payload, 'created'), new Date());
  const message: ChatMessage = { _id: randomUUID(), category: category as ChatMessage['category'], content, topicId, created, sender };
  const parentMsg = field(payload, 'parentMsg');
  if (parentMsg !== undefined && parentMsg !== null) {
    if (typeof parentMsg !== 'string' || parentMsg.length === 0 || parentMsg.length > MAX_TAG_LENGTH) {
      throw invalid(`parentMsg must be a non-empty string of at most ${MAX_TAG_LENGTH} characters`);
    }
    message.parentMsg = parentMsg;
  }
  // Not bounded by the packet's length: the server adds _id, sender and created (written out as an
  // ISO date whatever the client sent), so this message is measured.
  checkSize(raw, message, limits);
  return message;
}

/** SEND_PRESENCE_EVENT's `category`: a string starting with `app.event.presence.`. */
export function parsePresenceCategory(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith(PRESENCE_PREFIX) || value.length > MAX_TAG_LENGTH) {
    throw invalid(`category must be a string starting with "${PRESENCE_PREFIX}" (at most ${MAX_TAG_LENGTH} characters)`);
  }
  return value;
}
