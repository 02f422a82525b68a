import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { checkLogin, closeSession, openSession, screenTokenId, SESSION_COOKIE, sessionPrincipal } from '../db/accounts.ts';
import { recordChange } from '../db/regions.ts';
import { InputError } from '../domain/errors.ts';
import { ROLES } from '../domain/roles.ts';
import { principalOf } from '../http/auth.ts';
import { Throttle } from '../http/throttle.ts';
import { router } from '../http/router.ts';
import { errorResponses } from './schemas.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

export const Me = z
  .object({
    kind: z.enum(['user', 'screen']),
    id: z.number().int(),
    username: z.string(),
    displayName: z.string(),
    role: z.enum([...ROLES, 'screen']),
    regionId: z.number().int().nullable(),
    workerId: z.number().int().nullable(),
    departmentId: z.number().int().nullable(),
    gridIds: z.array(z.number().int()),
  })
  .openapi('Me');

const loginRoute = createRoute({
  method: 'post',
  path: '/auth/login',
  summary: 'Sign in: sets an HTTP-only session cookie',
  description: 'Ten failed attempts for one username from one address (a hundred from one address) in 15 minutes get 429 until the window passes.',
  request: { body: { required: true, ...json(z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) })) } },
  responses: { 200: { description: 'Signed in', ...json(Me) }, ...errorResponses(400, 401, 429) },
});
const screenRoute = createRoute({
  method: 'post',
  path: '/auth/screen',
  summary: 'Sign a wall display in with its read-only screen token',
  request: { body: { required: true, ...json(z.object({ token: z.string().min(10).max(100) })) } },
  responses: { 200: { description: 'Signed in', ...json(Me) }, ...errorResponses(400, 401, 429) },
});
const logoutRoute = createRoute({
  method: 'post',
  path: '/auth/logout',
  summary: 'Sign out: ends the session',
  responses: { 200: { description: 'Signed out', ...json(z.object({ ok: z.literal(true) })) } },
});
const meRoute = createRoute({
  method: 'get',
  path: '/auth/me',
  summary: 'The signed-in account (401 when none)',
  responses: { 200: { description: 'Who is signed in', ...json(Me) }, ...errorResponses(401) },
});

const sessionRoute = createRoute({
  method: 'get',
  path: '/auth/session',
  summary: 'Who is signed in, or null: what the web app asks first (200 either way, so a browser logs no error before sign-in)',
  responses: { 200: { description: 'The signed-in account, or null', ...json(z.object({ me: Me.nullable() })) } },
});

/** Secure whenever the browser keeps it: over HTTPS, and on localhost (a secure context). */
function secureRequest(c: Context): boolean {
  const url = new URL(c.req.url);
  const proto = c.req.header('x-forwarded-proto') ?? url.protocol.replace(':', '');
  return proto === 'https' || url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
}

function setSessionCookie(c: Context, token: string, expires: Date): void {
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: 'Lax', path: '/', secure: secureRequest(c), expires });
}

/** The peer's address (a proxy in front should set its own limits). */
function clientAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'local';
}

const tooMany = () => new InputError('too_many_attempts', 'too many failed sign-ins; wait 15 minutes and try again', '');

/** Failed sign-ins count per address and name (10) and per address (100) for 15 minutes; successful ones do not. */
const WINDOW_MS = 15 * 60_000;

export function authRoutes() {
  // Per address before the body is read (a blocked address costs nothing); per address and name
  // once the small, validated body names the account.
  const perAddress = new Throttle(100, WINDOW_MS);
  const perName = new Throttle(10, WINDOW_MS);
  const failed = (c: Context, username?: string) => {
    const address = clientAddress(c);
    // A lockout is logged when it starts, for the help desk ("I cannot sign in") and for an attack to be seen.
    const at = new Date().toISOString();
    if (perAddress.fail(address)) console.warn(`${at} sign-in locked for 15 min: ${address} (${perAddress.limit} failed sign-ins from it)`);
    if (username !== undefined && perName.fail(`${address}|${username.toLowerCase()}`)) {
      console.warn(`${at} sign-in locked for 15 min: ${JSON.stringify(username)} from ${address} (${perName.limit} failed sign-ins)`);
    }
  };
  const app = router();
  for (const path of ['/auth/login', '/auth/screen']) {
    app.use(path, async (c, next) => {
      if (perAddress.blocked(clientAddress(c))) throw tooMany();
      await next();
    });
  }
  return app
    .openapi(loginRoute, async (c) => {
      const { username, password } = c.req.valid('json');
      if (perName.blocked(`${clientAddress(c)}|${username.toLowerCase()}`)) throw tooMany();
      const db = c.get('db');
      const user = await checkLogin(db, username, password);
      if (!user) {
        failed(c, username);
        throw new InputError('invalid_credentials', 'wrong username or password', 'password');
      }
      // (said only to whoever knows the password: nobody learns from it which names exist)
      if (user === 'disabled') throw new InputError('account_disabled', 'this account is disabled: ask an administrator', 'username');
      const session = await db.transaction(async (tx) => {
        await recordChange(tx, { actor: user.username, action: 'login', entity: 'user', entityId: user.id, before: null, after: null });
        return openSession(tx, { userId: user.id });
      });
      setSessionCookie(c, session.token, session.expiresAt);
      return c.json((await sessionPrincipal(db, session.token))!, 200);
    })
    .openapi(screenRoute, async (c) => {
      const db = c.get('db');
      const id = await screenTokenId(db, c.req.valid('json').token);
      if (id === null) {
        failed(c);
        throw new InputError('invalid_token', 'unknown or revoked screen token', 'token');
      }
      const session = await db.transaction((tx) => openSession(tx, { screenTokenId: id }));
      setSessionCookie(c, session.token, session.expiresAt);
      return c.json((await sessionPrincipal(db, session.token))!, 200);
    })
    .openapi(logoutRoute, async (c) => {
      const token = getCookie(c, SESSION_COOKIE);
      if (token) await c.get('db').transaction((tx) => closeSession(tx, token));
      deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secureRequest(c) });
      return c.json({ ok: true as const }, 200);
    })
    .openapi(meRoute, (c) => c.json(principalOf(c), 200))
    .openapi(sessionRoute, (c) => c.json({ me: c.get('principal') ?? null }, 200));
}
