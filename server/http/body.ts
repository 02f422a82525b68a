import type { Context, MiddlewareHandler } from 'hono';
import { InputError } from '../domain/errors.ts';
import { routeKey } from './auth.ts';
import type { Env } from './router.ts';

/** How big and how deeply nested a JSON body may be. */
export interface BodyLimit {
  maxBytes: number;
  maxDepth: number;
}

/**
 * Deepest nesting of any JSON body we take: a GeoJSON MultiPolygon inside a FeatureCollection
 * inside a request object is 9 levels deep; nothing of ours goes further.
 */
export const MAX_JSON_DEPTH = 16;

/** Reads at most `maxBytes` of a body, refusing (413) as soon as it grows past them; the rest is never read. */
export async function readLimited(stream: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export const tooLarge = (limit: number) =>
  new InputError('payload_too_large', `the request body is larger than the ${formatBytes(limit)} this request may send`, 'body', { limit });

const formatBytes = (n: number) => (n >= 1024 * 1024 ? `${+(n / 1024 / 1024).toFixed(1)} MB` : n >= 1024 ? `${+(n / 1024).toFixed(1)} KB` : `${n} bytes`);

/**
 * The deepest nesting of arrays and objects in JSON text, counted on the bytes before anything is
 * parsed; stops at the first level past `limit`. Brackets inside strings do not count.
 */
export function jsonDepthExceeds(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > limit) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
}

/**
 * Where JSON text names one key twice in an object, or null. `{"role":"worker","role":"admin"}` is
 * valid JSON that parsers read differently (ours takes the last, others the first): a body that says
 * two things is refused rather than read as one of them. Keys are compared decoded (`"\u0061"` is
 * `"a"`); brackets and commas inside strings do not count. Text that is no JSON gives null (the
 * parse says what is wrong with it).
 */
export function duplicateKeyPath(text: string, root = 'body'): string | null {
  type Frame = { object: true; keys: Set<string>; key: string | null } | { object: false; index: number };
  const stack: Frame[] = [];
  let expectKey = false;
  const path = () => stack.reduce((p, f) => (f.object ? (f.key === null ? p : `${p}.${f.key}`) : `${p}[${f.index}]`), root);
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = stack.at(-1);
      if (expectKey && top?.object) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          return null;
        }
        const twice = top.keys.has(key);
        top.key = key;
        if (twice) return path();
        top.keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (ch === 0x7b) {
      stack.push({ object: true, keys: new Set(), key: null });
      expectKey = true;
    } else if (ch === 0x5b) stack.push({ object: false, index: 0 });
    else if (ch === 0x7d || ch === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (ch === 0x2c) {
      const top = stack.at(-1);
      if (top?.object) expectKey = true;
      else if (top) top.index++;
    }
  }
  return null;
}

/**
 * Checks JSON text for its nesting, then parses it: 400 `too_deep` or `invalid_json`; and what every JSON body is held to
 * (a key given twice, half a character, a direction control: `checkJsonText`).
 */
export function parseJsonBytes(bytes: Uint8Array, maxDepth: number, path = 'body'): unknown {
  if (jsonDepthExceeds(bytes, maxDepth)) {
    throw new InputError('too_deep', `the JSON is nested more than ${maxDepth} levels deep`, path, { maxDepth });
  }
  const text = decodeUtf8(bytes, path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InputError('invalid_json', 'the request body is not valid JSON', path);
  }
  checkJsonText(text, path);
  return value;
}

/**
 * What every JSON body is held to, whichever way it comes in (a route's body, a GeoJSON file sent to an import): no key
 * given twice in one object, no half characters, no controls that turn the text's direction. 400 with where it is.
 */
export function checkJsonText(text: string, path = 'body'): void {
  const twice = duplicateKeyPath(text, path);
  if (twice !== null) throw new InputError('duplicate_key', `${twice} is given twice; say each thing once`, twice);
  // Text with half a character (a lone UTF-16 surrogate, only writable as a \uD800 escape) cannot be
  // stored: refused here for every route, rather than failing deep in a write.
  if (/\\u[dD][89a-fA-F]/.test(text)) {
    const bad = illFormedPath(safeParse(text), path);
    if (bad !== null) throw new InputError('invalid_text', 'the text holds half a character (a lone surrogate); send whole characters', bad);
  }
  // Nor control characters (a bell, an escape that recolours a terminal reading the log, a NUL that cannot be stored): only
  // tabs and line breaks are text. In JSON they can only come escaped (\u0007).
  if (/\\u00[01][0-9a-fA-F]|\\u007[fF]/.test(text)) {
    const bad = illFormedPath(safeParse(text), path, (v) => CONTROL.test(v));
    if (bad !== null)
      throw new InputError('invalid_text', 'the text holds a control character (U+0000–U+001F, other than tabs and line breaks); remove it', bad);
  }
  // Nor text with the invisible controls that turn its direction (U+202A–U+202E, U+2066–U+2069): no
  // Chinese or English name needs them, and they make a name read differently from what it is.
  if (BIDI.test(text) || /\\u20(2[a-eA-E]|6[6-9])/.test(text)) {
    const bad = illFormedPath(safeParse(text), path, (v) => BIDI.test(v));
    if (bad !== null) {
      throw new InputError('invalid_text', 'the text holds an invisible control that turns its direction (U+202E and the like); remove it', bad);
    }
  }
}

/**
 * JSON is UTF-8: bytes that are not (a GBK name pasted as bytes, a cut-off character) are refused with where they are,
 * not stored as U+FFFD in their place. 400 `invalid_text`.
 */
export function decodeUtf8(bytes: Uint8Array, path = 'body'): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const text = new TextDecoder().decode(bytes);
    const where = illFormedPath(safeParse(text), path, (v) => v.includes('\uFFFD')) ?? path;
    throw new InputError('invalid_text', 'the text is not UTF-8 (some bytes are no character); send it as UTF-8', where);
  }
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * GeoJSON sent to a route that reads its own body (the household and incident imports): its bytes held to UTF-8 before
 * the route's validator reads them as text (which would put U+FFFD in place of what is not). After the route's size limit.
 */
export const utf8GeoJson: MiddlewareHandler<Env> = async (c, next) => {
  if (WRITES.has(c.req.method) && isJson(c)) decodeUtf8(new Uint8Array(await c.req.arrayBuffer()));
  await next();
};

/**
 * JSON bodies, read before any handler sees them: at most the route's `maxBytes` (the rest is
 * never read), nesting checked on the bytes before anything is parsed. The text is then left in
 * Hono's body cache, so validators parse it as usual. Routes that stream their own bodies (file
 * uploads, photos) are given `null` and read theirs with their own limit.
 */
export function jsonBodies(limitOf: (key: string | null) => BodyLimit | null): MiddlewareHandler<Env> {
  return async (c, next) => {
    if (!WRITES.has(c.req.method)) return next();
    const limit = limitOf(routeKey(c));
    if (limit === null) return next();
    const declared = Number(c.req.header('content-length'));
    // Refused for its size: the connection closes after the answer, so the rest is never read.
    if (Number.isFinite(declared) && declared > limit.maxBytes) {
      c.header('connection', 'close');
      throw tooLarge(limit.maxBytes);
    }
    const bytes = await readLimited(c.req.raw.body, limit.maxBytes).catch((err: unknown) => {
      c.header('connection', 'close');
      throw err;
    });
    if (bytes.byteLength > 0 && isJson(c) && jsonDepthExceeds(bytes, limit.maxDepth)) {
      throw new InputError('too_deep', `the JSON is nested more than ${limit.maxDepth} levels deep`, 'body', { maxDepth: limit.maxDepth });
    }
    const text = isJson(c) ? decodeUtf8(bytes) : new TextDecoder().decode(bytes);
    if (isJson(c)) checkJsonText(text);
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
    await next();
  };
}

const safeParse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return null; // the validator says what is wrong with it
  }
};

const BIDI = /[\u202A-\u202E\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const notWellFormed = (v: string) => !v.isWellFormed();

/** Where in a parsed JSON value a string (or a key) is not well-formed UTF-16 (or fails `bad`), or null. */
export function illFormedPath(value: unknown, path: string, bad: (v: string) => boolean = notWellFormed): string | null {
  if (typeof value === 'string') return bad(value) ? path : null;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = illFormedPath(v, `${path}.${i}`, bad);
      if (found !== null) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (bad(k)) return path;
      const found = illFormedPath(v, `${path}.${k}`, bad);
      if (found !== null) return found;
    }
  }
  return null;
}

const isJson = (c: Context) => /^application\/([\w.-]+\+)?json\b/i.test(c.req.header('content-type') ?? '');
