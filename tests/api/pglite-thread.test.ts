import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../server/db/db.ts';

/** The embedded database in its own thread (what `npm start` runs) behaves as the in-process one. */
describe('PGlite in its own thread', () => {
  let db: Db;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gridplan-thread-'));
    db = await openDb({ dataDir: dir, thread: true });
    await db.exec('CREATE EXTENSION IF NOT EXISTS postgis; CREATE TABLE t (x int PRIMARY KEY, g geometry)');
  });
  afterAll(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers with the same types as in process', async () => {
    const { rows } = await db.query<{ n: number; a: number; t: Date; b: Uint8Array; j: unknown; arr: number[] }>(
      `SELECT count(*) AS n, 2.5::numeric AS a, now() AS t, ST_AsBinary(ST_Point(1, 2)) AS b, '{"k":[1]}'::jsonb AS j, ARRAY[1,2]::int[] AS arr
        FROM generate_series(1, 3)`,
    );
    expect(rows[0]!.n).toBe(3);
    expect(rows[0]!.a).toBe(2.5);
    expect(rows[0]!.t).toBeInstanceOf(Date);
    expect(rows[0]!.b).toBeInstanceOf(Uint8Array);
    expect(rows[0]!.j).toEqual({ k: [1] });
    expect(rows[0]!.arr).toEqual([1, 2]);
    expect((await db.query('SELECT $1::int + 1 AS v', [41])).rows).toEqual([{ v: 42 }]);
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO t (x) VALUES (1)');
      await tx.exec('INSERT INTO t (x) VALUES (2); INSERT INTO t (x) VALUES (3)');
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO t (x) VALUES (4)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    // A statement that fails inside rolls back the whole transaction, with the driver's error.
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO t (x) VALUES (5)');
        await tx.query('INSERT INTO t (x) VALUES (1)');
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect((await db.query<{ x: number }>('SELECT x FROM t ORDER BY x')).rows.map((r) => r.x)).toEqual([1, 2, 3]);
  });

  it('passes the driver error fields the API maps to statuses', async () => {
    await expect(db.query('INSERT INTO t (x) VALUES (1)')).rejects.toMatchObject({ code: '23505', message: expect.stringContaining('t_pkey') });
    await expect(db.query(`SELECT ST_GeomFromText('POLYGON((0 0, 1 1))')`)).rejects.toMatchObject({ code: 'XX000' });
    // A transaction whose first statement fails ends there; nothing stays held.
    await expect(db.transaction((tx) => tx.query('INSERT INTO t (x) VALUES (1)'))).rejects.toMatchObject({ code: '23505' });
    // The connection is usable after an error.
    expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('keeps statements outside a transaction out of it until it ends', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const begun = new Promise<void>((r) => (inserted = r));
    const tx = db.transaction(async (t) => {
      await t.query('INSERT INTO t (x) VALUES (10)');
      inserted();
      await held;
    });
    await begun;
    const outside = db.query<{ n: number }>('SELECT count(*) AS n FROM t WHERE x = 10');
    release();
    await tx;
    expect((await outside).rows[0]!.n).toBe(1);
  });

  it('runs concurrent transactions one after another, each with its own answers', async () => {
    await db.exec('CREATE TABLE c (tx int, n int)');
    // Statements of one transaction in parallel too: each gets its own answer.
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        db
          .transaction(async (tx) => {
            const [a, b] = await Promise.all([tx.query<{ v: number }>('SELECT $1::int AS v', [i]), tx.query<{ v: number }>('SELECT $1::int * 10 AS v', [i])]);
            await tx.query('INSERT INTO c VALUES ($1, (SELECT count(*) FROM c))', [i]);
            if (i === 3) throw new Error('three fails');
            return a.rows[0]!.v + b.rows[0]!.v;
          })
          .catch((e: Error) => e.message),
      ),
    );
    expect(results).toEqual([0, 11, 22, 'three fails', 44, 55, 66, 77]);
    // Each saw the ones committed before it, in order, and the failed one left nothing.
    expect((await db.query<{ tx: number; n: number }>('SELECT tx, n FROM c ORDER BY tx')).rows).toEqual([
      { tx: 0, n: 0 },
      { tx: 1, n: 1 },
      { tx: 2, n: 2 },
      { tx: 4, n: 3 },
      { tx: 5, n: 4 },
      { tx: 6, n: 5 },
      { tx: 7, n: 6 },
    ]);
  });

  it('gives every statement its own answer through hundreds of short transactions mixed with other queries', async () => {
    // Short statements race the thread's wake-ups: an answer must never be taken for the next one's.
    const work = Array.from({ length: 300 }, (_, i) =>
      i % 3 === 0
        ? db.query<{ v: number }>('SELECT $1::int * 2 AS v', [i]).then((r) => r.rows[0]!.v === i * 2)
        : db.transaction(async (tx) => {
            const a = await tx.query<{ v: number }>('SELECT $1::int AS v', [i]);
            const b = await tx.query<{ v: string }>('SELECT $1::text AS v', [`t${i}`]);
            const c = await tx.query<{ v: number }>('SELECT $1::int + 1 AS v', [i]);
            return a.rows[0]!.v === i && b.rows[0]!.v === `t${i}` && c.rows[0]!.v === i + 1;
          }),
    );
    expect((await Promise.all(work)).every(Boolean)).toBe(true);
  });

  it("leaves the caller's thread free while a long query runs", async () => {
    let answered = false;
    const long = db.query('SELECT count(*) FROM generate_series(1, 5000000)').then(() => (answered = true));
    // A few turns of the event loop go by while the query runs (on the server's thread, none could).
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    // On the server's thread this timer could only fire after the query had answered.
    expect(answered).toBe(false);
    await long;
  });

  it('lets the caller go during a long statement inside a transaction, and still commits it', async () => {
    let answered = false;
    const tx = db.transaction(async (t) => {
      await t.query('INSERT INTO t (x) VALUES (20)');
      const { rows } = await t.query<{ n: number }>('SELECT count(*) AS n FROM generate_series(1, 5000000)');
      answered = true;
      return rows[0]!.n;
    });
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    expect(await tx).toBe(5_000_000);
    expect((await db.query('SELECT x FROM t WHERE x = 20')).rows).toHaveLength(1);
  });

  it('holds the folder against a second opener, and releases it on close', async () => {
    await expect(openDb({ dataDir: dir, thread: true })).rejects.toThrow(`in use by process ${process.pid}`);
  });
});
