import { InputError } from '../domain/errors.ts';
import type { NewWorker, StaffRole, Worker, WorkerListItem } from '../schemas/staff.ts';
import type { Queryable } from './db.ts';
import { recordChange } from './regions.ts';
import { lockVersion } from './versions.ts';

export async function staffRoles(db: Queryable): Promise<StaffRole[]> {
  const { rows } = await db.query<StaffRole>('SELECT code, zh, en, min_per_grid AS "minPerGrid" FROM staff_role ORDER BY sort, code');
  return rows;
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
