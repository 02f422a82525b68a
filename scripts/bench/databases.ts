import pg from 'pg';
import { openDb, type Db } from '../../server/db/db.ts';
import { migrate } from '../../server/db/migrate.ts';

/** The databases a benchmark runs on: in-memory PGlite, and a scratch PostgreSQL database when DATABASE_URL is set. */
export async function benchDatabases(scratch: string): Promise<Db[]> {
  // BENCH_PGLITE_DIR keeps the embedded database in a folder (empty at the start) to look into afterwards;
  // BENCH_ONLY=pg or BENCH_ONLY=pglite runs one of the two.
  const only = process.env.BENCH_ONLY;
  const dbs: Db[] = only === 'pg' ? [] : [await openDb({ dataDir: process.env.BENCH_PGLITE_DIR ?? 'memory://' })];
  if (process.env.DATABASE_URL && only !== 'pglite') {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${scratch}`);
    await admin.query(`CREATE DATABASE ${scratch}`);
    await admin.end();
    const u = new URL(process.env.DATABASE_URL);
    u.pathname = `/${scratch}`;
    dbs.push(await openDb({ databaseUrl: u.toString() }));
  }
  for (const db of dbs) await migrate(db);
  return dbs;
}

export async function postgisVersion(db: Db): Promise<string> {
  const { rows } = await db.query<{ v: string }>('SELECT postgis_lib_version() AS v');
  return `${db.driver === 'pg' ? 'PostgreSQL' : 'PGlite'} (PostGIS ${rows[0]!.v})`;
}
