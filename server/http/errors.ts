import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { InputError } from '../domain/errors.ts';

export interface ErrorBody {
  error: { code: string; message: string; path: string; details?: unknown };
}

/** Zod's first issue as an `InputError` naming the field, e.g. `body.features.type`. */
export function fromZod(error: ZodError, target: string): InputError {
  const issue = error.issues[0];
  const path = [target, ...(issue?.path ?? [])].map(String).join('.');
  return new InputError('invalid_request', `${path}: ${issue?.message ?? 'invalid value'}`, path, 400, error.issues.slice(0, 10));
}

// PostgreSQL error classes we can explain to the caller.
const PG_ERRORS: Record<string, { status: ContentfulStatusCode; code: string }> = {
  '23505': { status: 409, code: 'conflict' },
  '23503': { status: 409, code: 'conflict' },
  '23514': { status: 422, code: 'constraint_violated' },
  XX000: { status: 422, code: 'geometry_error' },
};

/** The single place where errors become statuses; never leaks a stack trace. */
export function onError(err: Error, c: Context) {
  const send = (status: ContentfulStatusCode, code: string, message: string, path = '', details?: unknown) =>
    c.json<ErrorBody>({ error: { code, message, path, ...(details === undefined ? {} : { details }) } }, status);
  if (err instanceof InputError) return send(err.status, err.code, err.message, err.path, err.details);
  if (err instanceof HTTPException) {
    if (err.status === 413) return send(413, 'payload_too_large', err.message || 'request body is too large', 'body');
    if (err.status === 403) return send(403, 'cross_site_request', 'a form on another site may not post here', 'origin');
    if (err.status === 415) return send(415, 'unsupported_media_type', `unsupported content-type ${JSON.stringify(c.req.header('content-type') ?? '')}`, 'content-type');
    if (/json/i.test(err.message)) return send(400, 'invalid_json', 'request body is not valid JSON', 'body');
    return send(err.status, 'bad_request', err.message, '');
  }
  const pgCode = (err as { code?: unknown }).code;
  const known = typeof pgCode === 'string' ? PG_ERRORS[pgCode] : undefined;
  if (known) return send(known.status, known.code, err.message, (err as { column?: string }).column ?? '');
  console.error(err);
  return send(500, 'internal', 'internal error; the request was not applied');
}
