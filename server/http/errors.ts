import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { InputError } from '../domain/errors.ts';

export interface ErrorBody {
  error: { code: string; message: string; path: string; details?: unknown };
}

type Issue = ZodError['issues'][number];
const KINDS: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
};
const UNITS: Record<string, string> = { string: 'characters', array: 'items', set: 'items', file: 'bytes' };
/** Zod's own English (as opposed to a message our schemas give): replaced by ours, which names no library. */
const ZOD_DEFAULT = /^(Invalid input|Invalid option|Invalid string|Invalid|Too small|Too big|Unrecognized key|Expected|Number must|String must)/;

/** What was wrong with one field, in plain words of ours. */
function describeIssue(issue: Issue | undefined): string {
  if (!issue) return 'is not valid';
  if (!ZOD_DEFAULT.test(issue.message)) return issue.message;
  const i = issue as Issue & { expected?: string; input?: unknown; minimum?: number | bigint; maximum?: number | bigint; origin?: string; values?: unknown[] };
  switch (issue.code) {
    case 'invalid_type':
      // (zod 4 keeps no input on its issues: what it received is in its own message)
      return /received undefined$/.test(issue.message) ? 'is required' : `must be ${KINDS[String(i.expected)] ?? String(i.expected)}`;
    case 'too_small':
      if (i.origin && UNITS[i.origin]) return `needs at least ${String(i.minimum)} ${UNITS[i.origin]}`;
      return (issue as { inclusive?: boolean }).inclusive === false ? `must be more than ${String(i.minimum)}` : `must be at least ${String(i.minimum)}`;
    case 'too_big':
      if (i.origin && UNITS[i.origin]) return `takes at most ${String(i.maximum)} ${UNITS[i.origin]}`;
      return (issue as { inclusive?: boolean }).inclusive === false ? `must be less than ${String(i.maximum)}` : `must be at most ${String(i.maximum)}`;
    case 'invalid_value':
      return `must be one of ${(i.values ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return 'has fields this request does not take';
    case 'invalid_format':
      return 'is not in the expected form';
    default:
      return 'is not valid';
  }
}

/**
 * Zod's first issue as an `InputError` naming the field, e.g. `body.features.type`, in our words
 * (the library's own messages and issue objects never reach the caller); `details.field` is the
 * field's own name, for the page to put in the reader's words.
 */
export function fromZod(error: ZodError, target: string): InputError {
  // (a field's own bound before zod's safe-integer one, which it adds to every integer: "at most 2147483647", not 2⁵³−1)
  const safe = (x: Issue) =>
    (x.code === 'too_big' || x.code === 'too_small') &&
    Math.abs(Number((x as { maximum?: number; minimum?: number }).maximum ?? (x as { minimum?: number }).minimum)) === Number.MAX_SAFE_INTEGER;
  const issue = error.issues.find((x) => !safe(x)) ?? error.issues[0];
  const parts = [target, ...(issue?.path ?? [])].map(String);
  const path = parts.join('.');
  const field = parts.filter((p) => !/^\d+$/.test(p)).pop() ?? target;
  return new InputError('invalid_request', `${path} ${describeIssue(issue)}`, path, { field });
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
  region_code_key: (v) => new InputError('duplicate_code', `a region with code ${v ?? 'this code'} already exists`, 'code', { code: v }),
  app_user_username_key: (v) => new InputError('duplicate_username', `an account named ${v ?? 'so'} already exists`, 'username', { username: v }),
  department_code_key: (v) => new InputError('duplicate_code', `a department with code ${v ?? 'this code'} already exists`, 'code', { code: v }),
};

/** Our error for a database refusal, or null when it is not one the caller caused. */
export function fromDatabase(err: DbError): InputError | null {
  const code = typeof err.code === 'string' ? err.code : '';
  const known = typeof err.constraint === 'string' ? CONSTRAINTS[err.constraint] : undefined;
  if (known) return known(keyValue(err.detail));
  if (code === '23505') return new InputError('conflict', 'this would duplicate something that must be unique', '');
  if (code === '23503') return new InputError('conflict', 'this refers to something that does not exist or is still in use', '');
  if (code === '23514' || code === '23502')
    return new InputError('constraint_violated', 'a value is outside what is allowed here', typeof err.column === 'string' ? err.column : '');
  if (code === 'XX000')
    return new InputError('geometry_error', 'the geometry could not be processed; check it for self-intersections and tiny slivers', 'geometry');
  if (code === '22021')
    return new InputError('invalid_text', 'the text holds a character that cannot be stored (a NUL byte)', typeof err.column === 'string' ? err.column : '');
  if (code === '57014') return new InputError('too_slow', 'this took longer than the server allows for one request; try a smaller area or file', '');
  return null;
}

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429;

/** Each error code's status; every other code is 422 (the request was understood, its content refused). */
const STATUS: Record<string, ErrorStatus> = {
  // the request itself is malformed
  empty_body: 400,
  grid_required: 400,
  invalid_bbox: 400,
  invalid_tile: 400,
  range_required: 400,
  invalid_json: 400,
  duplicate_key: 400,
  invalid_request: 400,
  invalid_time: 400,
  invalid_date: 400,
  invalid_text: 400,
  empty_file: 400,
  invalid_file_name: 400,
  too_deep: 400,
  unknown_value: 400,
  // who is asking
  invalid_api_key: 401,
  invalid_credentials: 401,
  invalid_token: 401,
  unauthenticated: 401,
  cross_site_request: 403,
  forbidden: 403,
  not_author: 403,
  outside_scope: 403,
  not_found: 404,
  // the data changed, or would clash with what is there
  conflict: 409,
  duplicate_code: 409,
  duplicate_name: 409,
  duplicate_username: 409,
  nothing_to_redo: 409,
  nothing_to_undo: 409,
  not_latest: 409,
  username_taken: 409,
  version_conflict: 409,
  draft_conflict: 409,
  draft_state: 409,
  draft_locked: 409,
  draft_region_gone: 409,
  draft_not_here: 400,
  invalid_draft: 400,
  geometry_too_large: 413,
  payload_too_large: 413,
  too_large: 413,
  too_many_rows: 413,
  zip_too_large: 413,
  too_many_barriers: 413,
  not_an_image: 415,
  unknown_format: 415,
  old_excel: 415,
  unknown_zip: 415,
  shapefile_not_zipped: 415,
  unsupported_media_type: 415,
  too_many_attempts: 429,
  too_many_streams: 429,
  too_many_exports: 429,
  too_many_splits: 429,
  too_many_assessments: 429,
  too_many_requests: 429,
  too_many_grids: 413,
  too_many_uploads: 429,
  last_admin: 409,
  account_disabled: 403,
  city_rules: 422,
};

/** The status an error code answers with. */
export const statusOf = (code: string): ErrorStatus => STATUS[code] ?? 422;

/** The single place where errors become statuses; never leaks a stack trace. */
export function onError(err: Error, c: Context) {
  const send = (status: ContentfulStatusCode, code: string, message: string, path = '', details?: unknown) =>
    c.json<ErrorBody>({ error: { code, message, path, ...(details === undefined ? {} : { details }) } }, status);
  if (err instanceof InputError) return send(statusOf(err.code), err.code, err.message, err.path, err.details);
  if (err instanceof HTTPException) {
    if (err.status === 413) return send(413, 'payload_too_large', err.message || 'request body is too large', 'body');
    if (err.status === 415)
      return send(415, 'unsupported_media_type', `unsupported content-type ${JSON.stringify(c.req.header('content-type') ?? '')}`, 'content-type');
    if (/json/i.test(err.message)) return send(400, 'invalid_json', 'request body is not valid JSON', 'body');
    return send(err.status, 'bad_request', err.message, '');
  }
  const known = fromDatabase(err as DbError);
  if (known) return send(statusOf(known.code), known.code, known.message, known.path, known.details);
  // One line a support desk can find from what the user was shown (the reference), then the error itself.
  const reference = randomUUID().slice(0, 8);
  const who = (c.get('principal' as never) as { username?: string } | null | undefined)?.username ?? '-';
  console.error(`${new Date().toISOString()} 500 ref=${reference} ${c.req.method} ${c.req.path} user=${who}`);
  console.error(err);
  return send(500, 'internal', `internal error; the request was not applied (reference ${reference})`, '', { reference });
}
