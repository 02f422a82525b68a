import { InputError, notFound } from '../domain/errors.ts';
import type { NewWorker, StaffRole, Worker, WorkerListItem } from '../schemas/staff.ts';
import type { Queryable } from './db.ts';
import { recordChange } from './regions.ts';
import { lockVersion } from './versions.ts';

export async function staffRoles(db: Queryable): Promise<StaffRole[]> {
  const { rows } = await db.query<StaffRole>('SELECT code, zh, en, min_per_grid AS "minPerGrid" FROM staff_role ORDER BY sort, code');
  return rows;
}

/** A role as a district staffs it: its own count (`own`), else the plan's (`defaultPerGrid`). */
export interface DistrictStaffRole extends StaffRole {
  own: boolean;
  defaultPerGrid: number;
}

/** A district's staffing model: every role with the count its grids need there. */
export async function districtStaffing(db: Queryable, districtId: number): Promise<DistrictStaffRole[]> {
  const { rows } = await db.query<DistrictStaffRole>(
    `SELECT r.code, r.zh, r.en, coalesce(own.min_per_grid, r.min_per_grid) AS "minPerGrid", own.role IS NOT NULL AS own,
            r.min_per_grid AS "defaultPerGrid"
     FROM staff_role r LEFT JOIN staff_requirement own ON own.district_id = $1 AND own.role = r.code
     ORDER BY r.sort, r.code`,
    [districtId],
  );
  return rows;
}

/** A district's staffing model as the settings log keeps it: whether each role's count is its own said as a field too. */
export const loggedStaffing = (zh: string, roles: DistrictStaffRole[]) => ({ zh, roles: roles.map((r) => ({ ...r, districtOwn: r.own ? 'yes' : 'no' })) });

/** The version of a district's staffing model: the change log's newest entry for it (0: never changed). */
export async function staffingVersion(db: Queryable, districtId: number): Promise<number> {
  const { rows } = await db.query<{ v: number }>(`SELECT coalesce(max(id), 0)::int AS v FROM change WHERE entity = 'staff_requirement' AND entity_id = $1`, [
    districtId,
  ]);
  return rows[0]!.v;
}

/** Writes a district's own counts as `roles` has them (own ones only); the rest follow the plan's model. */
export async function writeDistrictStaffing(tx: Queryable, districtId: number, roles: { code: string; minPerGrid: number; own: boolean }[]): Promise<void> {
  const own = roles.filter((r) => r.own && r.code !== 'full_time');
  await tx.query('DELETE FROM staff_requirement WHERE district_id = $1', [districtId]);
  await tx.query(
    `INSERT INTO staff_requirement (district_id, role, min_per_grid)
     SELECT $1, t.role, t.n FROM unnest($2::text[], $3::int[]) AS t(role, n) WHERE EXISTS (SELECT 1 FROM staff_role r WHERE r.code = t.role)`,
    [districtId, own.map((r) => r.code), own.map((r) => r.minPerGrid)],
  );
}

/**
 * Sets a district's own counts: each role given with its count, or with null to follow the plan's model again; the roles
 * left out stay as they are. Logged with the model before and after (undone from the settings log); 409 when stale.
 */
export async function setDistrictStaffing(
  tx: Queryable,
  actor: string,
  districtId: number,
  roles: { code: string; minPerGrid: number | null }[],
  version?: number,
): Promise<DistrictStaffRole[]> {
  const { rows: d } = await tx.query<{ name: string }>("SELECT name FROM region WHERE id = $1 AND level = 'district' FOR UPDATE", [districtId]);
  if (!d[0]) throw notFound('district', districtId);
  const current = await staffingVersion(tx, districtId);
  if (version !== undefined && version !== current) {
    throw new InputError('version_conflict', `the staffing model was changed meanwhile (version ${current}, not ${version}): reload and retry`, 'version', {
      currentVersion: current,
    });
  }
  const before = await districtStaffing(tx, districtId);
  const seen = new Set<string>();
  roles.forEach((r, i) => {
    if (seen.has(r.code)) throw new InputError('duplicate_role', `role ${r.code} is listed twice`, `roles[${i}].code`);
    seen.add(r.code);
    if (!before.some((b) => b.code === r.code)) throw new InputError('unknown_role', `no staffing role ${JSON.stringify(r.code)}`, `roles[${i}].code`);
    if (r.code === 'full_time' && r.minPerGrid !== null && r.minPerGrid !== 1)
      throw new InputError('full_time_required', 'every grid has exactly one full-time worker (专职网格员)', `roles[${i}].minPerGrid`);
  });
  const given = new Map(roles.map((r) => [r.code, r.minPerGrid]));
  await writeDistrictStaffing(
    tx,
    districtId,
    before.map((b) => {
      if (!given.has(b.code)) return b;
      const n = given.get(b.code)!;
      return { code: b.code, minPerGrid: n ?? b.defaultPerGrid, own: n !== null };
    }),
  );
  const after = await districtStaffing(tx, districtId);
  // (a change that changes nothing is no change: not logged, and nobody editing at this version is refused for it)
  const own = (roles: DistrictStaffRole[]) => JSON.stringify(roles.filter((r) => r.own).map((r) => [r.code, r.minPerGrid]));
  if (own(after) === own(before)) return after;
  await recordChange(tx, {
    actor,
    action: 'update',
    entity: 'staff_requirement',
    entityId: districtId,
    before: loggedStaffing(d[0].name, before),
    after: loggedStaffing(d[0].name, after),
  });
  return after;
}

/** Sets the staffing model: the roles given, in their order; roles left out stay, required by no grid. */
export async function setStaffRoles(tx: Queryable, actor: string, roles: StaffRole[], version?: number): Promise<StaffRole[]> {
  const seen = new Set<string>();
  roles.forEach((r, i) => {
    if (seen.has(r.code)) throw new InputError('duplicate_role', `role ${r.code} is listed twice`, `roles[${i}].code`);
    seen.add(r.code);
  });
  const i = roles.findIndex((r) => r.code === 'full_time' && r.minPerGrid !== 1);
  if (i >= 0) throw new InputError('full_time_required', 'every grid has exactly one full-time worker (专职网格员)', `roles[${i}].minPerGrid`);
  await lockVersion(tx, 'staff_role', null, version, 'the staffing model', 'If-Match');
  const before = await staffRoles(tx);
  await tx.query('UPDATE staff_role SET min_per_grid = 0 WHERE code <> ALL($1::text[])', [roles.map((r) => r.code)]);
  await tx.query(
    `INSERT INTO staff_role (code, zh, en, min_per_grid, sort)
     SELECT code, zh, en, n, ord FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS t(code, zh, en, n, ord)
     ON CONFLICT (code) DO UPDATE SET zh = excluded.zh, en = excluded.en, min_per_grid = excluded.min_per_grid, sort = excluded.sort`,
    [roles.map((r) => r.code), roles.map((r) => r.zh), roles.map((r) => r.en), roles.map((r) => r.minPerGrid)],
  );
  const after = await staffRoles(tx);
  await recordChange(tx, { actor, action: 'update', entity: 'staff_role', entityId: null, before, after });
  return after;
}

export async function addWorker(tx: Queryable, actor: string, input: NewWorker): Promise<Worker> {
  if ((await tx.query('SELECT 1 FROM staff_role WHERE code = $1', [input.role])).rows.length === 0) {
    throw new InputError('unknown_role', `no staffing role ${JSON.stringify(input.role)}`, 'json.role');
  }
  const { rows } = await tx.query<Worker>('INSERT INTO worker (name, phone, role) VALUES ($1, $2, $3) RETURNING id, name, phone, role', [
    input.name,
    input.phone,
    input.role,
  ]);
  await recordChange(tx, { actor, action: 'create', entity: 'worker', entityId: rows[0]!.id, before: null, after: rows[0] });
  return rows[0]!;
}

/** People who staff grids (of one role), those without a grid first. */
/**
 * The workers with the grid each serves. In a draft (`draftRoot`: its region; `db` the draft's), the grids below the draft's
 * region are the draft's — a person it moves serves where the draft puts them — and the rest of the plan's are live.
 */
/**
 * The people to choose from: everyone, or for someone given an area (`area`) those serving its grids or no grid yet —
 * a township's planner staffs its grids from its own people, not from a roster of the whole city.
 */
export async function listWorkers(
  db: Queryable,
  role: string | undefined,
  draftRoot: number | null = null,
  area: number | null = null,
): Promise<WorkerListItem[]> {
  const { rows } = await db.query<WorkerListItem>(
    `WITH RECURSIVE under AS (SELECT id FROM public.region WHERE id = $2 UNION ALL SELECT r.id FROM public.region r JOIN under u ON r.parent_id = u.id),
     area AS (SELECT id FROM public.region WHERE id = $3 UNION ALL SELECT r.id FROM public.region r JOIN area a ON r.parent_id = a.id),
     g AS (SELECT id, name, parent_id, worker_id FROM region WHERE level = 'grid' AND worker_id IS NOT NULL
           UNION ALL
           SELECT r.id, r.name, r.parent_id, r.worker_id FROM public.region r
           WHERE $2::int IS NOT NULL AND r.level = 'grid' AND r.worker_id IS NOT NULL AND r.id NOT IN (SELECT id FROM under))
     SELECT w.id, w.name, w.phone, w.role, s.id AS "gridId", s.name AS "gridName", coalesce(v.id, lv.id) AS "villageId",
            coalesce(v.name, lv.name) AS "villageName", sr.zh AS "roleZh", sr.en AS "roleEn",
            -- (and the grids served in another role: a grid leader or a police officer is a grid's staff too)
            (SELECT count(*)::int FROM grid_staff gs WHERE gs.worker_id = w.id) AS "staffGrids",
            (SELECT r.name FROM grid_staff gs JOIN region r ON r.id = gs.grid_id WHERE gs.worker_id = w.id
              ORDER BY gs.grid_id LIMIT 1) AS "staffGridName"
     FROM worker w JOIN staff_role sr ON sr.code = w.role
       LEFT JOIN LATERAL (SELECT id, name, parent_id FROM g WHERE g.worker_id = w.id ORDER BY id LIMIT 1) s ON true
     LEFT JOIN region v ON v.id = s.parent_id LEFT JOIN public.region lv ON lv.id = s.parent_id AND v.id IS NULL
     WHERE ($1::text IS NULL OR w.role = $1)
       -- (by the live plan: a draft's tables hold only its own region)
       AND ($3::int IS NULL
            OR NOT EXISTS (SELECT 1 FROM public.region r WHERE r.worker_id = w.id) AND NOT EXISTS (SELECT 1 FROM public.grid_staff gs WHERE gs.worker_id = w.id)
            OR EXISTS (SELECT 1 FROM public.region r JOIN area a ON a.id = r.id WHERE r.worker_id = w.id)
            OR EXISTS (SELECT 1 FROM public.grid_staff gs JOIN area a ON a.id = gs.grid_id WHERE gs.worker_id = w.id))
     ORDER BY (s.id IS NOT NULL), w.id`,
    [role ?? null, draftRoot, area],
  );
  return rows;
}
