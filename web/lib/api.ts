import { hc, type ClientResponse } from 'hono/client';
import type { AppType } from '../../server/app.ts';

/** The typed API client: every type comes from the server's routes. */
export const api = hc<AppType>('/').api;

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
