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

/**
 * A database refusal, in our words: the constraint it names says what was wrong, and the value
 * comes from the driver's `detail` ("Key (code)=(530303-001) already exists."). The database's own
 * text never reaches the caller.
 */
export interface DbError {
  code?: unknown;
  constraint?: unknown;
  detail?: unknown;
  column?: unknown;
}
const keyValue = (detail: unknown) => (typeof detail === 'string' ? /\)=\((.*)\) /.exec(detail)?.[1] : undefined);

const CONSTRAINTS: Record<string, (value: string | undefined) => InputError> = {
  region_code_key: (v) => new InputError('duplicate_code', `a region with code ${v ?? 'this code'} already exists`, 'code', 409, { code: v }),
  app_user_username_key: (v) => new InputError('duplicate_username', `an account named ${v ?? 'so'} already exists`, 'username', 409, { username: v }),
  department_code_key: (v) => new InputError('duplicate_code', `a department with code ${v ?? 'this code'} already exists`, 'code', 409, { code: v }),
};

/** Our error for a database refusal, or null when it is not one the caller caused. */
export function fromDatabase(err: DbError): InputError | null {
  const code = typeof err.code === 'string' ? err.code : '';
  const known = typeof err.constraint === 'string' ? CONSTRAINTS[err.constraint] : undefined;
  if (known) return known(keyValue(err.detail));
  if (code === '23505') return new InputError('conflict', 'this would duplicate something that must be unique', '', 409);
  if (code === '23503') return new InputError('conflict', 'this refers to something that does not exist or is still in use', '', 409);
  if (code === '23514' || code === '23502')
    return new InputError('constraint_violated', 'a value is outside what is allowed here', typeof err.column === 'string' ? err.column : '', 422);
  if (code === 'XX000')
    return new InputError('geometry_error', 'the geometry could not be processed; check it for self-intersections and tiny slivers', 'geometry', 422);
  if (code === '57014') return new InputError('too_slow', 'this took longer than the server allows for one request; try a smaller area or file', '', 422);
  return null;
}

/** The single place where errors become statuses; never leaks a stack trace. */
export function onError(err: Error, c: Context) {
  const send = (status: ContentfulStatusCode, code: string, message: string, path = '', details?: unknown) =>
    c.json<ErrorBody>({ error: { code, message, path, ...(details === undefined ? {} : { details }) } }, status);
  if (err instanceof InputError) return send(err.status, err.code, err.message, err.path, err.details);
  if (err instanceof HTTPException) {
    if (err.status === 413) return send(413, 'payload_too_large', err.message || 'request body is too large', 'body');
    if (err.status === 415)
      return send(415, 'unsupported_media_type', `unsupported content-type ${JSON.stringify(c.req.header('content-type') ?? '')}`, 'content-type');
    if (/json/i.test(err.message)) return send(400, 'invalid_json', 'request body is not valid JSON', 'body');
    return send(err.status, 'bad_request', err.message, '');
  }
  const known = fromDatabase(err as DbError);
  if (known) return send(known.status, known.code, known.message, known.path, known.details);
  console.error(err);
  return send(500, 'internal', 'internal error; the request was not applied');
}
