/**
 * One error type for the whole service. `code` decides the HTTP status and CLI exit code
 * (see http/error-handler and cli); `message` is safe to show a user; `field` names the
 * input at fault when there is one.
 */
export type ErrorCode =
  | 'bad_request'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'range_not_satisfiable'
  | 'unavailable'
  | 'internal';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, field?: string): AppError => new AppError('bad_request', message, field);
export const notFound = (message: string): AppError => new AppError('not_found', message);
export const conflict = (message: string): AppError => new AppError('conflict', message);

/** The reference's text when the volume cannot hold a cart. */
export const NO_SPACE_MESSAGE = 'No Space Available';

/** Thrown by the volume when a reservation cannot fit even after eviction. */
export class NoSpaceError extends Error {
  constructor(readonly needed: number, readonly available: number) {
    super(NO_SPACE_MESSAGE);
    this.name = 'NoSpaceError';
  }
}

/**
 * A transfer from the archive went wrong. `retryable` faults (5xx, reset, timeout, short
 * or wrong bytes) are tried again with backoff; the others (404) fail the file at once.
 */
export class TransferError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'TransferError';
  }
}

/** The work was cancelled (cart deleted, process stopping): not a fault, never counted as a try. */
export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}
