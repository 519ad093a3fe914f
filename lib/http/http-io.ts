/** Reading a path segment and a bounded request body, writing a JSON answer: what every HTTP route does. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServiceError } from '../core/errors.js';
import { roomName, type Limits } from '../core/validate.js';

/** A percent-encoded path segment; `what` names it in the refusal (INVALID_PAYLOAD). */
export function pathSegment(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ServiceError(what === 'room' ? 'INVALID_ROOM' : 'INVALID_PAYLOAD', `${what} is not valid percent-encoding`);
  }
}

/** A room named by a percent-encoded path segment (`/` as `%2F`), checked as every room is (INVALID_ROOM). */
export function roomFromPath(text: string, limits: Limits): string {
  return roomName(pathSegment(text, 'room'), limits);
}

/** Reads a body of at most `max` bytes as UTF-8; past that the request is refused with 413. */
export function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    req.resume(); // drain, so the 413 can be read by the caller
    return Promise.reject(new ServiceError('PAYLOAD_TOO_LARGE', `body exceeds ${max} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        req.removeAllListeners('data');
        req.resume();
        reject(new ServiceError('PAYLOAD_TOO_LARGE', `body exceeds ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}
