/**
 * Drafts: a working copy of one region's subtree in its own schema, edited with the same code as
 * the live plan, reviewed step by step and published into the live plan in one transaction.
 *
 * Why a schema per draft: every editor operation, auto-split, coverage check and undo reads and
 * writes `region`, `household`, `grid_staff` and `change` by name. A request on a draft sets
 * `search_path` to the draft's schema first, so those names mean the draft's tables and all of
 * that code runs on the draft unchanged — no `draft_id` filter to forget in a hundred queries.
 * Other tables (workers, rules, accounts) are the live ones; `incident` is an empty shadow, so an
 * edit in a draft never re-files a live incident.
 */
import { InputError, notFound } from '../domain/errors.ts';
import type { Db, Queryable, Tx } from './db.ts';
import { reassignHouseholdsIn, recountHouseholdsAround, assignHouseholds } from './households.ts';
import { reassignIncidentsIn } from './incidents.ts';
import { recordOperation, snapshots, type ChangeRow, type RegionSnapshot } from './region-store.ts';
import { sameState } from './undo.ts';
import { recordChange } from './regions.ts';
import { lockVersion } from './versions.ts';

export const DRAFT_STATUSES = ['editing', 'submitted', 'scheduled', 'published', 'rejected', 'withdrawn', 'conflict'] as const;
export type DraftStatus = (typeof DRAFT_STATUSES)[number];

export interface DraftRow {
  id: number;
  regionId: number;
  regionName: string;
  regionLevel: string;
  name: string;
  createdBy: string;
  /** Who made it, as the header names people (the login where there is no display name). */
  createdByName: string;
  createdAt: string;
  status: DraftStatus;
  step: number;
  basedAt: string;
  effectiveFrom: string | null;
  fromVersion: number | null;
  version: number;
  updatedAt: string;
}

export interface ApprovalStep {
  step: number;
  level: 'district' | 'township' | 'village';
  zh: string;
  en: string;
  roles: string[];
}

/** The schema of a draft (the id is an integer we read from the database, never text from a request). */
export const draftSchema = (id: number): string => {
  if (!Number.isInteger(id) || id <= 0) throw new Error(`no draft id: ${id}`);
  return `gp_draft_${id}`;
};
/** The live plan of the subtree as the draft was copied from it (or last rebased onto it): region and grid_staff. */
const baseSchema = (id: number): string => `${draftSchema(id)}_base`;

/** The tables a draft shadows; `incident` stays empty. */
const SHADOWED = ['region', 'household', 'grid_staff', 'change', 'incident'] as const;
/** The views over those tables, made anew in a draft's schema (a view is bound to the tables it was made on). */
const DRAFT_VIEWS = ['grid_range'] as const;

/**
 * The database as a draft sees it: each query and transaction runs with the draft's schema first
 * on the search path (one transaction per query, so a pooled connection never keeps it). Each
 * transaction first holds the draft's row (shared) and checks it is still there to read — or, for
 * `write`, still being edited: a withdrawal or publication takes the row exclusively, so it waits
 * for writes in flight and no write starts after it (a missing schema would otherwise fall through
 * the search path to the live tables).
 */
export function inDraft(db: Db, id: number, mode: 'read' | 'write' = 'read'): Db {
  const set = `SET LOCAL search_path TO ${draftSchema(id)}, public`;
  const scoped = <T>(fn: (tx: Tx) => Promise<T>) =>
    db.transaction(async (tx) => {
      await assertDraftOpen(tx, id, mode);
      await tx.exec(set);
      return fn(tx);
    });
  return {
    driver: db.driver,
    url: db.url,
    query: (sql, params) => scoped((tx) => tx.query(sql, params)),
    exec: (sql) => scoped((tx) => tx.exec(sql)),
    transaction: scoped,
    close: async () => {},
  } as Db;
}

/** Holds a draft's row for the transaction and refuses when its copy is gone (or, to write, when it is not being edited). */
export async function assertDraftOpen(tx: Queryable, id: number, mode: 'read' | 'write'): Promise<void> {
  const { rows } = await tx.query<{ status: DraftStatus; name: string }>('SELECT status, name FROM public.draft WHERE id = $1 FOR SHARE', [id]);
  const d = rows[0];
  if (!d) throw new InputError('not_found', `draft ${id} does not exist`, 'draft');
  if (mode === 'write' && d.status !== 'editing') {
    throw new InputError('draft_locked', `the draft “${d.name}” is ${d.status}: only a draft being edited can change (a reviewer can send it back)`, 'draft', {
      status: d.status,
    });
  }
  if (GONE.includes(d.status)) {
    throw new InputError('draft_state', `the draft “${d.name}” is ${d.status}: its copy is gone (compare the plan by date or version instead)`, 'draft', {
      status: d.status,
    });
  }
}

/** A login as the header names its person: the account's display name, else the login itself (an account since deleted, 'system'). */
export const personName = (login: string) => `coalesce((SELECT nullif(u.display_name, '') FROM public.app_user u WHERE u.username = ${login}), ${login})`;

/** States in which a draft's copy has been dropped. */
export const GONE: readonly DraftStatus[] = ['published', 'withdrawn', 'rejected'];

const DRAFT_JSON = `d.id, d.region_id AS "regionId", coalesce(r.name, '') AS "regionName", coalesce(r.level, '') AS "regionLevel", d.name,
  d.created_by AS "createdBy", ${personName('d.created_by')} AS "createdByName",
  to_json(d.created_at) #>> '{}' AS "createdAt", d.status, d.step, to_json(d.based_at) #>> '{}' AS "basedAt",
  to_json(d.effective_from) #>> '{}' AS "effectiveFrom", d.from_version AS "fromVersion", d.version, to_json(d.updated_at) #>> '{}' AS "updatedAt"`;

export async function draftById(db: Queryable, id: number, lock = false): Promise<DraftRow | null> {
  const { rows } = await db.query<DraftRow>(
    `SELECT ${DRAFT_JSON} FROM draft d LEFT JOIN public.region r ON r.id = d.region_id WHERE d.id = $1 ${lock ? 'FOR UPDATE OF d' : ''}`,
    [id],
  );
  return rows[0] ?? null;
}

/** The plan's approval steps, or a district's where it set its own (`districtId`). */
export async function approvalSteps(db: Queryable, districtId: number | null = null): Promise<ApprovalStep[]> {
  if (districtId !== null) {
    const { rows } = await db.query<ApprovalStep>('SELECT step, level, zh, en, roles FROM public.district_approval_step WHERE district_id = $1 ORDER BY step', [
      districtId,
    ]);
    if (rows.length > 0) return rows;
  }
  const { rows } = await db.query<ApprovalStep>('SELECT step, level, zh, en, roles FROM public.approval_step ORDER BY step');
  return rows;
}

/** The steps a draft of this region passes: its district's own, else the plan's (a city's draft: the plan's). */
export async function stepsOfRegion(db: Queryable, regionId: number): Promise<ApprovalStep[]> {
  const { rows } = await db.query<{ d: number | null }>('SELECT gp_district_of($1) AS d', [regionId]);
  return approvalSteps(db, rows[0]?.d ?? null);
}

/** A district's approval steps: its own (`own`), else the plan's, with the plan's beside them (`defaults`). */
export async function districtApprovalSteps(db: Queryable, districtId: number): Promise<{ own: boolean; steps: ApprovalStep[]; defaults: ApprovalStep[] }> {
  const [defaults, { rows }] = await Promise.all([
    approvalSteps(db),
    db.query<ApprovalStep>('SELECT step, level, zh, en, roles FROM public.district_approval_step WHERE district_id = $1 ORDER BY step', [districtId]),
  ]);
  return { own: rows.length > 0, steps: rows.length > 0 ? rows : defaults, defaults };
}

/** A district's steps as the settings log keeps them: whether they are its own said as a field too. */
export const loggedDistrictSteps = (zh: string, m: { own: boolean; steps: ApprovalStep[] }) => ({
  zh,
  districtOwn: m.own ? 'yes' : 'no',
  steps: m.steps,
});

/** The version of a district's steps: the change log's newest entry for them (0: never changed). */
export async function districtStepsVersion(db: Queryable, districtId: number): Promise<number> {
  const { rows } = await db.query<{ v: number }>(
    `SELECT coalesce(max(id), 0)::int AS v FROM public.change WHERE entity = 'district_approval_step' AND entity_id = $1`,
    [districtId],
  );
  return rows[0]!.v;
}

/** Writes a district's own steps, in order (null: it follows the plan's). */
export async function writeDistrictSteps(tx: Queryable, districtId: number, steps: StepInput[] | null): Promise<void> {
  await tx.query('DELETE FROM district_approval_step WHERE district_id = $1', [districtId]);
  if (!steps) return;
  await tx.query(
    `INSERT INTO district_approval_step (district_id, step, level, zh, en, roles)
     SELECT $5, t.ord - 1, t.level, t.zh, t.en, string_to_array(t.roles, ',')
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(level, zh, en, roles, ord)`,
    [steps.map((s) => s.level), steps.map((s) => s.zh), steps.map((s) => s.en), steps.map((s) => [...new Set(s.roles)].join(',')), districtId],
  );
}

/**
 * Sets a district's own approval steps (admin), or null to follow the plan's again: refused while one of its drafts
 * is under review, or when they changed since the version read; logged, and undone from the settings history.
 */
export async function setDistrictApprovalSteps(
  tx: Queryable,
  actor: string,
  districtId: number,
  steps: StepInput[] | null,
  version?: number,
): Promise<{ own: boolean; steps: ApprovalStep[]; defaults: ApprovalStep[] }> {
  const { rows: d } = await tx.query<{ name: string }>("SELECT name FROM region WHERE id = $1 AND level = 'district' FOR UPDATE", [districtId]);
  if (!d[0]) throw notFound('district', districtId);
  const current = await districtStepsVersion(tx, districtId);
  if (version !== undefined && version !== current) {
    throw new InputError('version_conflict', `the approval steps were changed meanwhile (version ${current}, not ${version}): reload and retry`, 'version', {
      currentVersion: current,
    });
  }
  const before = await districtApprovalSteps(tx, districtId);
  const ownOf = (m: { own: boolean; steps: ApprovalStep[] }) => JSON.stringify(m.own ? m.steps.map((s) => [s.level, s.zh, s.en, [...s.roles].sort()]) : null);
  await assertNoDraftUnderReview(tx, districtId);
  await writeDistrictSteps(tx, districtId, steps);
  const after = await districtApprovalSteps(tx, districtId);
  // (a change that changes nothing is no change: not logged, and nobody editing at this version is refused for it)
  if (ownOf(after) === ownOf(before)) return after;
  await recordChange(tx, {
    actor,
    action: 'update',
    entity: 'district_approval_step',
    entityId: districtId,
    before: loggedDistrictSteps(d[0].name, before),
    after: loggedDistrictSteps(d[0].name, after),
  });
  return after;
}

export interface StepInput {
  level: 'district' | 'township' | 'village';
  zh: string;
  en: string;
  roles: string[];
}

/**
 * Refused while a draft that passes these steps is under review: its steps were set when it was submitted. The plan's
 * steps (`districtId` null) are those of every draft whose district has none of its own; a district's, its drafts'.
 */
export async function assertNoDraftUnderReview(tx: Queryable, districtId: number | null = null): Promise<void> {
  // (the open drafts locked: a submission racing this change waits for it, then takes the steps it leaves — or this
  // change, waiting for the submission, sees the draft under review and is refused)
  const { rows } = await tx.query<{ status: string; district: number | null; own: boolean }>(
    `SELECT d.status, x.district, EXISTS (SELECT 1 FROM public.district_approval_step s WHERE s.district_id = x.district) AS own
     FROM public.draft d, LATERAL (SELECT gp_district_of(d.region_id) AS district) x
     WHERE d.status IN ('editing', 'conflict', 'submitted', 'scheduled') ORDER BY d.id FOR UPDATE OF d`,
  );
  const n = rows.filter((r) => (r.status === 'submitted' || r.status === 'scheduled') && (districtId === null ? !r.own : r.district === districtId)).length;
  if (n > 0) throw new InputError('conflict', `${n} drafts are under review: decide them before changing the steps`, 'steps');
}

/** Writes the approval steps, in order (the previous ones go). */
export async function writeApprovalSteps(tx: Queryable, steps: StepInput[]): Promise<void> {
  await tx.query('DELETE FROM approval_step');
  await tx.query(
    `INSERT INTO approval_step (step, level, zh, en, roles)
     SELECT t.ord - 1, t.level, t.zh, t.en, string_to_array(t.roles, ',')
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(level, zh, en, roles, ord)`,
    [steps.map((s) => s.level), steps.map((s) => s.zh), steps.map((s) => s.en), steps.map((s) => [...new Set(s.roles)].join(','))],
  );
}

/**
 * Sets the approval steps (admin), when no draft is under review and nobody changed them since the
 * version read; logged with the steps before, so the settings history shows it and can undo it.
 */
export async function setApprovalSteps(tx: Queryable, actor: string, steps: StepInput[], version?: number): Promise<ApprovalStep[]> {
  await lockVersion(tx, 'approval_step', null, version, 'the approval steps', 'If-Match');
  await assertNoDraftUnderReview(tx);
  const before = await approvalSteps(tx);
  await writeApprovalSteps(tx, steps);
  const after = await approvalSteps(tx);
  await recordChange(tx, { actor, action: 'update', entity: 'approval_step', entityId: null, before, after });
  return after;
}

const LEVEL_RANK: Record<string, number> = { district: 0, township: 1, village: 2, grid: 3 };

/** The steps a draft of a region at `level` passes: those at its level or above (a district's draft skips the township's review). */
export const stepsFor = (steps: ApprovalStep[], level: string) => steps.filter((s) => LEVEL_RANK[s.level]! <= (LEVEL_RANK[level] ?? 3));

/**
 * Copies a region's subtree (and its ancestors, for context) into a new draft's schema, with the
 * households filed there and the grids' staff, and remembers the live version of each copied
 * region. `from`: a past plan to start from instead of today's (a roll back): the subtree as it was
 * at that moment.
 */
export async function createDraft(tx: Tx, actor: string, regionId: number, name: string, from: { version: number; at: Date } | null = null): Promise<number> {
  const { rows } = await tx.query<{ id: number }>('INSERT INTO draft (region_id, name, created_by, from_version) VALUES ($1, $2, $3, $4) RETURNING id', [
    regionId,
    name,
    actor,
    from?.version ?? null,
  ]);
  const id = rows[0]!.id;
  const s = draftSchema(id);
  await tx.exec(`CREATE SCHEMA ${s}`);
  for (const t of SHADOWED) await tx.exec(`CREATE TABLE ${s}.${t} (LIKE public.${t} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`);
  // A draft's regions keep their area with their shape, as the live ones do.
  await tx.exec(`CREATE TRIGGER region_area_trigger BEFORE INSERT OR UPDATE OF geom ON ${s}.region FOR EACH ROW EXECUTE FUNCTION public.gp_region_area()`);
  // Views over the plan (each grid's range and whether it passes) read the draft's regions in the draft.
  for (const view of DRAFT_VIEWS) {
    const { rows: def } = await tx.query<{ sql: string }>(`SELECT pg_get_viewdef($1::regclass) AS sql`, [`public.${view}`]);
    await inSchema(tx, id, () => tx.exec(`CREATE VIEW ${s}.${view} AS ${def[0]!.sql}`));
  }
  const b = baseSchema(id);
  await tx.exec(`CREATE SCHEMA ${b}`);
  for (const t of ['region', 'grid_staff'])
    await tx.exec(`CREATE TABLE ${b}.${t} (LIKE public.${t} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`);
  await copyFromLive(tx, id, regionId, from?.at ?? null);
  // What the live tables' foreign keys do on a deletion, the draft's do too: a grid deleted or
  // replaced in the draft lets go of its households (they are filed anew) and takes its staff along.
  await tx.exec(`ALTER TABLE ${s}.household ADD FOREIGN KEY (region_id) REFERENCES ${s}.region (id) ON DELETE SET NULL;
    ALTER TABLE ${s}.grid_staff ADD FOREIGN KEY (grid_id) REFERENCES ${s}.region (id) ON DELETE CASCADE;
    ALTER TABLE ${s}.incident ADD FOREIGN KEY (grid_id) REFERENCES ${s}.region (id) ON DELETE SET NULL`);
  return id;
}

/** The households the draft's region holds live, not yet filed (`refile` files them by the draft's grids). */
const HOUSEHOLDS_OF = (s: string) => `INSERT INTO ${s}.household (id, geom, size, address, import_op, head_name, phone, version, corrected_at, corrected_by)
  SELECT h.id, h.geom, h.size, h.address, h.import_op, h.head_name, h.phone, h.version, h.corrected_at, h.corrected_by FROM household h, region r
  WHERE r.id = $1 AND (h.region_id IN (SELECT g.id FROM gp_subtree($1) g) OR (h.region_id IS NULL AND r.geom && h.geom AND ST_Intersects(r.geom, h.geom)))`;

/** Files every household of the draft by its grids and counts them up its subtree (the rest of the district keeps its live counts). */
async function refile(tx: Tx, id: number, regionId: number): Promise<void> {
  await inSchema(tx, id, async () => {
    await assignHouseholds(tx);
    const { rows } = await tx.query<{ id: number }>(`SELECT id FROM gp_subtree($1) WHERE level = 'grid'`, [regionId]);
    await recountHouseholdsAround(tx, [regionId, ...rows.map((r) => r.id)]);
  });
}

/** Fills an empty draft schema from the live plan (or the plan at `at`, for a roll back). */
async function copyFromLive(tx: Tx, id: number, regionId: number, at: Date | null): Promise<void> {
  const s = draftSchema(id);
  await copyBase(tx, id, regionId);
  // The rest of its district down to the villages (its ancestors among them), as it is live: context
  // only, so the map of a draft shows where it lies; the grids elsewhere stay out (a draft stays small),
  // and a draft's writes never touch any of it.
  await tx.query(
    `WITH top AS (SELECT a.id FROM gp_ancestors(ARRAY[$1::int]) a JOIN region d ON d.id = a.id WHERE d.level = 'district')
     INSERT INTO ${s}.region SELECT r.* FROM region r
     WHERE ((r.id IN (SELECT g.id FROM top, gp_subtree(top.id) g) AND r.level <> 'grid') OR r.id IN (SELECT a.id FROM gp_ancestors(ARRAY[$1::int]) a))
       AND r.id NOT IN (SELECT g.id FROM gp_subtree($1) g)`,
    [regionId],
  );
  if (at === null) {
    await tx.query(`INSERT INTO ${s}.region SELECT r.* FROM region r WHERE r.id IN (SELECT g.id FROM gp_subtree($1) g)`, [regionId]);
    await tx.query(`INSERT INTO ${s}.grid_staff SELECT gs.* FROM grid_staff gs WHERE gs.grid_id IN (SELECT g.id FROM gp_subtree($1) g)`, [regionId]);
  } else {
    // The subtree as it stood then, with each region's live version (so publishing it is checked against today's plan).
    await tx.query(
      `WITH RECURSIVE down AS (
         SELECT p.* FROM gp_plan_at($2::timestamptz) p WHERE p.id = $1
         UNION ALL SELECT c.* FROM gp_plan_at($2::timestamptz) c JOIN down d ON c.parent_id = d.id WHERE d.level <> 'grid')
       INSERT INTO ${s}.region (id, parent_id, level, code, name, grid_type, worker_id, notes, stat_code, version, geom)
       SELECT d.id, d.parent_id, d.level, d.code, d.name, d.grid_type, d.worker_id, d.notes, d.stat_code, coalesce(l.version, 1), d.geom
       FROM down d LEFT JOIN region l ON l.id = d.id`,
      [regionId, at.toISOString()],
    );
  }
  if (at === null) {
    // as they are filed live (the subtree is the live one)
    await tx.query(
      `INSERT INTO ${s}.household SELECT h.* FROM household h
       WHERE h.region_id IN (SELECT g.id FROM gp_subtree($1) g)
          OR (h.region_id IS NULL AND EXISTS (SELECT 1 FROM region r WHERE r.id = $1 AND r.geom && h.geom AND ST_Intersects(r.geom, h.geom)))`,
      [regionId],
    );
  } else {
    // The old plan's grids keep the staff they have today where they are still there (staffing has no history).
    await tx.query(`INSERT INTO ${s}.grid_staff SELECT gs.* FROM grid_staff gs WHERE gs.grid_id IN (SELECT r.id FROM ${s}.region r WHERE r.level = 'grid')`);
    // households are filed by the old plan's grids
    await tx.query(HOUSEHOLDS_OF(s), [regionId]);
    await refile(tx, id, regionId);
  }
}

/** The base: the live subtree now. */
async function copyBase(tx: Tx, id: number, regionId: number): Promise<void> {
  const b = baseSchema(id);
  await tx.exec(`DELETE FROM ${b}.region; DELETE FROM ${b}.grid_staff`);
  await tx.query(`INSERT INTO ${b}.region SELECT r.* FROM region r WHERE r.id IN (SELECT g.id FROM gp_subtree($1) g)`, [regionId]);
  await tx.query(`INSERT INTO ${b}.grid_staff SELECT gs.* FROM grid_staff gs WHERE gs.grid_id IN (SELECT g.id FROM gp_subtree($1) g)`, [regionId]);
}

/** Runs `fn` in the draft's schema (or its base's) within the caller's transaction, then back to the live plan. */
export async function inSchema<T>(tx: Tx, id: number, fn: () => Promise<T>, base = false): Promise<T> {
  await tx.exec(`SET LOCAL search_path TO ${base ? baseSchema(id) : draftSchema(id)}, public`);
  try {
    return await fn();
  } finally {
    await tx.exec('SET LOCAL search_path TO public');
  }
}

export async function dropDraftSchema(tx: Queryable, id: number): Promise<void> {
  await tx.query(`DROP SCHEMA IF EXISTS ${draftSchema(id)} CASCADE`);
  await tx.query(`DROP SCHEMA IF EXISTS ${baseSchema(id)} CASCADE`);
}

/** Every draft schema (for a reset). */
export async function draftSchemas(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ n: string }>(`SELECT nspname AS n FROM pg_namespace WHERE nspname ~ '^gp_draft_[0-9]+(_base)?$'`);
  return rows.map((r) => r.n);
}

export interface Conflict {
  id: number;
  code: string;
  name: string;
  level: string;
  /** changed: edited live since the draft was based; added: new live; removed: gone live. */
  kind: 'changed' | 'added' | 'removed';
}

/** The regions of the draft's subtree the live plan changed since the draft was copied (or rebased). */
export async function conflicts(tx: Queryable, draft: { id: number; regionId: number }): Promise<Conflict[]> {
  const s = baseSchema(draft.id);
  const { rows } = await tx.query<Conflict>(
    `WITH live AS (SELECT r.id, r.version, r.code, r.name, r.level FROM region r WHERE r.id IN (SELECT g.id FROM gp_subtree($1) g))
     SELECT coalesce(l.id, b.id) AS id, coalesce(l.code, d.code, '') AS code, coalesce(l.name, d.name, '') AS name, coalesce(l.level, d.level, '') AS level,
            CASE WHEN b.id IS NULL THEN 'added' WHEN l.id IS NULL THEN 'removed' ELSE 'changed' END AS kind
     FROM live l FULL JOIN ${s}.region b ON b.id = l.id LEFT JOIN ${s}.region d ON d.id = b.id
     WHERE b.id IS NULL OR l.id IS NULL OR l.version <> b.version
     ORDER BY 4, 2`,
    [draft.regionId],
  );
  return rows;
}

/** The draft's subtree (root first, parents before children) as snapshots, read from its schema (or its base). */
async function draftSubtree(tx: Tx, draft: { id: number; regionId: number }, base = false): Promise<RegionSnapshot[]> {
  return inSchema(
    tx,
    draft.id,
    async () => {
      const { rows } = await tx.query<{ id: number }>('SELECT id FROM gp_subtree($1) ORDER BY depth, id', [draft.regionId]);
      const snaps = new Map(
        (
          await snapshots(
            tx,
            rows.map((r) => r.id),
          )
        ).map((s) => [s.id, s]),
      );
      return rows.map((r) => snaps.get(r.id)!);
    },
    base,
  );
}

export interface Diff {
  changes: ChangeRow[];
  added: number;
  removed: number;
  changed: number;
}

/** What publishing the draft would write: each region of the subtree whose state differs live. */
async function diffWithLive(
  tx: Tx,
  draft: { id: number; regionId: number },
): Promise<{ diff: Diff; after: RegionSnapshot[]; before: Map<number, RegionSnapshot> }> {
  const after = await draftSubtree(tx, draft);
  const { rows } = await tx.query<{ id: number }>('SELECT id FROM gp_subtree($1)', [draft.regionId]);
  const before = new Map(
    (
      await snapshots(
        tx,
        rows.map((r) => r.id),
      )
    ).map((s) => [s.id, s]),
  );
  const afterIds = new Set(after.map((s) => s.id));
  const changes: ChangeRow[] = [];
  let added = 0;
  let changed = 0;
  for (const a of after) {
    const b = before.get(a.id);
    if (!b) added++;
    else if (sameState(a, b)) continue;
    else changed++;
    changes.push({ entityId: a.id, before: b ?? null, after: a });
  }
  const removedRows = [...before.values()].filter((b) => !afterIds.has(b.id));
  for (const b of removedRows) changes.push({ entityId: b.id, before: b, after: null });
  return { diff: { changes, added, removed: removedRows.length, changed }, after, before };
}

/**
 * Publishes a draft into the live plan in the caller's transaction: refuses (409, naming them) when
 * the live plan changed under it; else writes every region the draft changed (parents first),
 * deletes the ones it removed (children first), re-files households and incidents, records one
 * operation (undoable like any other) and a plan version.
 */
export async function publishDraft(
  tx: Tx,
  draft: DraftRow,
  actor: string,
  approvedBy: string | null,
  note: string,
): Promise<{ versionId: number; op: number; added: number; removed: number; changed: number }> {
  await assertRootLive(tx, draft);
  await tx.query('SELECT id FROM region WHERE id IN (SELECT id FROM gp_subtree($1)) FOR UPDATE', [draft.regionId]);
  const found = await conflicts(tx, draft);
  if (found.length > 0) throw conflictError(found);
  const { diff } = await diffWithLive(tx, draft);
  const sch = draftSchema(draft.id);
  const removed = diff.changes.filter((c) => c.after === null).map((c) => c.before!);
  const writes = diff.changes.filter((c) => c.after !== null).map((c) => c.after!);
  const removedIds = removed.map((r) => r.id);
  // A code the draft gives a region that another region holds live (made since): named, before anything is written.
  const { rows: taken } = await tx.query<Conflict>(
    `SELECT d.id, d.code, d.name, d.level, 'changed' AS kind FROM ${sch}.region d JOIN region l ON l.code = d.code AND l.id <> d.id
     WHERE d.id = ANY($1::int[]) AND l.id <> ALL($2::int[])`,
    [writes.map((w) => w.id), removedIds],
  );
  if (taken.length > 0) throw conflictError(taken);
  const byLevel = (rs: { id: number; level: string }[], level: string) => rs.filter((r) => r.level === level).map((r) => r.id);
  // Children first out, parents first in (a region's parent must exist before it; it may not be deleted under it).
  for (const level of ['grid', 'village', 'township']) {
    const ids = byLevel(removed, level);
    if (ids.length) await tx.query('DELETE FROM region WHERE id = ANY($1::int[])', [ids]);
  }
  for (const level of ['district', 'township', 'village', 'grid']) {
    const ids = byLevel(writes, level);
    if (ids.length === 0) continue;
    await tx.query(
      `INSERT INTO region (id, parent_id, level, code, name, grid_type, worker_id, notes, version, geom, stat_code)
       SELECT d.id, d.parent_id, d.level, d.code, d.name, d.grid_type, d.worker_id, d.notes, coalesce(l.version + 1, d.version), d.geom, d.stat_code
       FROM ${sch}.region d LEFT JOIN region l ON l.id = d.id WHERE d.id = ANY($1::int[])
       ON CONFLICT (id) DO UPDATE SET parent_id = EXCLUDED.parent_id, level = EXCLUDED.level, code = EXCLUDED.code,
         name = EXCLUDED.name, grid_type = EXCLUDED.grid_type, worker_id = EXCLUDED.worker_id, notes = EXCLUDED.notes,
         version = EXCLUDED.version, geom = EXCLUDED.geom, stat_code = EXCLUDED.stat_code, updated_at = now()`,
      [ids],
    );
  }
  const writeIds = writes.map((w) => w.id);
  await tx.query('DELETE FROM grid_staff WHERE grid_id = ANY($1::int[])', [writeIds]);
  await tx.query(
    `INSERT INTO grid_staff (grid_id, worker_id, role) SELECT s.grid_id, s.worker_id, s.role FROM ${sch}.grid_staff s
     WHERE s.grid_id = ANY($1::int[]) AND EXISTS (SELECT 1 FROM worker w WHERE w.id = s.worker_id) ON CONFLICT DO NOTHING`,
    [writeIds],
  );
  const touched = [...removedIds, ...writeIds];
  const parents = diff.changes.flatMap((c) => [c.before?.parentId, c.after?.parentId]).filter((p): p is number => typeof p === 'number');
  await reassignHouseholdsIn(tx, touched);
  await reassignIncidentsIn(tx, touched);
  await recountHouseholdsAround(tx, [...writeIds, ...parents]);
  // the change log keeps the states as written (versions included), so undo checks the right ones
  const written = new Map((await snapshots(tx, touched)).map((s) => [s.id, s]));
  const changes = diff.changes.map((c) => ({ ...c, after: c.after ? (written.get(c.entityId) ?? c.after) : null }));
  const op = diff.changes.length > 0 ? await recordOperation(tx, actor, 'publish', changes) : null;
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO plan_version (region_id, draft_id, name, note, published_by, approved_by, effective_from, op, grids_added, grids_removed, grids_changed)
     VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::timestamptz, now()), $8, $9, $10, $11) RETURNING id`,
    [draft.regionId, draft.id, draft.name, note, actor, approvedBy, draft.effectiveFrom, op, diff.added, diff.removed, diff.changed],
  );
  await tx.query(`UPDATE draft SET status = 'published', version = version + 1, updated_at = now() WHERE id = $1`, [draft.id]);
  await tx.query(`INSERT INTO draft_event (draft_id, actor, kind, comment) VALUES ($1, $2, 'publish', $3)`, [draft.id, actor, `version ${rows[0]!.id}`]);
  return { versionId: rows[0]!.id, op: op ?? 0, added: diff.added, removed: diff.removed, changed: diff.changed };
}

async function assertRootLive(tx: Queryable, draft: DraftRow): Promise<void> {
  const { rows } = await tx.query('SELECT 1 FROM region WHERE id = $1', [draft.regionId]);
  if (rows.length === 0)
    throw new InputError(
      'draft_region_gone',
      `${draft.regionName || `region ${draft.regionId}`}, which this draft changes, is no longer in the live plan`,
      'draft',
    );
}

export function conflictError(found: Conflict[]): InputError {
  const names = found
    .slice(0, 5)
    .map((g) => `${g.name} (${g.code})`)
    .join(', ');
  return new InputError(
    'draft_conflict',
    `the live plan changed under this draft: ${names}${found.length > 5 ? ` and ${found.length - 5} more` : ''}; rebase the draft onto it and check it again`,
    'draft',
    { grids: found },
  );
}

/**
 * Rebases a draft onto today's plan: the regions the draft changed (from the state it was based
 * on) keep the draft's state; every other region of the subtree becomes as it is live, the live
 * households come in anew and are filed by the draft's grids. Where both changed one region the
 * draft's state wins and the region is named, so the planner checks it (coverage shows any
 * overlap or gap this leaves). The draft's undo history starts again.
 */
export async function rebaseDraft(tx: Tx, draft: DraftRow, actor: string): Promise<{ fromLive: number; kept: number; both: Conflict[] }> {
  const s = draftSchema(draft.id);
  await assertRootLive(tx, draft);
  const found = await conflicts(tx, draft);
  // What the draft changed: regions whose state differs from the base it was copied from.
  const [base, mineNow] = [await draftSubtree(tx, draft, true), await draftSubtree(tx, draft)];
  const baseById = new Map(base.map((b) => [b.id, b]));
  const nowById = new Map(mineNow.map((b) => [b.id, b]));
  const mineIds = new Set<number>();
  for (const d of mineNow) if (!baseById.has(d.id) || !sameState(d, baseById.get(d.id)!)) mineIds.add(d.id);
  for (const b of base) if (!nowById.has(b.id)) mineIds.add(b.id);
  const both = found.filter((c) => mineIds.has(c.id));
  // Take the live state of everything else in the subtree (what live removed goes; what live added comes).
  const liveIds = (await tx.query<{ id: number }>('SELECT id FROM gp_subtree($1)', [draft.regionId])).rows.map((r) => r.id);
  const takeLive = [...new Set([...liveIds, ...base.map((b) => b.id), ...mineNow.map((d) => d.id)])].filter((id) => !mineIds.has(id));
  await tx.query(`DELETE FROM ${s}.grid_staff WHERE grid_id = ANY($1::int[])`, [takeLive]);
  await tx.query(`DELETE FROM ${s}.region WHERE id = ANY($1::int[])`, [takeLive]);
  await tx.query(`INSERT INTO ${s}.region SELECT r.* FROM region r WHERE r.id = ANY($1::int[])`, [takeLive]);
  await tx.query(`INSERT INTO ${s}.grid_staff SELECT gs.* FROM grid_staff gs WHERE gs.grid_id = ANY($1::int[])`, [takeLive]);
  // From now on the draft stands on today's plan: a publication checks for changes after this.
  await copyBase(tx, draft.id, draft.regionId);
  // Households anew from the live plan, filed by the draft's grids.
  await tx.exec(`DELETE FROM ${s}.household`);
  await tx.query(HOUSEHOLDS_OF(s), [draft.regionId]);
  await refile(tx, draft.id, draft.regionId);
  await tx.exec(`DELETE FROM ${s}.change`);
  await tx.query(`UPDATE draft SET based_at = now(), status = 'editing', step = 0, version = version + 1, updated_at = now() WHERE id = $1`, [draft.id]);
  await tx.query(`INSERT INTO draft_event (draft_id, actor, kind, comment) VALUES ($1, $2, 'rebase', $3)`, [
    draft.id,
    actor,
    // the codes of the regions both changed (the draft's state kept); the app says so in words
    both.map((b) => b.code).join('、'),
  ]);
  return { fromLive: takeLive.length, kept: mineIds.size, both };
}
