import { InputError } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { assignHouseholds, recountHouseholdsAround } from './households.ts';

/**
 * A household import as undo sees it: the households it added (they carry its operation number in
 * `import_op`) are present or not, and the sizes it changed are as it left them or as before.
 * Undo moves the added ones to `household_undone` (same ids) and gives the old sizes back; redo the
 * reverse. Each state is what the change log stores as `before` and `after`.
 */
export interface HouseholdBatchState {
  batch: number;
  present: boolean;
  /** [household id, size] of the households whose size the import set. */
  sizes: [number, number][];
}

export async function nextOp(tx: Queryable): Promise<number> {
  return (await tx.query<{ op: number }>(`SELECT nextval('change_op_seq')::int AS op`)).rows[0]!.op;
}

/** Sets sizes; what they were and are, for the change log. */
export async function updateSizes(tx: Queryable, updates: { id: number; size: number }[]): Promise<{ before: [number, number][]; after: [number, number][] }> {
  if (updates.length === 0) return { before: [], after: [] };
  const { rows } = await tx.query<{ id: number; old: number; size: number }>(
    `WITH u AS (SELECT * FROM unnest($1::int[], $2::int[]) AS t(id, size)),
     old AS (SELECT h.id, h.size AS old FROM household h JOIN u ON u.id = h.id FOR UPDATE OF h)
     UPDATE household h SET size = u.size FROM u JOIN old ON old.id = u.id WHERE h.id = u.id RETURNING h.id, old.old, h.size`,
    [updates.map((u) => u.id), updates.map((u) => u.size)],
  );
  rows.sort((a, b) => a.id - b.id);
  await recountHouseholdsAround(
    tx,
    await regionsOf(
      tx,
      rows.map((r) => r.id),
    ),
  );
  return { before: rows.map((r) => [r.id, r.old]), after: rows.map((r) => [r.id, r.size]) };
}

async function regionsOf(tx: Queryable, ids: number[]): Promise<number[]> {
  const { rows } = await tx.query<{ id: number }>('SELECT DISTINCT region_id AS id FROM household WHERE id = ANY($1::int[]) AND region_id IS NOT NULL', [ids]);
  return rows.map((r) => r.id);
}

export async function recordHouseholdBatch(
  tx: Queryable,
  op: number,
  actor: string,
  action: string,
  before: HouseholdBatchState,
  after: HouseholdBatchState,
  reverts: number | null,
  summary: Record<string, unknown> = {},
): Promise<void> {
  await tx.query(`INSERT INTO change (op, actor, action, entity, entity_id, before, after, reverts) VALUES ($1, $2, $3, 'household', NULL, $4, $5, $6)`, [
    op,
    actor,
    action,
    JSON.stringify({ ...summary, ...before }),
    JSON.stringify({ ...summary, ...after }),
    reverts,
  ]);
}

/** Moves a batch from its `from` state to its `to` state; 409 when its sizes changed since. */
export async function revertHouseholdBatch(tx: Queryable, from: HouseholdBatchState, to: HouseholdBatchState, kind: 'undo' | 'redo'): Promise<void> {
  const ids = from.sizes.map(([id]) => id);
  const { rows } = await tx.query<{ id: number; size: number }>('SELECT id, size FROM household WHERE id = ANY($1::int[]) FOR UPDATE', [ids]);
  const now = new Map(rows.map((r) => [r.id, r.size]));
  if (from.sizes.some(([id, size]) => now.get(id) !== size)) {
    throw new InputError('version_conflict', `households of this import were changed after it; it cannot be ${kind === 'undo' ? 'undone' : 'redone'}`, 'op', {
      reason: 'households',
    });
  }
  const touched = new Set(await regionsOf(tx, ids));
  if (from.present && !to.present) {
    // a household a grid worker has visited is on record: undone, the visit would lose its household (and redo not give it back)
    const { rows: visited } = await tx.query<{ n: number }>(
      'SELECT count(DISTINCT v.household_id)::int AS n FROM patrol_visit v JOIN household h ON h.id = v.household_id WHERE h.import_op = $1',
      [from.batch],
    );
    if (visited[0]!.n > 0) {
      const n = visited[0]!.n;
      throw new InputError(
        'version_conflict',
        `grid workers have visited ${n} households this import added; it cannot be ${kind === 'undo' ? 'undone' : 'redone'}`,
        'op',
        {
          reason: 'visits',
          n,
        },
      );
    }
    const { rows: gone } = await tx.query<{ region_id: number | null }>(
      `WITH moved AS (DELETE FROM household WHERE import_op = $1 RETURNING id, geom, size, address, region_id),
       kept AS (INSERT INTO household_undone (op, id, geom, size, address) SELECT $1, id, geom, size, address FROM moved)
       SELECT DISTINCT region_id FROM moved`,
      [from.batch],
    );
    for (const r of gone) if (r.region_id !== null) touched.add(r.region_id);
  } else if (!from.present && to.present) {
    await tx.query(
      `WITH back AS (DELETE FROM household_undone WHERE op = $1 RETURNING id, geom, size, address)
       INSERT INTO household (id, geom, size, address, import_op) SELECT id, geom, size, address, $1 FROM back`,
      [from.batch],
    );
    await assignHouseholds(tx, true);
    const { rows: back } = await tx.query<{ id: number }>('SELECT DISTINCT region_id AS id FROM household WHERE import_op = $1 AND region_id IS NOT NULL', [
      from.batch,
    ]);
    for (const r of back) touched.add(r.id);
  }
  if (to.sizes.length > 0) {
    await tx.query('UPDATE household h SET size = t.size FROM unnest($1::int[], $2::int[]) AS t(id, size) WHERE h.id = t.id', [
      to.sizes.map(([id]) => id),
      to.sizes.map(([, s]) => s),
    ]);
  }
  await recountHouseholdsAround(tx, [...touched]);
}
