import { InputError } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { nextOp } from './household-batches.ts';
import { insertIncidents, type NewIncident } from './incidents.ts';

/**
 * An incident import as undo sees it: the incidents it added (they carry its operation number in
 * `import_op`) are present or not. Undo moves them to `incident_undone` (same ids) while nobody has
 * acted on any of them — once one is dispatched, answered, photographed or edited it is a case
 * in its own right and the import can no longer be taken back (409). Redo moves them back.
 */
export interface IncidentBatchState {
  batch: number;
  present: boolean;
  count: number;
}

/** Inserts an import's incidents as one operation, logged so that POST /api/changes/undo takes them back. */
export async function importIncidentBatch(
  tx: Queryable,
  actor: string,
  incidents: NewIncident[],
  summary: Record<string, unknown>,
): Promise<{ ids: number[]; outside: number[]; op: number | null }> {
  const op = await nextOp(tx);
  const { ids, outside } = await insertIncidents(tx, incidents, op);
  if (ids.length === 0) return { ids, outside, op: null };
  await recordIncidentBatch(tx, op, actor, 'import', { batch: op, present: false, count: ids.length }, { batch: op, present: true, count: ids.length }, null, {
    ...summary,
    imported: ids.length,
    outside: outside.length,
  });
  return { ids, outside, op };
}

export async function recordIncidentBatch(
  tx: Queryable,
  op: number,
  actor: string,
  action: string,
  before: IncidentBatchState,
  after: IncidentBatchState,
  reverts: number | null,
  summary: Record<string, unknown> = {},
): Promise<void> {
  await tx.query(`INSERT INTO change (op, actor, action, entity, entity_id, before, after, reverts) VALUES ($1, $2, $3, 'incident', NULL, $4, $5, $6)`, [
    op,
    actor,
    action,
    JSON.stringify({ ...summary, ...before }),
    JSON.stringify({ ...summary, ...after }),
    reverts,
  ]);
}

/** Moves an import's incidents from its `from` state to its `to` state; 409 when any was acted on since. */
export async function revertIncidentBatch(tx: Queryable, from: IncidentBatchState, to: IncidentBatchState, kind: 'undo' | 'redo'): Promise<void> {
  const verb = kind === 'undo' ? 'undone' : 'redone';
  if (from.present && !to.present) {
    const { rows } = await tx.query<{ n: number; touched: number }>(
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE i.version > 1 OR i.status <> 'reported'
                OR EXISTS (SELECT 1 FROM dispatch d WHERE d.incident_id = i.id)
                OR EXISTS (SELECT 1 FROM incident_photo p WHERE p.incident_id = i.id)
                OR EXISTS (SELECT 1 FROM incident m WHERE m.merged_into = i.id))::int AS touched
       FROM (SELECT * FROM incident WHERE import_op = $1 FOR UPDATE) i`,
      [from.batch],
    );
    const { n, touched } = rows[0]!;
    if (touched > 0 || n !== from.count) {
      throw new InputError(
        'version_conflict',
        touched > 0
          ? `${touched} of the ${from.count} imported incidents have been handled since (dispatched, answered, edited, merged into); it cannot be ${verb}`
          : `incidents of this import were removed since; it cannot be ${verb}`,
        'op',
        touched > 0 ? { reason: 'handled', n: touched, count: from.count } : { reason: 'removed' },
      );
    }
    await tx.query(
      `WITH moved AS (DELETE FROM incident WHERE import_op = $1 RETURNING *)
       INSERT INTO incident_undone (op, id, geom, category, severity, description, reported_at, source, address, located_by, "row")
       SELECT $1, m.id, m.geom, m.category, m.severity, m.description, m.reported_at, m.source, m.address, m.located_by,
              to_jsonb(m) - 'geom' - 'cell_x' - 'cell_y'
       FROM moved m`,
      [from.batch],
    );
  } else if (!from.present && to.present) {
    const { rows } = await tx.query<{ code: string }>(
      `SELECT DISTINCT u.category AS code FROM incident_undone u
       WHERE u.op = $1 AND NOT EXISTS (SELECT 1 FROM incident_category c WHERE c.code = u.category)`,
      [from.batch],
    );
    if (rows.length > 0) {
      throw new InputError('version_conflict', `the categories ${rows.map((r) => r.code).join(', ')} were removed since; the import cannot be ${verb}`, 'op');
    }
    // each row as it was (every column the table has but its point, its generated cells, its import and its grid,
    // which is the one it lies in now); rows undone before the whole row was kept, from the columns kept then
    const columns = (await incidentColumns(tx)).filter((c) => !['id', 'geom', 'import_op', 'grid_id'].includes(c));
    const list = columns.map((c) => `"${c}"`).join(', ');
    const gridOf = `(SELECT g.id FROM region g WHERE g.level = 'grid' AND g.geom && b.geom AND ST_Intersects(g.geom, b.geom) ORDER BY g.id LIMIT 1)`;
    await tx.query(
      `WITH back AS (DELETE FROM incident_undone WHERE op = $1 RETURNING *), whole AS (
         INSERT INTO incident (id, geom, import_op, grid_id, ${list})
         SELECT b.id, b.geom, $1, ${gridOf}, ${columns.map((c) => `r."${c}"`).join(', ')}
         FROM back b, jsonb_populate_record(NULL::incident, b."row") r WHERE b."row" IS NOT NULL
       )
       INSERT INTO incident (id, geom, category, severity, description, reported_at, source, address, located_by, import_op, grid_id)
       SELECT b.id, b.geom, b.category, b.severity, b.description, b.reported_at, b.source, b.address, b.located_by, $1, ${gridOf}
       FROM back b WHERE b."row" IS NULL`,
      [from.batch],
    );
  }
}

/** Incidents from a file, in one transaction: those in a district stored, the others' row numbers given back; one operation to undo. */
export async function importIncidents(
  tx: Queryable,
  actor: string,
  rows: NewIncident[],
  format: string,
): Promise<{ imported: number; outside: { count: number; indexes: number[] }; op: number | null }> {
  const { ids, outside, op } = await importIncidentBatch(tx, actor, rows, { format });
  return { imported: ids.length, outside: { count: outside.length, indexes: outside.slice(0, 1000) }, op };
}

/** The incident table's stored columns (not the generated ones), as the database has them. */
async function incidentColumns(tx: Queryable): Promise<string[]> {
  const { rows } = await tx.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_attribute a
     WHERE a.attrelid = 'incident'::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     ORDER BY a.attnum`,
  );
  return rows.map((r) => r.name);
}
