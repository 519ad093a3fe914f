/** The `notify` CLI's exit codes (documented in README.md, "Command-line client"), by failure. */
import { NotifyError } from '../client/src/errors.js';

export const EXIT = {
  /** done */
  OK: 0,
  /** an unexpected failure (INTERNAL_ERROR, a bug) */
  FAILURE: 1,
  /** bad arguments or input: nothing was sent */
  USAGE: 2,
  /** the service could not be reached, or did not answer in time */
  UNREACHABLE: 3,
  /** credentials missing, wrong or expired, or no right on the room (UNAUTHORIZED, FORBIDDEN, TOKEN_EXPIRED) */
  NOT_ALLOWED: 4,
  /** the service refused the request (any other code: INVALID_*, NOT_FOUND, RATE_LIMITED, ...) */
  REFUSED: 5,
  /** `sub --timeout`: fewer messages than `--count` arrived in time */
  TIMEOUT: 6,
} as const;

/** A mistake in the arguments or input, found before anything was sent. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (!(err instanceof NotifyError)) return EXIT.FAILURE;
  switch (err.code) {
    case 'CONNECTION_FAILED':
    case 'TIMEOUT':
      return EXIT.UNREACHABLE;
    case 'UNAUTHORIZED':
    case 'FORBIDDEN':
    case 'TOKEN_EXPIRED':
      return EXIT.NOT_ALLOWED;
    case 'INTERNAL_ERROR':
      return EXIT.FAILURE;
    default:
      return EXIT.REFUSED;
  }
}
