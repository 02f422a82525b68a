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
export async function changeHistory(
  db: Queryable,
  entityId: number | undefined,
  limit: number,
  /** What the caller may see: every entry (null), or only these kinds, and only regions within `regionId` when set. */
  seen: { entities: readonly string[]; regionId: number | null } | null = null,
): Promise<ChangeEntry[]> {
  const { rows } = await db.query<Omit<ChangeEntry, 'at'> & { at: Date | string }>(
    `SELECT id, op, at, actor, action, entity, entity_id AS "entityId", undone_at IS NOT NULL AS undone FROM change c
     WHERE ($1::int IS NULL OR entity_id = $1)
       AND ($3::text[] IS NULL OR entity = ANY($3::text[]))
       AND ($4::int IS NULL OR (entity = 'region' AND (entity_id IN (SELECT id FROM gp_subtree($4::int))
             OR (c.before->>'parentId')::int IN (SELECT id FROM gp_subtree($4::int))
             OR (c.after->>'parentId')::int IN (SELECT id FROM gp_subtree($4::int)))))
     ORDER BY id DESC LIMIT $2`,
    [entityId ?? null, limit, seen ? [...seen.entities] : null, seen?.regionId ?? null],
  );
  return rows.map((r) => ({ ...r, at: new Date(r.at).toISOString() }));
}

/** The entities one operation changed. */
export async function entitiesOf(db: Queryable, op: number): Promise<number[]> {
  // (regions only: an import of households or cases logs its batch without an id, which an answer named as null)
  const { rows } = await db.query<{ entity_id: number }>(`SELECT DISTINCT entity_id FROM change WHERE op = $1 AND entity = 'region'`, [op]);
  return rows.map((r) => r.entity_id);
}

/** One operation as the change log lists it: who did what, when, where. */
export interface OperationEntry {
  op: number;
  at: string;
  actor: string;
  /** Who that is, in words: the grid worker's name for a worker's account, else the account's name, else the user name. */
  actorName: string;
  action: string;
  /** What it changed: regions, households, incidents… */
  entity: string;
  /** Regions it touched, and the names of the first few (as they were left, or before a deletion). */
  regions: number;
  names: string[];
  /** The region to show for it (the first one touched that still exists). */
  regionId: number | null;
  undone: boolean;
  /** Undone or redone operation this one reverted, and what that one was (撤销 of an 导入 says so). */
  reverts: number | null;
  revertsAction: string | null;
  /** An import of households or incidents, which names no region: how many it brought in or changed. */
  counts: { added: number; updated: number; removed?: number } | null;
  /** A household taken out: why (`moved`, `demolished`, `duplicate`, `other`) and the note given; else null. */
  reason: string | null;
  note: string | null;
}

/**
 * Operations, newest first, filtered by the region they touched (it or anything below it, also
 * what was deleted from it; households brought in, by where they lie), the person and the kind; and the caller's next undo (the operation
 * POST /api/changes/undo would take back now).
 */
export async function operations(
  db: Queryable,
  filter: { regionId?: number | undefined; actor?: string | undefined; action?: string | undefined; limit: number; incidents?: boolean },
  caller: string,
  undoable: readonly string[],
): Promise<{ operations: OperationEntry[]; nextUndo: number | null }> {
  const { rows } = await db.query<Omit<OperationEntry, 'at'> & { at: Date | string }>(
    `WITH scope AS (SELECT id FROM gp_subtree($1::int)), ops AS (
     SELECT c.op, min(c.at) AS at, min(c.actor) AS actor, min(c.action) AS action, min(c.entity) AS entity,
            count(*) FILTER (WHERE c.entity = 'region')::int AS regions,
            coalesce((array_agg(coalesce(c.after->>'name', c.before->>'name') ORDER BY c.id) FILTER (WHERE c.entity = 'region'))[1:3],
                     -- one household added or removed by hand: its address
                     (array_agg(c.after->>'address' ORDER BY c.id) FILTER (WHERE c.entity = 'household' AND c.after->>'address' <> ''))[1:1],
                     '{}') AS names,
            -- one household corrected by hand (户主, 电话, 人数): which, named below by its address
            (array_agg((c.after->'sizes'->0->>0)::int) FILTER (WHERE c.entity = 'household' AND c.action = 'update'
               AND jsonb_typeof(c.after->'sizes') = 'array' AND jsonb_array_length(c.after->'sizes') = 1))[1] AS corrected,
            -- a household taken out: why (迁出, 拆除, 重复登记…) and the note given
            (array_agg(c.after->>'reason' ORDER BY c.id) FILTER (WHERE c.entity = 'household' AND c.after ? 'reason'))[1] AS reason,
            (array_agg(nullif(c.after->>'note', '') ORDER BY c.id) FILTER (WHERE c.entity = 'household' AND c.after ? 'reason'))[1] AS note,
            (array_agg(c.entity_id ORDER BY c.id) FILTER (WHERE c.entity = 'region' AND EXISTS (SELECT 1 FROM region r WHERE r.id = c.entity_id)))[1]
              AS "regionId",
            bool_or(c.undone_at IS NOT NULL) AS undone, min(c.reverts) AS reverts,
            (array_agg(CASE WHEN c.entity = 'household' THEN jsonb_build_object(
                 'added', CASE WHEN (c.after->>'present')::boolean AND NOT coalesce((c.before->>'present')::boolean, false)
                          THEN coalesce((c.after->>'imported')::int, 0) ELSE 0 END,
                 'updated', jsonb_array_length(coalesce(c.after->'sizes', '[]'::jsonb)),
                 'removed', CASE WHEN (c.after->>'present')::boolean AND jsonb_typeof(c.after->'removed') = 'array'
                            THEN jsonb_array_length(c.after->'removed') ELSE 0 END)
               WHEN c.entity = 'incident' AND c.after ? 'count' AND c.after ? 'batch' THEN jsonb_build_object(
                 'added', CASE WHEN (c.after->>'present')::boolean THEN (c.after->>'count')::int ELSE 0 END, 'updated', 0) END ORDER BY c.id)
              FILTER (WHERE c.entity IN ('household', 'incident')))[1] AS counts
     FROM change c
     WHERE c.op IS NOT NULL
       AND ($2::text IS NULL OR c.actor = $2)
       -- the kind: 住户 (households added, corrected, taken out, brought in) apart from the plan's own 新建/修改/删除
       AND ($3::text IS NULL OR CASE WHEN $3 = 'household' THEN c.entity = 'household'
                                     ELSE c.action = $3 AND ($3 IN ('import', 'undo', 'redo') OR c.entity <> 'household') END)
       AND ($5::boolean OR c.op NOT IN (SELECT x.op FROM change x WHERE x.op IS NOT NULL AND x.entity = 'incident'))
       AND ($1::int IS NULL OR c.op IN (
         SELECT x.op FROM change x WHERE x.op IS NOT NULL AND x.entity = 'region' AND (
           x.entity_id IN (SELECT id FROM scope)
           OR (x.before->>'parentId')::int IN (SELECT id FROM scope) OR (x.after->>'parentId')::int IN (SELECT id FROM scope)))
         -- households brought in (an import, a list), or whose sizes one set (an import that only updated, its undo):
         -- where they lie
         -- households brought in (an import, a list, one added by hand), whose values one set, or one took out — where they
         -- lie, or lay (taken out since, or waiting for a redo); each an index lookup, not one scan of every household per row
         OR (c.entity = 'household' AND (
               EXISTS (SELECT 1 FROM household h WHERE h.import_op IN (c.op, (c.after->>'batch')::int) AND h.region_id IN (SELECT id FROM scope))
            OR EXISTS (SELECT 1 FROM household h
                       WHERE h.id IN (SELECT (e->>0)::int FROM jsonb_array_elements(coalesce(c.after->'sizes', '[]'::jsonb)) e
                                      UNION ALL SELECT e::int FROM jsonb_array_elements_text(coalesce(c.after->'removed', '[]'::jsonb)) e)
                         AND h.region_id IN (SELECT id FROM scope))
            OR EXISTS (SELECT 1 FROM household_undone u WHERE u.op = (c.after->>'batch')::int AND u.region_id IN (SELECT id FROM scope))
            OR EXISTS (SELECT 1 FROM household_undone u WHERE u.import_op IN (c.op, (c.after->>'batch')::int) AND u.region_id IN (SELECT id FROM scope))
            OR EXISTS (SELECT 1 FROM household_undone u
                       WHERE u.id IN (SELECT e::int FROM jsonb_array_elements_text(coalesce(c.after->'removed', '[]'::jsonb)) e)
                         AND u.region_id IN (SELECT id FROM scope)))))
     GROUP BY c.op ORDER BY c.op DESC LIMIT $4)
     SELECT o.op, o.at, o.actor, o.action, o.entity, o.regions, o.reason, o.note, o."regionId", o.undone, o.reverts, o.counts,
            (SELECT r.action FROM change r WHERE r.op = o.reverts ORDER BY r.id LIMIT 1) AS "revertsAction",
            coalesce(nullif(w.name, ''), nullif(u.display_name, ''), o.actor) AS "actorName",
            CASE WHEN cardinality(o.names) = 0 AND o.corrected IS NOT NULL THEN coalesce(
              (SELECT ARRAY[h.address] FROM household h WHERE h.id = o.corrected AND h.address <> ''),
              (SELECT ARRAY[h.address] FROM household_undone h WHERE h.id = o.corrected AND h.address <> '' LIMIT 1), o.names) ELSE o.names END AS names
     FROM ops o LEFT JOIN app_user u ON u.username = o.actor LEFT JOIN worker w ON w.id = u.worker_id
     ORDER BY o.op DESC`,
    [filter.regionId ?? null, filter.actor ?? null, filter.action ?? null, filter.limit, filter.incidents ?? true],
  );
  const { rows: next } = await db.query<{ op: number }>(
    `SELECT op FROM change WHERE actor = $1 AND action = ANY($2::text[]) AND undone_at IS NULL AND op IS NOT NULL ORDER BY op DESC LIMIT 1`,
    [caller, [...undoable, 'redo']],
  );
  return { operations: rows.map((r) => ({ ...r, at: new Date(r.at).toISOString() })), nextUndo: next[0]?.op ?? null };
}
