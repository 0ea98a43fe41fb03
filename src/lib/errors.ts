// One small error hierarchy with stable codes. The API maps `status` to HTTP and the
// DNS pipeline maps anything it did not expect to SERVFAIL; nothing else inspects errors.

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAUTHORIZED'
  | 'STORE'
  | 'STORE_UNAVAILABLE'
  | 'ZONE_INVALID'
  | 'SNAPSHOT_BUILD'
  | 'BLAST_RADIUS';

export class CirrusError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** JSON path of the offending field, when the error is about one field. */
  readonly field: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { status?: number; field?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.field = options.field;
  }
}

export class ConfigError extends CirrusError {
  constructor(message: string, field?: string, cause?: unknown) {
    super('CONFIG_INVALID', message, {
      status: 400,
      ...(field === undefined ? {} : { field }),
      cause,
    });
  }
}

export class ValidationError extends CirrusError {
  constructor(message: string, field?: string) {
    super('VALIDATION', message, { status: 400, ...(field === undefined ? {} : { field }) });
  }
}

export class NotFoundError extends CirrusError {
  constructor(message: string) {
    super('NOT_FOUND', message, { status: 404 });
  }
}

export class ConflictError extends CirrusError {
  constructor(message: string, field?: string) {
    super('CONFLICT', message, { status: 409, ...(field === undefined ? {} : { field }) });
  }
}

export class UnauthorizedError extends CirrusError {
  constructor(message: string) {
    super('UNAUTHORIZED', message, { status: 401 });
  }
}

export class ZoneError extends CirrusError {
  constructor(message: string, cause?: unknown) {
    super('ZONE_INVALID', message, { status: 400, cause });
  }
}

/**
 * The store is unreachable: nothing of the request was applied. HTTP 503 with Retry-After
 * (`retryAfterSec`); the message is the store's own reason.
 */
export class StoreUnavailableError extends CirrusError {
  readonly retryAfterSec: number;

  constructor(message: string, retryAfterSec: number, cause?: unknown) {
    super('STORE_UNAVAILABLE', message, { status: 503, cause });
    this.retryAfterSec = retryAfterSec;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
