import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from './db.ts';
import { draftSchemas } from './drafts.ts';

const dir = join(import.meta.dirname, 'migrations');

/** Applies every `NNN_name.sql` not yet recorded in `schema_migration`, each in its own transaction. */
export async function migrate(db: Db): Promise<string[]> {
  await db.exec('CREATE EXTENSION IF NOT EXISTS postgis');
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migration (
    name text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now())`);
  const done = new Set((await db.query<{ name: string }>('SELECT name FROM schema_migration')).rows.map((r) => r.name));
  const files = (await readdir(dir)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  for (const file of files) {
    if (done.has(file)) continue;
    const sql = await readFile(join(dir, file), 'utf8');
    await db.transaction(async (tx) => {
      await tx.exec(sql);
      await tx.query('INSERT INTO schema_migration (name) VALUES ($1)', [file]);
    });
    applied.push(file);
  }
  return applied;
}

/**
 * Drops every GridPlan table, view, sequence and function (not PostGIS's: those belong to its extension), and the
 * drafts' schemas, so `migrate` starts from nothing. Read from the catalogue rather than listed: a list here fell behind
 * the migrations (barrier, dispatch_round, tile_dirty… stayed, and `seed --reset` then failed re-creating them).
 */
export async function dropSchema(db: Db): Promise<void> {
  const tables = await db.query<{ n: string }>(`SELECT 1 AS n FROM pg_tables WHERE tablename = 'draft' AND schemaname = 'public'`);
  if (tables.rows.length > 0) for (const schema of await draftSchemas(db)) await db.exec(`DROP SCHEMA ${schema} CASCADE`);
  // (an extension's own objects are its members in pg_depend, deptype 'e')
  const own = `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')`;
  const names = async (sql: string) => (await db.query<{ n: string }>(sql)).rows.map((r) => r.n);
  const views = await names(`SELECT c.oid::regclass::text AS n FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v' AND ${own}`);
  if (views.length > 0) await db.exec(`DROP VIEW IF EXISTS ${views.join(', ')} CASCADE`);
  const relations = await names(
    `SELECT c.oid::regclass::text AS n FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND ${own}`,
  );
  if (relations.length > 0) await db.exec(`DROP TABLE IF EXISTS ${relations.join(', ')} CASCADE`);
  const sequences = await names(
    `SELECT c.oid::regclass::text AS n FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S' AND ${own}`,
  );
  if (sequences.length > 0) await db.exec(`DROP SEQUENCE IF EXISTS ${sequences.join(', ')} CASCADE`);
  const functions = await names(
    `SELECT c.oid::regprocedure::text AS n FROM pg_proc c WHERE c.pronamespace = 'public'::regnamespace AND c.proname LIKE 'gp\\_%' AND ${own}`,
  );
  if (functions.length > 0) await db.exec(`DROP FUNCTION IF EXISTS ${functions.join(', ')} CASCADE`);
}
