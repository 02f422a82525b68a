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
export async function listWorkers(db: Queryable, role: string | undefined): Promise<WorkerListItem[]> {
  const { rows } = await db.query<WorkerListItem>(
    `SELECT w.id, w.name, w.phone, w.role, g.id AS "gridId", g.name AS "gridName", v.id AS "villageId", v.name AS "villageName"
     FROM worker w LEFT JOIN LATERAL (SELECT id, name, parent_id FROM region WHERE worker_id = w.id ORDER BY id LIMIT 1) g ON true
     LEFT JOIN region v ON v.id = g.parent_id
     WHERE $1::text IS NULL OR w.role = $1
     ORDER BY (g.id IS NOT NULL), w.id`,
    [role ?? null],
  );
  return rows;
}
