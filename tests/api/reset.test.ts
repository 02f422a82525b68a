import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../server/db/db.ts';
import { dropSchema, migrate } from '../../server/db/migrate.ts';
import { DRIVERS, type Driver } from '../support/db.ts';
import { withDatabase } from '../support/template.ts';

/** A fresh, empty database of the driver. */
async function emptyDb(driver: Driver): Promise<{ db: Db; dispose: () => Promise<void> }> {
  if (driver === 'pglite') {
    const db = await openDb({ dataDir: 'memory://' });
    return { db, dispose: () => db.close() };
  }
  const url = process.env.DATABASE_URL!;
  const name = `gridplan_reset_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const db = await openDb({ databaseUrl: withDatabase(url, name) });
  return {
    db,
    dispose: async () => {
      await db.close();
      const a = new pg.Client({ connectionString: url });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name}`);
      await a.end();
    },
  };
}

describe.each(DRIVERS)('npm run seed -- --reset (%s)', (driver) => {
  it('drops everything the migrations made, and only that: they run again from the first', async () => {
    const { db, dispose } = await emptyDb(driver);
    try {
      const all = await migrate(db);
      const objects = async () =>
        (
          await db.query<{ n: string }>(
            `SELECT c.relname AS n FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'S')
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
             UNION ALL SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') ORDER BY 1`,
          )
        ).rows.map((r) => r.n);
      const made = await objects();
      expect(made).toEqual(expect.arrayContaining(['region', 'staff_requirement', 'dispatch_round', 'barrier', 'tile_dirty', 'gp_serves']));
      await dropSchema(db);
      // nothing of ours is left; PostGIS (its tables, views and functions are the extension's) still answers
      expect(await objects()).toEqual([]);
      expect((await db.query<{ n: number }>('SELECT ST_NPoints(ST_Buffer(ST_MakePoint(0, 0), 1)) AS n')).rows[0]!.n).toBeGreaterThan(4);
      expect(await migrate(db)).toEqual(all);
      expect(await objects()).toEqual(made);
    } finally {
      await dispose();
    }
  }, 120_000);
});
