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

/** Drops every GridPlan table, sequence and function (not PostGIS), so `migrate` starts from nothing. */
export async function dropSchema(db: Db): Promise<void> {
  const tables = await db.query<{ n: string }>(`SELECT 1 AS n FROM pg_tables WHERE tablename = 'draft' AND schemaname = 'public'`);
  if (tables.rows.length > 0) for (const schema of await draftSchemas(db)) await db.exec(`DROP SCHEMA ${schema} CASCADE`);
  await db.exec(
    `DROP TABLE IF EXISTS assessment_rule, patrol_visit, patrol, webhook_delivery, webhook, notification, escalation_contact, ` +
      `plan_version, draft_event, draft, approval_step, ` +
      `region_history, incident_undone, household_undone, import_household, plan_figure, grid_staff, staff_role, ` +
      `incident_photo, api_key, dispatch, incident_deadline, category_department, department, session, screen_token, app_user, change, ` +
      `incident, incident_category, household, grid_type_rule, region, worker, schema_migration CASCADE;
    DROP SEQUENCE IF EXISTS change_op_seq;
    DROP FUNCTION IF EXISTS gp_grid(), gp_difference(geometry, geometry), gp_area_m2(geometry), gp_subtree(integer), gp_ancestors(integer[]),
      gp_region_history(), gp_plan_at(timestamptz), gp_incident_filed(), gp_region_area()`,
  );
}
