/** NotifyError: every failed call of the SDK rejects with one, carrying the service's code. */
import { asErrorCode, isTemporary, type NotifyErrorCode } from './codes.js';

export class NotifyError extends Error {
  readonly code: NotifyErrorCode;
  /** Whether the same call may succeed if tried again later. */
  readonly temporary: boolean;
  /** Facts sent with some codes (STORE_FAILED: `{offset, recipients}` of the delivered message). */
  readonly details: Record<string, unknown> | undefined;
  /** The HTTP status, for errors of the HTTP API. */
  readonly status: number | undefined;

  constructor(code: NotifyErrorCode, message: string, details?: Record<string, unknown>, status?: number) {
    super(message);
    this.name = 'NotifyError';
    this.code = code;
    this.details = details;
    this.status = status;
    this.temporary = isTemporary(code, details);
  }
}

/** `{code, message, details?}` as the service sends it (ack, ERROR event, error frame, HTTP body). */
export function errorFromBody(body: unknown, status?: number): NotifyError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { code?: unknown; message?: unknown; details?: unknown };
  const code = asErrorCode(b.code);
  const message = typeof b.message === 'string' ? b.message : `refused: ${String(b.code)}`;
  const details = typeof b.details === 'object' && b.details !== null ? (b.details as Record<string, unknown>) : undefined;
  return new NotifyError(code, message, details, status);
}
