import type { Queryable } from './db.ts';

export interface ChangeEntry {
  id: number;
  op: number | null;
  at: string;
  actor: string;
  action: string;
  entity: string;
  entityId: number | null;
  undone: boolean;
}

/** The change log, newest first (of one entity when given). */
export async function changeHistory(db: Queryable, entityId: number | undefined, limit: number): Promise<ChangeEntry[]> {
  const { rows } = await db.query<Omit<ChangeEntry, 'at'> & { at: Date | string }>(
    `SELECT id, op, at, actor, action, entity, entity_id AS "entityId", undone_at IS NOT NULL AS undone FROM change
     WHERE $1::int IS NULL OR entity_id = $1 ORDER BY id DESC LIMIT $2`,
    [entityId ?? null, limit],
  );
  return rows.map((r) => ({ ...r, at: new Date(r.at).toISOString() }));
}

/** The entities one operation changed. */
export async function entitiesOf(db: Queryable, op: number): Promise<number[]> {
  const { rows } = await db.query<{ entity_id: number }>('SELECT DISTINCT entity_id FROM change WHERE op = $1', [op]);
  return rows.map((r) => r.entity_id);
}
