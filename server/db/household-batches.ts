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
       kept AS (INSERT INTO household_undone (op, id, geom, size, address, head_name, phone, version, corrected_at, corrected_by)
                SELECT $1, id, geom, size, address, head_name, phone, version, corrected_at, corrected_by FROM moved)
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
