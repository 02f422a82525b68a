import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../server/db/db.ts';
import { validateCoverage } from '../../server/db/coverage.ts';
import { startChild, stopChild, type ChildServer } from '../../scripts/lib/child-server.ts';
import { sessionCookie } from '../support/auth.ts';
import { cloneTestDb, DRIVERS } from '../support/db.ts';

/**
 * Crash consistency: the real server process is killed with SIGKILL in the middle of a large
 * household import and of an auto-split commit, restarted on the same data, and the store must
 * hold either all of the write or none of it.
 */
type Server = ChildServer;
/** Each test starts the server four times (PGlite: several seconds each) and writes a lot: beside the other tests, well past the usual two minutes. */
const CRASH_TIMEOUT = 360_000;
const start = startChild;
const stop = stopChild;

/** Reads an NDJSON response line by line until `until` says stop; returns the lines read. */
async function readUntil(res: Response, until: (line: any) => boolean): Promise<any[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const lines: any[] = [];
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
    if (done) return lines;
    buffer += value;
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const part of parts) {
      if (!part.trim()) continue;
      lines.push(JSON.parse(part));
      if (until(lines.at(-1))) {
        void reader.cancel().catch(() => {});
        return lines;
      }
    }
  }
}

/** Households counted per region match the households filed below it, and every household lies in its region. */
async function countsConsistent(db: Db): Promise<{ wrongCounts: number; misfiled: number }> {
  const { rows } = await db.query<{ wrong_counts: number; misfiled: number }>(
    `WITH RECURSIVE up AS (SELECT h.region_id AS id FROM household h WHERE h.region_id IS NOT NULL
                           UNION ALL SELECT r.parent_id FROM up JOIN region r ON r.id = up.id WHERE r.parent_id IS NOT NULL),
          actual AS (SELECT id, count(*)::int AS n FROM up GROUP BY id)
     SELECT (SELECT count(*)::int FROM region r LEFT JOIN actual a ON a.id = r.id WHERE r.household_count <> coalesce(a.n, 0)) AS wrong_counts,
            (SELECT count(*)::int FROM household h JOIN region r ON r.id = h.region_id WHERE NOT ST_Intersects(r.geom, h.geom)) AS misfiled`,
  );
  return { wrongCounts: rows[0]!.wrong_counts, misfiled: rows[0]!.misfiled };
}

for (const driver of DRIVERS) {
  describe(`crash consistency: SIGKILL mid-write (${driver})`, () => {
    let db: Db | null;
    let dispose: () => Promise<void>;
    let env: Record<string, string>;
    let cookie: string;
    let reopen: () => Promise<Db>;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      db = t.db;
      dispose = async () => {
        await db?.close();
        await t.dispose();
      };
      cookie = await sessionCookie(db, { username: 'crash-admin', role: 'admin' });
      // The server process opens the same data as the clone.
      env = t.where.dataDir ? { GRIDPLAN_DATA_DIR: t.where.dataDir } : { DATABASE_URL: t.where.databaseUrl! };
      reopen = () => openDb(t.where);
    });
    afterAll(async () => {
      await dispose();
    });

    /**
     * Runs `write` against a live server, kills it and reopens the store (the same recovery a server's
     * start runs). With `restart`, a server is first started on the killed one's data and must come up
     * and answer: once per database, after the auto-split commit killed mid-write (each start of the
     * embedded database costs several seconds, and CI has 20 minutes on two cores).
     */
    async function crashDuring(write: (server: Server) => Promise<void>, { restart = false } = {}): Promise<Db> {
      await db!.close();
      db = null;
      const server = await start(env);
      await write(server);
      await stop(server, 'SIGKILL');
      if (restart) {
        const again = await start(env);
        const health = await fetch(`${again.url}/api/health`);
        expect(health.status).toBe(200);
        await stop(again, 'SIGTERM');
      }
      db = await reopen();
      return db;
    }

    // The households and the newest change of a person's (the server's minute tick may escalate a
    // dispatch whose deadline passed while the suite ran, and log that as 'system:escalation').
    const COUNTS = `SELECT (SELECT count(*)::int FROM household) AS n, (SELECT max(id)::int FROM change WHERE actor NOT LIKE 'system:%') AS change`;
    it(
      'keeps all or none of a household import killed while it is being written',
      async () => {
        const before = (await db!.query<{ n: number; change: number }>(COUNTS)).rows[0]!;
        const {
          rows: [box],
        } = await db!.query<{ x0: number; y0: number; x1: number; y1: number }>(
          `SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1 FROM (SELECT ST_Extent(geom) AS e FROM region
          WHERE level = 'district') d`,
        );
        // Enough rows that writing them takes a moment (the kill lands inside the transaction), few enough to
        // stay quick beside the other tests (they land in the township the auto-split test below divides).
        const N = 25_000;
        const rows = ['lon,lat,size,address'];
        for (let i = 0; i < N; i++) {
          const t = (i * 0.6180339887) % 1;
          const u = (i * 0.7548776662) % 1;
          rows.push(
            [
              (box!.x0 + (box!.x1 - box!.x0) * (0.3 + 0.4 * t)).toFixed(6),
              (box!.y0 + (box!.y1 - box!.y0) * (0.3 + 0.4 * u)).toFixed(6),
              1 + (i % 5),
              `崩溃测试${i}号`,
            ].join(','),
          );
        }
        // Killed while the one transaction writes them into the plan: nothing of it, or all of it — never a
        // part. (Before that they are located in memory, which writes nothing: no kill there.)
        for (const stage of ['saving']) {
          const was = (await db!.query<{ n: number; change: number }>(COUNTS)).rows[0]!;
          let seen: any[] = [];
          const store = await crashDuring(async (server) => {
            const res = await fetch(`${server.url}/api/households/import`, {
              method: 'POST',
              headers: { 'content-type': 'text/csv', accept: 'application/x-ndjson', cookie },
              body: rows.join('\n'),
            });
            expect(res.status).toBe(201);
            seen = await readUntil(res, (l) => l.progress?.stage === stage);
          });
          expect(seen.at(-1)?.progress?.stage).toBe(stage);
          const after = (await store.query<{ n: number; change: number }>(COUNTS)).rows[0]!;
          if (after.n === was.n) expect({ n: after.n, change: after.change }).toEqual(was);
          else expect(after.n).toBe(was.n + N); // every row lies inside the district: all of them landed, with their change-log entry
          if (after.n !== was.n) expect(after.change).toBeGreaterThan(was.change);
          expect(await countsConsistent(store)).toEqual({ wrongCounts: 0, misfiled: 0 });
        }
        void before;
      },
      CRASH_TIMEOUT,
    );

    it(
      'keeps either the old grids or the new ones when an auto-split commit is killed, and all of an acknowledged one',
      async () => {
        const {
          rows: [t],
        } = await db!.query<{ id: number; villages: number }>(
          // The smallest township of several villages: the household import above may have landed its 25,000 rows in
          // the largest, and dividing those twice on the embedded database took 90 s of CI's 20 minutes.
          `SELECT * FROM (SELECT t.id, t.household_count, (SELECT count(*)::int FROM region v WHERE v.parent_id = t.id) AS villages
           FROM region t WHERE t.level = 'township') t WHERE villages >= 3 ORDER BY household_count, id LIMIT 1`,
        );
        const gridsUnder = async (store: Db) =>
          (
            await store.query<{ ids: string }>(
              `SELECT string_agg(g.id::text || ':' || g.version, ',' ORDER BY g.id) AS ids FROM region g JOIN region v ON v.id = g.parent_id
              WHERE v.parent_id = $1`,
              [t!.id],
            )
          ).rows[0]!.ids;
        const before = await gridsUnder(db!);
        const changes = (await db!.query<{ n: number }>(`SELECT count(*)::int AS n FROM change WHERE action = 'autosplit'`)).rows[0]!.n;
        let progress = 0;
        const store = await crashDuring(
          async (server) => {
            const res = await fetch(`${server.url}/api/regions/${t!.id}/autosplit`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', accept: 'application/x-ndjson', cookie },
              body: JSON.stringify({ commit: true }),
            });
            expect(res.status).toBe(200);
            // Every village planned: the commit (replacing the grids in one transaction) is under way.
            const lines = await readUntil(res, (l) => l.progress?.done === l.progress?.total);
            progress = lines.at(-1)?.progress?.done ?? 0;
          },
          { restart: true },
        );
        expect(progress).toBe(t!.villages);
        const after = await gridsUnder(store);
        const committed = (await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM change WHERE action = 'autosplit'`)).rows[0]!.n - changes;
        // All or nothing: the same grids and no log entry, or a new set of grids and one entry.
        if (committed === 0) expect(after).toBe(before);
        else {
          expect(committed).toBeGreaterThan(0);
          expect(after.split(',').filter((g) => before.split(',').includes(g))).toEqual([]);
        }
        console.log(`auto-split killed after planning ${progress} villages: ${committed ? 'the commit had landed' : 'nothing landed'}`);
        const coverage = await validateCoverage(store, t!.id, { depth: 'all', toleranceM2: 1 });
        expect([coverage.summary.counts.gap, coverage.summary.counts.overlap, coverage.summary.counts.outside_parent]).toEqual([0, 0, 0]);
        expect(await countsConsistent(store)).toEqual({ wrongCounts: 0, misfiled: 0 });

        // Once the commit is acknowledged, a kill right after loses nothing of it.
        let committedIds: number[] = [];
        const durable = await crashDuring(async (server) => {
          const res = await fetch(`${server.url}/api/regions/${t!.id}/autosplit`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'application/x-ndjson', cookie },
            body: JSON.stringify({ commit: true }),
          });
          const last = (await readUntil(res, (l) => 'result' in l || 'error' in l)).at(-1);
          expect(last.error).toBeUndefined();
          committedIds = last.result.committed.ids;
        });
        const kept = (await gridsUnder(durable)).split(',').map((g) => Number(g.split(':')[0]));
        expect(kept.sort((a, b) => a - b)).toEqual([...committedIds].sort((a, b) => a - b));
      },
      CRASH_TIMEOUT,
    );
  });
}
