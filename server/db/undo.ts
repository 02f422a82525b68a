import { InputError } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { reassignHouseholdsIn, recountHouseholdsAround } from './households.ts';
import { reassignIncidentsIn } from './incidents.ts';
import { recordOperation, snapshots, writeSnapshot, type ChangeRow, type RegionSnapshot } from './region-store.ts';

/** Actions a planner can undo. Undo and redo are per user: each planner walks back their own operations. */
export const UNDOABLE = ['create', 'update', 'split', 'merge', 'delete', 'autosplit', 'import'] as const;

export interface RevertResult {
  op: number;
  reverted: number;
  action: string;
  ids: number[];
}

/**
 * Moves every region an operation touched from its `after` state back to its `before` state,
 * refusing (409) when any of them changed since — nothing is overwritten silently.
 */
async function revert(tx: Queryable, actor: string, op: number, kind: 'undo' | 'redo'): Promise<RevertResult> {
  const { rows } = await tx.query<{ entity_id: number; before: RegionSnapshot | null; after: RegionSnapshot | null; action: string }>(
    'SELECT entity_id, before, after, action FROM change WHERE op = $1 ORDER BY id DESC',
    [op],
  );
  const ids = rows.map((r) => r.entity_id);
  await tx.query('SELECT id FROM region WHERE id = ANY($1::int[]) FOR UPDATE', [ids]);
  const current = new Map((await snapshots(tx, ids)).map((s) => [s.id, s]));
  for (const row of rows) {
    const now = current.get(row.entity_id);
    const name = (row.after ?? row.before)!.name;
    if (row.after === null ? now !== undefined : now?.version !== row.after.version) {
      throw new InputError('version_conflict', `${name} was changed after this operation; it cannot be ${kind === 'undo' ? 'undone' : 'redone'}`, 'op', 409, {
        id: row.entity_id,
        currentVersion: now?.version ?? null,
      });
    }
  }
  for (const row of rows) {
    if (row.before === null) await tx.query('DELETE FROM region WHERE id = $1', [row.entity_id]);
    else await writeSnapshot(tx, row.before, (row.after?.version ?? row.before.version) + 1);
  }
  const parents = rows.flatMap((r) => [r.before?.parentId, r.after?.parentId]).filter((p): p is number => typeof p === 'number');
  await reassignHouseholdsIn(tx, ids);
  await reassignIncidentsIn(tx, ids);
  await recountHouseholdsAround(tx, [...ids.filter((id) => rows.find((r) => r.entity_id === id)?.before), ...parents]);
  const after = new Map((await snapshots(tx, ids)).map((s) => [s.id, s]));
  const changes: ChangeRow[] = [...new Set(ids)].map((id) => ({ entityId: id, before: current.get(id) ?? null, after: after.get(id) ?? null }));
  const newOp = await recordOperation(tx, actor, kind, changes, op);
  return { op: newOp, reverted: op, action: rows[0]!.action, ids: [...after.keys()] };
}

export async function undo(tx: Queryable, actor: string): Promise<RevertResult> {
  const { rows } = await tx.query<{ op: number }>(
    `SELECT op FROM change WHERE actor = $1 AND action = ANY($2::text[]) AND undone_at IS NULL AND op IS NOT NULL
     ORDER BY op DESC LIMIT 1`,
    [actor, UNDOABLE],
  );
  if (!rows[0]) throw new InputError('nothing_to_undo', `${actor} has no operation left to undo`, '', 409);
  const result = await revert(tx, actor, rows[0].op, 'undo');
  await tx.query('UPDATE change SET undone_at = now() WHERE op = $1', [rows[0].op]);
  return result;
}

/** Redoes the operation most recently undone, as long as no new operation came after the undo. */
export async function redo(tx: Queryable, actor: string): Promise<RevertResult> {
  const { rows } = await tx.query<{ op: number; reverts: number }>(
    `SELECT u.op, u.reverts FROM change u JOIN change o ON o.op = u.reverts
     WHERE u.actor = $1 AND u.action = 'undo' AND o.undone_at IS NOT NULL
       AND u.op > coalesce((SELECT max(op) FROM change WHERE actor = $1 AND action = ANY($2::text[])), 0)
     ORDER BY u.op DESC LIMIT 1`,
    [actor, UNDOABLE],
  );
  if (!rows[0]) throw new InputError('nothing_to_redo', `${actor} has no undone operation to redo`, '', 409);
  const result = await revert(tx, actor, rows[0].op, 'redo');
  const original = await tx.query<{ action: string }>('UPDATE change SET undone_at = NULL WHERE op = $1 RETURNING action', [rows[0].reverts]);
  return { ...result, reverted: rows[0].reverts, action: original.rows[0]!.action };
}
