import { InputError } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { recordHouseholdBatch, revertHouseholdBatch, type HouseholdBatchState } from './household-batches.ts';
import { recordIncidentBatch, revertIncidentBatch, type IncidentBatchState } from './incident-batches.ts';
import { recordBarrierBatch, revertBarrierBatch, type BarrierBatchState } from './barriers.ts';
import { reassignHouseholdsIn, recountHouseholdsAround } from './households.ts';
import { reassignIncidentsIn } from './incidents.ts';
import { recordOperation, snapshots, writeSnapshot, type ChangeRow, type RegionSnapshot } from './region-store.ts';

/** Actions a planner can undo. Undo and redo are per user: each planner walks back their own operations. */
export const UNDOABLE = ['create', 'update', 'split', 'merge', 'delete', 'autosplit', 'fit', 'import', 'publish', 'restore'] as const;

export interface RevertResult {
  op: number;
  reverted: number;
  action: string;
  ids: number[];
}

/**
 * Whether a region is as an operation left it, whatever its version number says: undoing a later
 * operation gives back the very state an earlier one made (under a new version), and that earlier
 * one may then be undone too. Any other change since — by anyone — refuses the undo.
 */
export function sameState(a: RegionSnapshot, b: RegionSnapshot): boolean {
  const staff = (x: RegionSnapshot) =>
    (x.staff ?? [])
      .map((m) => `${m.role}:${m.workerId}`)
      .sort()
      .join(',');
  return (
    a.parentId === b.parentId &&
    a.level === b.level &&
    a.code === b.code &&
    a.name === b.name &&
    a.gridType === b.gridType &&
    a.workerId === b.workerId &&
    a.notes === b.notes &&
    (a.statCode ?? null) === (b.statCode ?? null) &&
    a.wkb === b.wkb &&
    staff(a) === staff(b)
  );
}

/**
 * Moves every region an operation touched from its `after` state back to its `before` state,
 * refusing (409) when any of them changed since — nothing is overwritten silently.
 */
async function revert(tx: Queryable, actor: string, op: number, kind: 'undo' | 'redo'): Promise<RevertResult> {
  const { rows: all } = await tx.query<{ entity: string; entity_id: number; before: unknown; after: unknown; action: string }>(
    'SELECT entity, entity_id, before, after, action FROM change WHERE op = $1 ORDER BY id DESC',
    [op],
  );
  const rows = all.filter((r) => r.entity === 'region') as { entity_id: number; before: RegionSnapshot | null; after: RegionSnapshot | null; action: string }[];
  // A household import: the households it added and the sizes it set (see household-batches.ts).
  const batches = all.filter((r) => r.entity === 'household') as { before: HouseholdBatchState; after: HouseholdBatchState }[];
  // An incident import: the incidents it added (see incident-batches.ts).
  const incidentBatches = all.filter((r) => r.entity === 'incident' && r.before !== null && r.after !== null) as {
    before: IncidentBatchState;
    after: IncidentBatchState;
  }[];
  // A barrier import: its lines are shown or hidden (see barriers.ts).
  const barrierBatches = all.filter((r) => r.entity === 'barrier') as { before: BarrierBatchState; after: BarrierBatchState }[];
  const ids = rows.map((r) => r.entity_id);
  await tx.query('SELECT id FROM region WHERE id = ANY($1::int[]) FOR UPDATE', [ids]);
  await refuseLaterDependents(tx, op, rows, batches, kind);
  const current = new Map((await snapshots(tx, ids)).map((s) => [s.id, s]));
  for (const row of rows) {
    const now = current.get(row.entity_id);
    const name = (row.after ?? row.before)!.name;
    if (row.after === null ? now !== undefined : !now || !sameState(now, row.after)) {
      throw new InputError('version_conflict', `${name} was changed after this operation; it cannot be ${kind === 'undo' ? 'undone' : 'redone'}`, 'op', {
        id: row.entity_id,
        currentVersion: now?.version ?? null,
        reason: 'changed',
        name: now?.name ?? name,
      });
    }
  }
  for (const b of batches) await revertHouseholdBatch(tx, b.after, b.before, kind);
  for (const b of incidentBatches) await revertIncidentBatch(tx, b.after, b.before, kind);
  for (const b of barrierBatches) await revertBarrierBatch(tx, b.before);
  for (const row of rows) {
    if (row.before === null) await tx.query('DELETE FROM region WHERE id = $1', [row.entity_id]);
    // a version past the region's current one: an undo gives back an earlier state, never an earlier
    // version number (a tab still holding that number would otherwise save over it)
    else await writeSnapshot(tx, row.before, Math.max(current.get(row.entity_id)?.version ?? 0, row.after?.version ?? 0, row.before.version) + 1);
  }
  const parents = rows.flatMap((r) => [r.before?.parentId, r.after?.parentId]).filter((p): p is number => typeof p === 'number');
  await reassignHouseholdsIn(tx, ids);
  await reassignIncidentsIn(tx, ids);
  await recountHouseholdsAround(tx, [...ids.filter((id) => rows.find((r) => r.entity_id === id)?.before), ...parents]);
  const after = new Map((await snapshots(tx, ids)).map((s) => [s.id, s]));
  const changes: ChangeRow[] = [...new Set(ids)].map((id) => ({ entityId: id, before: current.get(id) ?? null, after: after.get(id) ?? null }));
  const newOp = await recordOperation(tx, actor, kind, changes, op);
  for (const b of batches) await recordHouseholdBatch(tx, newOp, actor, kind, b.after, b.before, op);
  for (const b of incidentBatches) await recordIncidentBatch(tx, newOp, actor, kind, b.after, b.before, op);
  for (const b of barrierBatches) await recordBarrierBatch(tx, newOp, actor, kind, b.after, b.before, op);
  return { op: newOp, reverted: op, action: all[0]!.action, ids: [...after.keys()] };
}

/**
 * What the state check of each region cannot see, for an operation taken back while later ones
 * stand (an import undone from its own button after other edits): regions added since under a
 * region it would remove, a code taken since by a region it would bring back, and sizes set since
 * on households it would remove. Taken back in order, none of these can be found.
 */
async function refuseLaterDependents(
  tx: Queryable,
  op: number,
  rows: { entity_id: number; before: RegionSnapshot | null; after: RegionSnapshot | null }[],
  batches: { before: HouseholdBatchState; after: HouseholdBatchState }[],
  kind: 'undo' | 'redo',
): Promise<void> {
  const verb = kind === 'undo' ? 'undone' : 'redone';
  const ids = rows.map((r) => r.entity_id);
  const removed = rows.filter((r) => r.before === null).map((r) => r.entity_id);
  if (removed.length > 0) {
    const { rows: under } = await tx.query<{ parent: string; child: string }>(
      `SELECT p.name AS parent, c.name AS child FROM region c JOIN region p ON p.id = c.parent_id
       WHERE c.parent_id = ANY($1::int[]) AND c.id <> ALL($2::int[]) ORDER BY c.id LIMIT 1`,
      [removed, ids],
    );
    if (under[0]) {
      throw new InputError('version_conflict', `${under[0].child} was added under ${under[0].parent} after this operation; it cannot be ${verb}`, 'op', {
        reason: 'child',
        name: under[0].parent,
        child: under[0].child,
      });
    }
  }
  const back = rows.flatMap((r) => (r.before ? [r.before.code] : []));
  if (back.length > 0) {
    const { rows: taken } = await tx.query<{ code: string; name: string }>(
      'SELECT code, name FROM region WHERE code = ANY($1::text[]) AND id <> ALL($2::int[]) ORDER BY code LIMIT 1',
      [back, ids],
    );
    if (taken[0]) {
      throw new InputError('version_conflict', `code ${taken[0].code} is now ${taken[0].name}'s, given after this operation; it cannot be ${verb}`, 'op', {
        reason: 'code',
        code: taken[0].code,
        name: taken[0].name,
      });
    }
  }
  for (const b of batches) {
    if (!b.after.present || b.before.present) continue;
    const { rows: later } = await tx.query<{ n: number }>(
      `SELECT count(DISTINCT (s->>0)::int)::int AS n FROM change c, jsonb_array_elements(c.after->'sizes') s
       WHERE c.entity = 'household' AND c.op > $1 AND c.undone_at IS NULL AND c.action <> 'undo'
         AND (s->>0)::int IN (SELECT id FROM household WHERE import_op = $2)`,
      [op, b.after.batch],
    );
    if (later[0]!.n > 0) {
      throw new InputError('version_conflict', `a later import or correction changed ${later[0]!.n} households this one added; it cannot be ${verb}`, 'op', {
        reason: 'sizes',
        n: later[0]!.n,
      });
    }
  }
}

/** The operation an undo or redo chain started from, for naming it ("autosplit", not "redo"). */
async function originalAction(tx: Queryable, op: number): Promise<string> {
  const { rows } = await tx.query<{ action: string }>(
    `WITH RECURSIVE chain AS (
       SELECT op, action, reverts FROM change WHERE op = $1
       UNION SELECT c.op, c.action, c.reverts FROM change c JOIN chain ON c.op = chain.reverts)
     SELECT action FROM chain WHERE action <> ALL($2::text[]) LIMIT 1`,
    [op, ['undo', 'redo']],
  );
  return rows[0]?.action ?? 'undo';
}

/**
 * Each planner's operations form a stack. Undo takes back the latest one still in force — an
 * operation, or a redo of one — using that entry's own before and after, so the versions it
 * checks are the ones it wrote. Redo takes back the latest undo not yet taken back, as long as no
 * new operation came after it. So any sequence of undo and redo walks one history:
 *
 *   op1 op2 │ undo→U2 undo→U1 │ redo→R(U1) redo→R(U2) │ undo→U(R(U2)) …
 */
/**
 * Holds an operation's rows while it is taken back, and refuses one taken back meanwhile: two undos
 * at once (two tabs, a double tap) on PostgreSQL would each find it standing and both succeed, the
 * second having nothing to take back.
 */
async function claim(tx: Queryable, op: number, done: 'undone' | 'redone'): Promise<void> {
  const { rows } = await tx.query('SELECT id FROM change WHERE op = $1 AND undone_at IS NULL ORDER BY id FOR UPDATE', [op]);
  if (rows.length === 0) throw new InputError('version_conflict', `operation ${op} was ${done} meanwhile`, 'op', { reason: 'taken' });
}

export async function undo(tx: Queryable, actor: string, only?: number): Promise<RevertResult> {
  const { rows } = await tx.query<{ op: number }>(
    `SELECT op FROM change WHERE actor = $1 AND action = ANY($2::text[]) AND undone_at IS NULL AND op IS NOT NULL
     ORDER BY op DESC LIMIT 1`,
    [actor, [...UNDOABLE, 'redo']],
  );
  if (!rows[0]) throw new InputError('nothing_to_undo', `${actor} has no operation left to undo`, '');
  let target = rows[0].op;
  // An undo button of one operation must not take back a later change instead. An import's may take
  // back its own import after later edits, as long as nothing since rests on what it brought in.
  if (only !== undefined && target !== only) {
    const { rows: own } = await tx.query<{ action: string }>(
      `SELECT action FROM change WHERE op = $1 AND actor = $2 AND undone_at IS NULL ORDER BY id LIMIT 1`,
      [only, actor],
    );
    if (own[0]?.action !== 'import') {
      throw new InputError('not_latest', `operation ${only} is no longer your latest change: undo the later ones first (the change log lists them)`, 'op', {
        latest: target,
      });
    }
    target = only;
  }
  await claim(tx, target, 'undone');
  const result = await revert(tx, actor, target, 'undo');
  await tx.query('UPDATE change SET undone_at = now() WHERE op = $1', [target]);
  return { ...result, action: await originalAction(tx, target) };
}

/** Redoes the latest undo not yet redone, as long as no new operation came after it. */
export async function redo(tx: Queryable, actor: string): Promise<RevertResult> {
  const { rows } = await tx.query<{ op: number; reverts: number }>(
    `SELECT op, reverts FROM change
     WHERE actor = $1 AND action = 'undo' AND undone_at IS NULL AND op IS NOT NULL
       AND op > coalesce((SELECT max(op) FROM change WHERE actor = $1 AND action = ANY($2::text[])), 0)
     ORDER BY op DESC LIMIT 1`,
    [actor, UNDOABLE],
  );
  if (!rows[0]) throw new InputError('nothing_to_redo', `${actor} has no undone operation to redo`, '');
  await claim(tx, rows[0].op, 'redone');
  const result = await revert(tx, actor, rows[0].op, 'redo');
  await tx.query('UPDATE change SET undone_at = now() WHERE op = $1', [rows[0].op]);
  return { ...result, action: await originalAction(tx, rows[0].op) };
}
