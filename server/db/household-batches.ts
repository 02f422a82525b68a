import { normalizeAddress } from '../domain/address.ts';
import { InputError } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { assignHouseholds, recountHouseholdsAround } from './households.ts';

/**
 * A household import as undo sees it: the households it added (they carry its operation number in
 * `import_op`) are present or not, and the sizes (and heads and phones) it changed are as it left
 * them or as before. Undo moves the added ones to `household_undone` (same ids) and gives the old
 * values back; redo the reverse. Each state is what the change log stores as `before` and `after`.
 * An edit of one household (its head, phone or size) is a batch of one that adds nothing.
 */
export interface HouseholdBatchState {
  batch: number;
  present: boolean;
  /** [household id, size] of every household whose values the batch set (its size, or only its head or phone). */
  sizes: [number, number][];
  /** [household id, head, phone] of those whose head or phone it set (absent in entries written before heads were kept). */
  people?: [number, string, string][];
  /**
   * A removal (迁出, 拆除, 重复登记): the households it took out. `present` then means the removal stands:
   * they wait in `household_undone` under the batch; undone, they are back in `household` as they were.
   */
  removed?: number[];
  /** [household id, version] of a removal's households as it found them (a redo refuses one changed since). */
  versions?: [number, number][];
}

/**
 * Takes the rows of the given regions and all above them, in one order, before households there are
 * added, removed or resized: their counts are recomputed from what each statement sees, and on
 * PostgreSQL two such writes at once would each count without the other's household (a grid left
 * at 34 with 39 in it). Held to the transaction's end; the embedded database runs one at a time anyway.
 */
export async function lockCounts(tx: Queryable, regionIds: readonly (number | null)[]): Promise<void> {
  const ids = [...new Set(regionIds.filter((r): r is number => r !== null))];
  if (ids.length === 0) return;
  await tx.query('SELECT r.id FROM region r WHERE r.id IN (SELECT a.id FROM gp_ancestors($1::int[]) a) ORDER BY r.id FOR UPDATE OF r', [ids]);
}

/** The finest region a point (an SQL expression) lies in now, as households are filed: its grid where there is one. */
export const REGION_AT = (point: string) =>
  `(SELECT r.id FROM region r WHERE r.geom && ${point} AND ST_Intersects(r.geom, ${point})
    ORDER BY array_position(ARRAY['grid', 'village', 'township', 'district', 'city'], r.level::text), r.id LIMIT 1)`;

/**
 * The regions where the households a batch added, set or took out lie, lay, or will lie when given
 * back: whose counts it changes. A household waiting to come back lands where its point lies now (its
 * grid may have been split, merged or deleted since): a removal's few are placed so; an import's many
 * only where the region they were filed in is gone.
 */
export async function regionsOfBatch(tx: Queryable, state: HouseholdBatchState): Promise<number[]> {
  const ids = [...state.sizes.map(([id]) => id), ...(state.removed ?? [])];
  const { rows } = await tx.query<{ id: number }>(
    `SELECT DISTINCT region_id AS id FROM (
       SELECT region_id FROM household WHERE import_op = $1 OR id = ANY($2::int[])
       UNION ALL SELECT region_id FROM household_undone WHERE op = $1 OR (import_op = $1 AND region_id IS NOT NULL)
       UNION ALL SELECT ${REGION_AT('u.geom')} FROM household_undone u
                 WHERE u.op = $1 AND ($3 OR NOT EXISTS (SELECT 1 FROM region x WHERE x.id = u.region_id))) r
     WHERE region_id IS NOT NULL`,
    [state.batch, ids, !!state.removed],
  );
  return rows.map((r) => r.id);
}

/**
 * A household given back (an undo, a redo, 恢复) to a grid where the same door was added by hand after
 * it was taken out: refused, naming the one there — the worker re-added it meanwhile.
 */
async function refuseSameDoorSince(tx: Queryable, ids: number[], since: number): Promise<void> {
  const { rows } = await tx.query<{ id: number; address: string; region_id: number; other: number; other_address: string }>(
    `SELECT h.id, h.address, h.region_id, o.id AS other, o.address AS other_address
     FROM household h JOIN household o ON o.region_id = h.region_id AND o.id <> h.id AND o.import_op > $2
       JOIN change c ON c.op = o.import_op AND c.entity = 'household' AND c.action = 'create'
     WHERE h.id = ANY($1::int[]) AND h.region_id IS NOT NULL`,
    [ids, since],
  );
  for (const r of rows) {
    const { rows: above } = await tx.query<{ name: string }>('SELECT r.name FROM gp_ancestors($1::int[]) a JOIN region r ON r.id = a.id', [[r.region_id]]);
    const prefixes = above.map((a) => a.name);
    if (normalizeAddress(r.address, prefixes) === normalizeAddress(r.other_address, prefixes)) {
      throw new InputError('duplicate_address', `${r.other_address} was added again since it was taken out: remove one of them first`, 'op', {
        id: r.other,
        address: r.other_address,
      });
    }
  }
}

export async function nextOp(tx: Queryable): Promise<number> {
  return (await tx.query<{ op: number }>(`SELECT nextval('change_op_seq')::int AS op`)).rows[0]!.op;
}

/** What an import or an edit sets on a household already there: each value given (null: left as it is). */
export interface HouseholdUpdate {
  id: number;
  size: number | null;
  head: string | null;
  phone: string | null;
}

/** Sets sizes, heads and phones; what they were and are, for the change log (every household touched is in `sizes`). */
export async function updateHouseholds(
  tx: Queryable,
  updates: HouseholdUpdate[],
  /** A correction by hand (not a list): the head or phone it changes is marked corrected, by whom and when. */
  corrected: { by: string; at: Date } | null = null,
): Promise<{ before: Pick<HouseholdBatchState, 'sizes' | 'people'>; after: Pick<HouseholdBatchState, 'sizes' | 'people'> }> {
  if (updates.length === 0) return { before: { sizes: [] }, after: { sizes: [] } };
  const { rows } = await tx.query<{ id: number; old: number; size: number; old_head: string; head_name: string; old_phone: string; phone: string }>(
    `WITH u AS (SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::text[]) AS t(id, size, head, phone)),
     old AS (SELECT h.id, h.size AS old, h.head_name AS old_head, h.phone AS old_phone FROM household h JOIN u ON u.id = h.id FOR UPDATE OF h)
     UPDATE household h SET size = coalesce(u.size, h.size), head_name = coalesce(u.head, h.head_name), phone = coalesce(u.phone, h.phone),
       version = h.version + 1,
       corrected_at = CASE WHEN $5::timestamptz IS NOT NULL
                             AND (coalesce(u.head, h.head_name), coalesce(u.phone, h.phone)) IS DISTINCT FROM (h.head_name, h.phone)
                           THEN $5::timestamptz ELSE h.corrected_at END,
       corrected_by = CASE WHEN $5::timestamptz IS NOT NULL
                             AND (coalesce(u.head, h.head_name), coalesce(u.phone, h.phone)) IS DISTINCT FROM (h.head_name, h.phone)
                           THEN $6 ELSE h.corrected_by END
     FROM u JOIN old ON old.id = u.id
     -- (a household a list or a form leaves as it is keeps its version: a form open on it stays current)
     WHERE h.id = u.id AND (coalesce(u.size, h.size), coalesce(u.head, h.head_name), coalesce(u.phone, h.phone)) IS DISTINCT FROM (h.size, h.head_name, h.phone)
     RETURNING h.id, old.old, h.size, old.old_head, h.head_name, old.old_phone, h.phone`,
    [
      updates.map((u) => u.id),
      updates.map((u) => u.size),
      updates.map((u) => u.head),
      updates.map((u) => u.phone),
      corrected?.at.toISOString() ?? null,
      corrected?.by ?? null,
    ],
  );
  if (rows.length === 0) return { before: { sizes: [] }, after: { sizes: [] } };
  rows.sort((a, b) => a.id - b.id);
  if (rows.some((r) => r.old !== r.size)) {
    await recountHouseholdsAround(
      tx,
      await regionsOf(
        tx,
        rows.filter((r) => r.old !== r.size).map((r) => r.id),
      ),
    );
  }
  const people = rows.filter((r) => r.old_head !== r.head_name || r.old_phone !== r.phone);
  return {
    before: { sizes: rows.map((r) => [r.id, r.old]), ...(people.length ? { people: people.map((r) => [r.id, r.old_head, r.old_phone]) } : {}) },
    after: { sizes: rows.map((r) => [r.id, r.size]), ...(people.length ? { people: people.map((r) => [r.id, r.head_name, r.phone]) } : {}) },
  };
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
  await lockCounts(tx, await regionsOfBatch(tx, from));
  if (from.removed) return revertRemoval(tx, from, to, kind);
  const ids = from.sizes.map(([id]) => id);
  const { rows } = await tx.query<{ id: number; size: number; head: string; phone: string }>(
    'SELECT id, size, head_name AS head, phone FROM household WHERE id = ANY($1::int[]) FOR UPDATE',
    [ids],
  );
  const now = new Map(rows.map((r) => [r.id, r]));
  if (
    from.sizes.some(([id, size]) => now.get(id)?.size !== size) ||
    (from.people ?? []).some(([id, head, phone]) => now.get(id)?.head !== head || now.get(id)?.phone !== phone)
  ) {
    throw new InputError('version_conflict', `households this change set were changed after it; it cannot be ${kind === 'undo' ? 'undone' : 'redone'}`, 'op', {
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
    // one of them taken out since (迁出…): that removal comes first, or the household would come back from an undone import
    const { rows: out } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM household_undone WHERE import_op = $1 AND op <> $1', [from.batch]);
    if (out[0]!.n > 0) {
      throw new InputError(
        'version_conflict',
        `${out[0]!.n} households this change added were taken out since; undo that first: it cannot be ${kind === 'undo' ? 'undone' : 'redone'}`,
        'op',
        { reason: 'householdsRemoved', n: out[0]!.n },
      );
    }
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
      `WITH moved AS (DELETE FROM household WHERE import_op = $1
                      RETURNING id, geom, size, address, region_id, head_name, phone, version, corrected_at, corrected_by),
       kept AS (INSERT INTO household_undone (op, id, geom, size, address, region_id, head_name, phone, version, corrected_at, corrected_by)
                SELECT $1, id, geom, size, address, region_id, head_name, phone, version, corrected_at, corrected_by FROM moved)
       SELECT DISTINCT region_id FROM moved`,
      [from.batch],
    );
    for (const r of gone) if (r.region_id !== null) touched.add(r.region_id);
  } else if (!from.present && to.present) {
    await tx.query(
      `WITH back AS (DELETE FROM household_undone WHERE op = $1 RETURNING id, geom, size, address, head_name, phone, version, corrected_at, corrected_by)
       INSERT INTO household (id, geom, size, address, import_op, head_name, phone, version, corrected_at, corrected_by)
       SELECT id, geom, size, address, $1, head_name, phone, version, corrected_at, corrected_by FROM back`,
      [from.batch],
    );
    await assignHouseholds(tx, true);
    const { rows: back } = await tx.query<{ id: number }>('SELECT DISTINCT region_id AS id FROM household WHERE import_op = $1 AND region_id IS NOT NULL', [
      from.batch,
    ]);
    for (const r of back) touched.add(r.id);
  }
  if (to.sizes.length > 0) {
    const people = new Map((to.people ?? []).map(([id, head, phone]) => [id, { head, phone }]));
    await tx.query(
      `UPDATE household h SET size = t.size, head_name = coalesce(t.head, h.head_name), phone = coalesce(t.phone, h.phone), version = h.version + 1
       FROM unnest($1::int[], $2::int[], $3::text[], $4::text[]) AS t(id, size, head, phone) WHERE h.id = t.id`,
      [
        to.sizes.map(([id]) => id),
        to.sizes.map(([, s]) => s),
        to.sizes.map(([id]) => people.get(id)?.head ?? null),
        to.sizes.map(([id]) => people.get(id)?.phone ?? null),
      ],
    );
  }
  await recountHouseholdsAround(tx, [...touched]);
}

/** One household as its grid worker sees it: where, who, and its version for an edit. */
export interface HouseholdRecord {
  id: number;
  regionId: number | null;
  address: string;
  size: number;
  head: string;
  phone: string;
  version: number;
}

export const householdRecord = async (q: Queryable, id: number, lock = false): Promise<HouseholdRecord | null> =>
  (
    await q.query<HouseholdRecord>(
      `SELECT id, region_id AS "regionId", address, size, head_name AS head, phone, version FROM household WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    )
  ).rows[0] ?? null;

/**
 * Corrects one household (its head, phone or size), as its grid worker finds it at the door or a
 * planner from a register: refused when it changed since the form was read (409); one operation
 * in the change log, which undo takes back like an import's.
 */
export async function editHousehold(
  tx: Queryable,
  actor: string,
  before: HouseholdRecord,
  edit: { version: number; head?: string; phone?: string; size?: number },
  now: Date,
): Promise<HouseholdRecord & { op: number | null }> {
  if (edit.version !== before.version) {
    throw new InputError('version_conflict', `household ${before.id} is at version ${before.version}, not ${edit.version}: it changed meanwhile`, 'version', {
      currentVersion: before.version,
    });
  }
  const update = { id: before.id, size: edit.size ?? null, head: edit.head ?? null, phone: edit.phone ?? null };
  if ((update.size ?? before.size) === before.size && (update.head ?? before.head) === before.head && (update.phone ?? before.phone) === before.phone)
    return { ...before, op: null };
  const op = await nextOp(tx);
  const changed = await updateHouseholds(tx, [update], { by: actor, at: now });
  await recordHouseholdBatch(tx, op, actor, 'update', { batch: op, present: true, ...changed.before }, { batch: op, present: true, ...changed.after }, null, {
    edited: 1,
  });
  return { ...(await householdRecord(tx, before.id))!, op };
}

/** Takes the households of a removal out (`to.present`) or gives them back as they were (undo); 409 when one changed or came back since. */
async function revertRemoval(tx: Queryable, from: HouseholdBatchState, to: HouseholdBatchState, kind: 'undo' | 'redo'): Promise<void> {
  const ids = from.removed!;
  const verb = kind === 'undo' ? 'undone' : 'redone';
  if (to.present) {
    // (redo: each as the undo left it, or someone changed it since)
    const { rows } = await tx.query<{ id: number; version: number }>('SELECT id, version FROM household WHERE id = ANY($1::int[]) FOR UPDATE', [ids]);
    const kept = new Map((to.versions ?? []).map(([id, v]) => [id, v]));
    if (rows.length !== ids.length || rows.some((r) => kept.has(r.id) && kept.get(r.id) !== r.version)) {
      throw new InputError('version_conflict', `households this change removed were changed after it; it cannot be ${verb}`, 'op', { reason: 'households' });
    }
    await takeOut(tx, from.batch, ids);
  } else {
    const { rows: back } = await tx.query<{ region_id: number | null }>(
      `WITH back AS (DELETE FROM household_undone WHERE op = $1 AND id = ANY($2::int[])
                     RETURNING id, geom, size, address, import_op, head_name, phone, version, corrected_at, corrected_by)
       INSERT INTO household (id, geom, size, address, import_op, head_name, phone, version, corrected_at, corrected_by)
       SELECT id, geom, size, address, import_op, head_name, phone, version, corrected_at, corrected_by FROM back
       RETURNING id`,
      [from.batch, ids],
    );
    if (back.length !== ids.length) {
      throw new InputError('version_conflict', `households this change removed are no longer waiting to come back; it cannot be ${verb}`, 'op', {
        reason: 'households',
      });
    }
    await assignHouseholds(tx, true);
    await refuseSameDoorSince(tx, ids, from.batch);
    await recountHouseholdsAround(tx, await regionsOf(tx, ids));
  }
}

/** Moves households out of the plan into `household_undone` under `op`, and recounts where they were. */
async function takeOut(tx: Queryable, op: number, ids: number[]): Promise<void> {
  const { rows } = await tx.query<{ region_id: number | null }>(
    `WITH moved AS (DELETE FROM household WHERE id = ANY($2::int[])
                    RETURNING id, geom, size, address, region_id, import_op, head_name, phone, version, corrected_at, corrected_by),
     kept AS (INSERT INTO household_undone (op, id, geom, size, address, region_id, import_op, head_name, phone, version, corrected_at, corrected_by)
              SELECT $1, id, geom, size, address, region_id, import_op, head_name, phone, version, corrected_at, corrected_by FROM moved)
     SELECT DISTINCT region_id FROM moved`,
    [op, ids],
  );
  await recountHouseholdsAround(
    tx,
    rows.flatMap((r) => (r.region_id === null ? [] : [r.region_id])),
  );
}

/** Why a household leaves the plan: moved away (迁出), its house pulled down (拆除), entered twice (重复登记), or otherwise. */
export const REMOVAL_REASONS = ['moved', 'demolished', 'duplicate', 'other'] as const;
export type RemovalReason = (typeof REMOVAL_REASONS)[number];

/** A household as it is added: where it is (lon/lat), its address, size, head and phone. */
export interface NewHousehold {
  lon: number;
  lat: number;
  address: string;
  size: number;
  head: string;
  phone: string;
}

/**
 * A household its grid worker found at the door and no list had (新增住户): placed where it is, filed
 * by its grid, counted there; its head and phone count as corrected by hand (a register imported later
 * keeps them unless the clerk says otherwise). One operation, which undo takes back like an import's.
 */
export async function addHousehold(
  tx: Queryable,
  actor: string,
  h: NewHousehold,
  now: Date,
  /** The phone's own key (an addition kept offline): kept in the change log, so that sent twice it is added once. */
  key?: string,
): Promise<HouseholdRecord & { op: number }> {
  // (the caller holds lockCounts on the grid it lies in: it checked the grid's addresses under it)
  const op = await nextOp(tx);
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO household (geom, size, address, head_name, phone, import_op, corrected_at, corrected_by)
     VALUES (ST_SetSRID(ST_MakePoint($1, $2), 4326), $3, $4, $5, $6, $7, CASE WHEN $5 <> '' OR $6 <> '' THEN $8::timestamptz END,
             CASE WHEN $5 <> '' OR $6 <> '' THEN $9 END)
     RETURNING id`,
    [h.lon, h.lat, h.size, h.address, h.head, h.phone, op, now.toISOString(), actor],
  );
  const id = rows[0]!.id;
  await assignHouseholds(tx, true);
  await recountHouseholdsAround(tx, await regionsOf(tx, [id]));
  await recordHouseholdBatch(tx, op, actor, 'create', { batch: op, present: false, sizes: [] }, { batch: op, present: true, sizes: [] }, null, {
    imported: 1,
    address: h.address,
    ...(key ? { key } : {}),
  });
  return { ...(await householdRecord(tx, id))!, op };
}

/**
 * Takes one household out of the plan (迁出, 拆除, 重复登记), refused when it changed since the form was
 * read (409). It waits in `household_undone`: undo gives it back with its visits (they keep its id).
 */
export async function removeHousehold(
  tx: Queryable,
  actor: string,
  before: HouseholdRecord,
  edit: { version: number; reason: RemovalReason; note: string },
): Promise<{ id: number; op: number }> {
  if (edit.version !== before.version) {
    throw new InputError('version_conflict', `household ${before.id} is at version ${before.version}, not ${edit.version}: it changed meanwhile`, 'version', {
      currentVersion: before.version,
    });
  }
  const op = await nextOp(tx);
  await takeOut(tx, op, [before.id]);
  const summary = { removedCount: 1, reason: edit.reason, note: edit.note, address: before.address };
  await recordHouseholdBatch(
    tx,
    op,
    actor,
    'delete',
    { batch: op, present: false, sizes: [], removed: [before.id] },
    { batch: op, present: true, sizes: [], removed: [before.id], versions: [[before.id, before.version]] },
    null,
    summary,
  );
  return { id: before.id, op };
}

/** A household taken out, as the list of those removed shows it: where it was, why and by whom, and the removal to take back. */
export interface RemovedHousehold {
  id: number;
  address: string;
  size: number;
  head: string;
  regionId: number | null;
  removedAt: string;
  by: string;
  reason: string | null;
  note: string | null;
  op: number;
}

/** The households taken out of some grids (迁出, 拆除, 重复登记) whose removal stands, newest first. */
export async function removedHouseholds(q: Queryable, gridIds: number[], limit = 200): Promise<RemovedHousehold[]> {
  const { rows } = await q.query<RemovedHousehold & { removedAt: Date | string }>(
    `SELECT u.id, u.address, u.size, u.head_name AS head, u.region_id AS "regionId", c.at AS "removedAt",
            coalesce(nullif(w.name, ''), nullif(a.display_name, ''), c.actor) AS by, c.after->>'reason' AS reason, nullif(c.after->>'note', '') AS note, u.op
     FROM household_undone u JOIN change c ON c.op = u.op AND c.entity = 'household' AND c.action = 'delete'
       -- (the person, as the change log names them: a grid worker's name for a worker's account)
       LEFT JOIN app_user a ON a.username = c.actor LEFT JOIN worker w ON w.id = a.worker_id
     -- (where each would come back now: its grid may have been split, merged or deleted since)
     WHERE EXISTS (SELECT 1 FROM region g WHERE g.id = ANY($1::int[]) AND g.geom && u.geom) AND ${REGION_AT('u.geom')} = ANY($1::int[])
     ORDER BY c.at DESC, u.id LIMIT $2`,
    [gridIds, limit],
  );
  return rows.map((r) => ({ ...r, removedAt: new Date(r.removedAt).toISOString() }));
}

/**
 * 恢复: gives back the households of a removal that stands, as they were (their visits kept their ids),
 * by anyone whose area they lie in — not only the one who took them out, and long after. One
 * operation ('restore') that undo takes back; the removal is marked taken back. 409 when it no
 * longer stands (restored or undone meanwhile).
 */
export async function restoreRemoval(tx: Queryable, actor: string, removal: number): Promise<{ op: number; ids: number[] }> {
  // (held while restoring: two restores at once give the household back once)
  const { rows } = await tx.query<{ before: HouseholdBatchState; after: HouseholdBatchState }>(
    `SELECT before, after FROM change WHERE op = $1 AND entity = 'household' AND action = 'delete' ORDER BY id FOR UPDATE`,
    [removal],
  );
  const c = rows[0];
  if (!c?.after.removed) throw new InputError('not_found', `operation ${removal} took out no household`, 'op');
  const { rows: waiting } = await tx.query<{ id: number }>('SELECT id FROM household_undone WHERE op = $1 ORDER BY id', [removal]);
  if (waiting.length === 0) throw new InputError('version_conflict', `the households of operation ${removal} are back already`, 'op', { reason: 'taken' });
  const op = await nextOp(tx);
  await revertHouseholdBatch(tx, c.after, c.before, 'undo');
  await recordHouseholdBatch(tx, op, actor, 'restore', c.after, c.before, removal);
  // the removal, and whatever holds it in force now (its redo, an undo of an earlier restore), is taken back: none is left on
  // someone's undo list with nothing to take back
  await tx.query(
    `UPDATE change SET undone_at = now()
     WHERE entity = 'household' AND undone_at IS NULL AND op <> $2 AND after ? 'removed'
       AND (after->>'batch')::int = $1 AND (after->>'present')::boolean`,
    [removal, op],
  );
  return { op, ids: waiting.map((w) => w.id) };
}
