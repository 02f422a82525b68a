import { hc, type ClientResponse } from 'hono/client';
import type { AppType } from '../../server/app.ts';
import { router } from './router.svelte.ts';

/**
 * The draft the plan view works on (null: the live plan). Requests to the routes that take a draft
 * carry `draft=ID`, so every panel of the plan view — map layers, editor, auto-split, coverage,
 * undo, the change log — reads and writes the draft without knowing it. The server keeps the same
 * list (server/http/draft.ts) and refuses a draft anywhere else.
 */
const DRAFT_ROUTES: [string, RegExp][] = [
  ['GET', /^\/api\/regions\/\d+(\/(children|parts|descendants|coverage|households|rules|export|print))?$/],
  ['POST', /^\/api\/regions(\/merge|\/\d+\/(split|autosplit|fit))?$/],
  ['PATCH', /^\/api\/regions\/\d+$/],
  ['DELETE', /^\/api\/regions\/\d+$/],
  ['POST', /^\/api\/changes\/(undo|redo)$/],
  ['GET', /^\/api\/(operations|changes|workers)$/],
];

/** A URL with the draft on it, when there is one and the route takes it. */
export function withDraft(url: string, method = 'GET'): string {
  const draftId = router.view === 'plan' ? router.draftId : null;
  if (draftId === null) return url;
  const u = new URL(url, location.origin);
  if (!DRAFT_ROUTES.some(([m, path]) => m === method.toUpperCase() && path.test(u.pathname))) return url;
  u.searchParams.set('draft', String(draftId));
  return u.pathname + u.search;
}

const draftFetch: typeof fetch = async (input, init) => {
  if (typeof input !== 'string' && !(input instanceof URL)) return fetch(input, init);
  const url = input instanceof URL ? input.href : input;
  // (a draft the address names is read first: if its copy has gone meanwhile, this asks the live plan instead)
  if (withDraft(url, init?.method) !== url) await router.draftReady();
  return fetch(withDraft(url, init?.method), init);
};

/** The typed API client: every type comes from the server's routes. */
export const api = hc<AppType>('/', { fetch: draftFetch }).api;

let unauthorized = () => {};
/** Called when a request comes back 401 (the session ended). */
export function onUnauthorized(fn: () => void): void {
  unauthorized = fn;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

type Success<R> = R extends ClientResponse<infer T, infer S, infer _F> ? (S extends 200 | 201 ? T : never) : never;

/** Unwraps a typed response: its success body, else an ApiError carrying the server's `{error:{code,message,path}}`. */
export async function ok<R extends ClientResponse<unknown, number, string>>(response: Promise<R>): Promise<Success<R>> {
  const res = await response;
  const body = (await res.json()) as { error?: { code: string; message: string; path: string; details?: unknown } };
  if (!res.ok) {
    if (res.status === 401) unauthorized();
    const e = body.error ?? { code: 'http_error', message: `HTTP ${res.status}`, path: '' };
    throw new ApiError(res.status, e.code, e.message, e.path, 'details' in e ? e.details : undefined);
  }
  return body as Success<R>;
}

/** A whole-list setting (the staffing model, the approval steps) with its version, the `ETag` to send back as `If-Match`. */
export async function okTagged<R extends ClientResponse<unknown, number, string>>(response: Promise<R>): Promise<{ body: Success<R>; tag: string }> {
  const res = await response;
  const tag = res.headers.get('etag') ?? '*';
  return { body: await ok(Promise.resolve(res)), tag };
}
