/**
 * Durable storage of the messages a publisher asked to keep (`store: true`): the contract the core
 * needs, with an embedded SQLite implementation (the default, lib/storage/sqlite.ts) and a
 * PostgreSQL one for clusters (lib/storage/postgres.ts).
 */
import type { Position } from '../history/types.js';
import type { SqliteDriverName } from './sqlite-driver.js';

/** One stored message: its room, its meta and its payload as JSON text (the envelope without meta, or trigger data). */
export interface StoredMessage {
  ns: string;
  room: string;
  epoch: string;
  offset: number;
  ts: number;
  /** The server event it went out as: EVENT, MESSAGE, EVENTS, UPDATES or STATUS. */
  event: string;
  payload: string;
}

/**
 * A message written before it is published (store-first): no position yet, so no reader sees it.
 * `id` is the caller's (unique, e.g. a UUID); `ts` when it was written, for retention.
 */
export interface PendingMessage {
  id: string;
  ns: string;
  room: string;
  ts: number;
  event: string;
  payload: string;
}

/** Where a pending message went out: the position and time the broker gave it. */
export interface Placement {
  epoch: string;
  offset: number;
  ts: number;
}

/** The contract every store meets is test/contracts/store.contract.ts. */
export interface MessageStore {
  /** For logs: `sqlite /path/to/file` or `postgres host/db`. */
  readonly description: string;
  /**
   * Resolves once the message is durably committed (on disk, fsynced; or committed by PostgreSQL).
   * Saves that arrive together are committed in one transaction; one that fails fails alone. A
   * position stored already keeps its first row (a retried save resolves).
   */
  save(message: StoredMessage): Promise<void>;
  /**
   * Store-first, step 1: durably writes a message that has no position yet (committed like a save,
   * batched with saves). Pending messages are never answered by `page`; `prune` deletes them by
   * the `ts` they were written at. Saving an id that is pending already resolves (a retry).
   */
  savePending(message: PendingMessage): Promise<void>;
  /**
   * Store-first, step 2: gives the pending message `id` its position, in one transaction: from
   * then on it is a stored message like any other (read back by `page` at that position). Rejects
   * when no message `id` is pending (never saved, pruned, or placed already).
   */
  place(id: string, placement: Placement): Promise<void>;
  /** Up to `limit` stored messages of a room before `before` (all when absent), oldest first. */
  page(ns: string, room: string, limit: number, before?: Position): Promise<StoredMessage[]>;
  /** Deletes messages published (pending ones: written) before `ts`; resolves with how many went. */
  prune(ts: number): Promise<number>;
  /**
   * A light write through the path saves take: a probe row inserted and deleted in one committed
   * transaction (same table, triggers, locks, disk or connection). Resolves when the store can store.
   */
  probe(): Promise<void>;
  /** Registers who is told when the store notices trouble on its own (PostgreSQL: a pooled connection lost). */
  onTrouble?(listener: (reason: string) => void): void;
  close(): Promise<void>;
}

/** The probe row: ns '' is no namespace, so no reader ever sees it (and it is deleted in the same transaction). */
export const PROBE_ROW: StoredMessage = Object.freeze({ ns: '', room: '', epoch: '', offset: 0, ts: 0, event: '', payload: '' });

/** Where stored messages go. */
export type StorageConfig =
  /**
   * Embedded default: `<dataDir>/messages.sqlite3`, the directory created if missing; `driver`
   * absent: node:sqlite where it is quiet, else better-sqlite3 (sqlite-driver.ts).
   */
  | { kind: 'sqlite'; dataDir: string; driver?: SqliteDriverName }
  | { kind: 'postgres'; url: string }
  /** No storage (embedders and tests): `store: true` is answered with STORE_FAILED. */
  | { kind: 'off' };

/** Saves committed together at most: keeps one transaction (and one statement's parameters) bounded. */
export const MAX_BATCH = 500;
