// The one place errors become HTTP responses: { error, message, field }. Schema failures
// name the offending field (`body.origins[0].address`), as config errors do.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CirrusError, StoreUnavailableError } from '../lib/errors.js';
import { describeError } from '../config/validate.js';
import type { ErrorObject } from 'ajv';

export interface ErrorBody {
  error: string;
  message: string;
  field?: string;
}

export function errorHandler(
  err: FastifyError | CirrusError | Error,
  req: FastifyRequest,
  reply: FastifyReply,
): void {
  if (err instanceof CirrusError) {
    const body: ErrorBody = {
      error: err.code,
      message: err.message,
      ...(err.field ? { field: err.field } : {}),
    };
    if (err instanceof StoreUnavailableError) {
      req.log.warn({ reason: err.message }, 'store unavailable');
      void reply.header('retry-after', String(err.retryAfterSec));
    } else if (err.status >= 500) req.log.error({ err }, 'request failed');
    void reply.status(err.status).send(body);
    return;
  }
  const fe = err as FastifyError;
  if (fe.validation && fe.validation.length > 0) {
    const where = fe.validationContext ?? 'body';
    const d = describeError(fe.validation[0] as ErrorObject);
    // An item of a root array is named body[1].id (not body.[1].id).
    const dot = d.field.startsWith('[') ? '' : '.';
    const field = d.field === '(root)' ? where : `${where}${dot}${d.field}`;
    const message =
      d.field === '(root)'
        ? `${where} ${d.message.replace(/^\(root\) /, '')}`
        : `${where}${dot}${d.message}`;
    void reply.status(400).send({ error: 'VALIDATION', message, field } satisfies ErrorBody);
    return;
  }
  const status = fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
  if (status >= 500) req.log.error({ err }, 'request failed');
  void reply.status(status).send({
    error: status >= 500 ? 'INTERNAL' : 'BAD_REQUEST',
    message: status >= 500 ? 'internal error' : fe.message,
  } satisfies ErrorBody);
}

export const ErrorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
  required: ['error', 'message'],
} as const;
