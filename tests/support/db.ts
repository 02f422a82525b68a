import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { createApp, type AppOptions } from '../../server/app.ts';
import { openDb, type Db } from '../../server/db/db.ts';
import { sessionCookie, type AccountSpec } from './auth.ts';
import { PG_TEMPLATE_DB, PGLITE_TEMPLATE, TEST_DATA, withDatabase } from './template.ts';

export type Driver = 'pglite' | 'pg';

/** The drivers to test: PGlite always, PostgreSQL when DATABASE_URL is set. */
export const DRIVERS: Driver[] = process.env.DATABASE_URL ? ['pglite', 'pg'] : ['pglite'];

let counter = 0;

/** A fresh copy of the seeded template database (PGlite in its own thread, as the server runs it), and a function that throws it away. */
export async function cloneTestDb(driver: Driver): Promise<{ db: Db; dispose(): Promise<void>; where: { dataDir?: string; databaseUrl?: string } }> {
  const name = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  if (driver === 'pglite') {
    const dir = join(TEST_DATA, name);
    await cp(PGLITE_TEMPLATE, dir, { recursive: true });
    // In its own thread, as `npm start` runs it.
    const db = await openDb({ dataDir: dir, thread: true });
    return {
      db,
      where: { dataDir: dir },
      dispose: async () => {
        await db.close().catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const url = process.env.DATABASE_URL!;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE gridplan_${name} TEMPLATE ${PG_TEMPLATE_DB}`);
  await admin.end();
  const databaseUrl = withDatabase(url, `gridplan_${name}`);
  const db = await openDb({ databaseUrl });
  return {
    db,
    where: { databaseUrl },
    dispose: async () => {
      await db.close().catch(() => {});
      const a = new pg.Client({ connectionString: url });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS gridplan_${name}`);
      await a.end();
    },
  };
}

export interface ApiContext {
  db: Db;
  app: ReturnType<typeof createApp>;
  /**
   * JSON request helper: returns status and parsed body. It signs in as an admin named `tester`,
   * or as the planner named by an `x-gridplan-user` header; a `cookie` header given is sent as is.
   */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** A session cookie header for an account (created when missing). */
  cookie(spec: AccountSpec): Promise<{ cookie: string }>;
  /** Row counts of every table, to prove a rejected request wrote nothing. */
  snapshot(): Promise<Record<string, number>>;
}

export async function apiContext(
  db: Db,
  options: Pick<
    AppOptions,
    'maxJsonBytes' | 'cache' | 'clock' | 'limits' | 'streamLimits' | 'backups' | 'controlToken' | 'importDir' | 'webhookLoopback' | 'events'
  > = {},
): Promise<ApiContext> {
  const app = createApp({ db, ...options });
  const cookies = new Map<string, Promise<string>>();
  const cookieOf = (spec: AccountSpec) => {
    const key = JSON.stringify(spec);
    if (!cookies.has(key)) cookies.set(key, sessionCookie(db, spec));
    return cookies.get(key)!;
  };
  return {
    db,
    app,
    cookie: async (spec) => ({ cookie: await cookieOf(spec) }),
    async request(method, path, body, given = {}) {
      const { 'x-gridplan-user': user, ...headers } = given;
      if (!('cookie' in headers)) headers.cookie = await cookieOf(user ? { username: user, role: 'planner' } : { username: 'tester', role: 'admin' });
      if (headers.cookie === '') delete headers.cookie;
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        if (!('content-type' in headers)) (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const res = await app.request(path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (NDJSON streams, HTML)
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async snapshot() {
      const { rows } = await db.query<Record<string, number>>(
        `SELECT (SELECT count(*)::int FROM region) AS region, (SELECT count(*)::int FROM household) AS household,
                (SELECT count(*)::int FROM change) AS change, (SELECT count(*)::int FROM worker) AS worker,
                (SELECT coalesce(sum(household_count), 0)::int FROM region) AS counted`,
      );
      return rows[0]!;
    },
  };
}
