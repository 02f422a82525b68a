import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/db/db.ts';
import { cloneTestDb } from '../support/db.ts';

/** PostgreSQL restarted, failed over or cut off: the server lives on and opens new connections. */
describe.runIf(process.env.DATABASE_URL)('a lost PostgreSQL connection (pg)', () => {
  let db: Db;
  let dispose: () => Promise<void>;
  let name: string;
  beforeAll(async () => {
    const t = await cloneTestDb('pg');
    db = t.db;
    dispose = t.dispose;
    name = new URL(t.where.databaseUrl!).pathname.slice(1);
  });
  afterAll(() => dispose?.());

  const cut = async () => {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: number }>(
        'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      return rows[0]!.n;
    } finally {
      await admin.end();
    }
  };

  it('keeps answering after its idle connections and one inside a transaction are cut', async () => {
    // Connections held idle in the pool, then cut: unheard, their error would end the process.
    await Promise.all([1, 2, 3].map(() => db.query('SELECT pg_sleep(0.05)')));
    expect(await cut()).toBeGreaterThan(0);
    await expect.poll(async () => (await db.query<{ one: number }>('SELECT 1 AS one').catch(() => ({ rows: [] }))).rows[0]?.one).toBe(1);
    // Cut in the middle of a transaction: that one fails, nothing of it stays, the next works.
    await db.exec('CREATE TABLE IF NOT EXISTS cut_probe (n int)');
    const during = db.transaction(async (tx) => {
      await tx.query('INSERT INTO cut_probe VALUES (1)');
      await cut();
      await tx.query('SELECT 1');
    });
    await expect(during).rejects.toThrow();
    await expect.poll(async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM cut_probe').catch(() => ({ rows: [] }))).rows[0]?.n).toBe(0);
    await db.transaction(async (tx) => void (await tx.query('INSERT INTO cut_probe VALUES (2)')));
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM cut_probe')).rows[0]!.n).toBe(1);
  });
});
