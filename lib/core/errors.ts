/**
 * The error catalog. Every refusal a client or an HTTP caller can see has a stable code from this
 * list; the message is for humans and may change. Anything not in the catalog reaches clients as
 * INTERNAL_ERROR with a generic message, so stack traces and internals never leak.
 */
export const ErrorCodes = {
  INVALID_JSON: { status: 400, message: 'payload is not valid JSON' },
  INVALID_PAYLOAD: { status: 400, message: 'payload has the wrong shape' },
  INVALID_ROOM: { status: 400, message: 'room must be a non-empty string of at most 256 characters' },
  INVALID_NAME: { status: 400, message: 'name must be a non-empty string of at most 256 characters' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'payload exceeds the size limit' },
  TOO_MANY_ROOMS: { status: 400, message: 'too many rooms joined by this connection' },
  UNKNOWN_EVENT: { status: 400, message: 'unknown event for this namespace' },
  BAD_REQUEST: { status: 400, message: 'the frame is not a valid request' },
  NOT_IN_LOBBY: { status: 409, message: 'this connection is not in a lobby' },
  ALREADY_IN_LOBBY: { status: 409, message: 'this connection is already in another lobby' },
  PEER_NOT_FOUND: { status: 404, message: 'no such peer in this lobby' },
  NOT_SUBSCRIBED: { status: 409, message: 'this connection has not subscribed to the channel or topic' },
  UNAUTHORIZED: { status: 401, message: 'missing, invalid or expired credentials' },
  FORBIDDEN: { status: 403, message: 'not allowed' },
  TOKEN_EXPIRED: { status: 401, message: 'the token has expired: send REFRESH {token}' },
  DISCONNECTED_BY_SERVER: { status: 409, message: 'disconnected by the server' },
  RATE_LIMITED: { status: 429, message: 'too many requests: slow down' },
  NOT_FOUND: { status: 404, message: 'no such route' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this route' },
  SHUTTING_DOWN: { status: 503, message: 'the service is shutting down' },
  NOT_READY: { status: 503, message: 'the service cannot serve the whole cluster right now' },
  STORE_FAILED: { status: 500, message: 'the message was delivered but could not be stored' },
  INTERNAL_ERROR: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

/** What a client receives: in an ack as `{ok: false, error}`, in an ERROR event, or as an HTTP body. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Facts the caller may act on (STORE_FAILED: the `offset` and `recipients` of the delivered message). */
  details?: Record<string, unknown>;
}

export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string = ErrorCodes[code].message, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.details = details;
  }

  toJSON(): ErrorBody {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

/** Maps anything thrown to what may be shown to a client. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof ServiceError) return err.toJSON();
  if (err instanceof RangeError) {
    // JSON.stringify / the socket.io encoder recurse: a pathologically nested payload ends here.
    return { code: 'INVALID_PAYLOAD', message: 'payload is nested too deeply' };
  }
  return { code: 'INTERNAL_ERROR', message: ErrorCodes.INTERNAL_ERROR.message };
}

/** A bad value in the configuration; the CLI prints its message and exits with code 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * An installed dependency is not what the service was written for (lib/transport/internals.ts):
 * the start stops with this message, which names the package, its version and what is missing.
 */
export class DependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyError';
  }
}
