import { InputError, notFound } from '../domain/errors.ts';
import { childCode, type Level } from '../domain/hierarchy.ts';
import type { Queryable } from './db.ts';

export interface StaffMember {
  workerId: number;
  role: string;
}

/** A region as the change log stores it: every field, geometry at full precision. */
export interface RegionSnapshot {
  id: number;
  parentId: number | null;
  level: Level;
  code: string;
  name: string;
  gridType: string | null;
  workerId: number | null;
  notes: string;
  version: number;
  /** The 12-digit 统计用区划代码 (absent in snapshots older than it). */
  statCode?: string | null;
  /** The grid's staff besides its full-time worker (absent in snapshots older than staffing). */
  staff?: StaffMember[];
  geometry: { type: 'MultiPolygon'; coordinates: unknown };
  /** Exact geometry (hex EWKB): a restore must give back bit-identical shared vertices. */
  wkb: string;
  /**
   * A district's own settings (its rows of each per-district table, without the district's id): given back when an undo
   * re-creates the district, which their foreign keys had dropped with it. Absent for other levels and in older snapshots.
   */
  districtSettings?: Record<DistrictSettingTable, Record<string, unknown>[]>;
}

/** The tables holding a district's own settings, with the columns a snapshot keeps (all but the district's id and a serial). */
const DISTRICT_SETTING_TABLES = {
  grid_type_rule: ['grid_type', 'min_households', 'max_households', 'target_households'],
  staff_requirement: ['role', 'min_per_grid'],
  district_deadline: ['category', 'severity', 'ack_hours', 'resolve_hours'],
  district_close_hours: ['category', 'hours'],
  district_assessment_rule: ['measure', 'points'],
  district_approval_step: ['step', 'level', 'zh', 'en', 'roles'],
} as const;
type DistrictSettingTable = keyof typeof DISTRICT_SETTING_TABLES;

/** What a kept row refers to must still be there when it comes back (a category or a role may have been deleted since). */
const STILL_THERE: Partial<Record<DistrictSettingTable, string>> = {
  staff_requirement: 'EXISTS (SELECT 1 FROM staff_role x WHERE x.code = t.role)',
  district_deadline: 'EXISTS (SELECT 1 FROM incident_category x WHERE x.code = t.category)',
  district_close_hours: 'EXISTS (SELECT 1 FROM incident_category x WHERE x.code = t.category)',
  district_assessment_rule: 'EXISTS (SELECT 1 FROM assessment_rule x WHERE x.measure = t.measure)',
};

const DISTRICT_SETTINGS = `CASE WHEN r.level = 'district' THEN json_build_object(${Object.entries(DISTRICT_SETTING_TABLES)
  .map(
    ([table, cols]) =>
      `'${table}', (SELECT coalesce(json_agg(json_build_object(${cols.map((c) => `'${c}', t.${c}`).join(', ')}) ORDER BY ${cols[0]}), '[]'::json)
         FROM ${table} t WHERE t.district_id = r.id)`,
  )
  .join(',\n')}) END AS "districtSettings"`;

const SNAPSHOT = `r.id, r.parent_id AS "parentId", r.level, r.code, r.name, r.grid_type AS "gridType",
  r.worker_id AS "workerId", r.notes, r.version, r.stat_code AS "statCode", ST_AsGeoJSON(r.geom, 15)::json AS geometry,
  (SELECT coalesce(json_agg(json_build_object('workerId', s.worker_id, 'role', s.role) ORDER BY s.role, s.worker_id), '[]'::json)
     FROM grid_staff s WHERE s.grid_id = r.id) AS staff,
  encode(ST_AsEWKB(r.geom), 'hex') AS wkb, ${DISTRICT_SETTINGS}`;

/** Reads regions and locks them for the rest of the transaction; throws 404 naming a missing one. */
export async function lockRegions(tx: Queryable, ids: number[], path = 'id'): Promise<RegionSnapshot[]> {
  const { rows } = await tx.query<RegionSnapshot>(`SELECT ${SNAPSHOT} FROM region r WHERE r.id = ANY($1::int[]) ORDER BY r.id FOR UPDATE`, [ids]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id, i) => {
    const r = byId.get(id);
    if (!r) throw notFound('region', id, ids.length > 1 ? `${path}[${i}]` : path);
    return r;
  });
}

export async function snapshots(tx: Queryable, ids: number[]): Promise<RegionSnapshot[]> {
  const { rows } = await tx.query<RegionSnapshot>(`SELECT ${SNAPSHOT} FROM region r WHERE r.id = ANY($1::int[]) ORDER BY r.id`, [ids]);
  return rows;
}

/** 409 when a client edited from a stale version: someone else changed the region meanwhile. */
export function checkVersion(region: RegionSnapshot, version: number, path = 'version'): void {
  if (region.version !== version) {
    throw new InputError(
      'version_conflict',
      `${region.name} (${region.code}) is at version ${region.version}, not ${version}: it was changed meanwhile; reload and retry`,
      path,
      { id: region.id, currentVersion: region.version },
    );
  }
}

export async function assertNoChildren(tx: Queryable, region: RegionSnapshot): Promise<void> {
  const { rows } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM region WHERE parent_id = $1', [region.id]);
  if (rows[0]!.n > 0) {
    throw new InputError('has_children', `${region.name} (${region.code}) has ${rows[0]!.n} child regions; change those first`, 'id');
  }
}

/** The code for a parent's next child: one past the highest number in use. */
export async function nextChildCodes(tx: Queryable, parent: { id: number; code: string }, level: Level, count: number): Promise<{ code: string; n: number }[]> {
  const { rows } = await tx.query<{ n: number }>(`SELECT coalesce(max(substring(code FROM '-(\\d+)$')::int), 0) AS n FROM region WHERE parent_id = $1`, [
    parent.id,
  ]);
  return Array.from({ length: count }, (_, i) => {
    const n = rows[0]!.n + i + 1;
    return { code: childCode(parent.code, level, n), n };
  });
}

export async function assertWorker(tx: Queryable, workerId: number | null | undefined): Promise<void> {
  if (workerId === null || workerId === undefined) return;
  const { rows } = await tx.query('SELECT 1 FROM worker WHERE id = $1', [workerId]);
  if (rows.length === 0) throw notFound('worker', workerId, 'workerId');
}

/** Staff go on grids only, each worker and role once, with roles and workers that exist; `full_time` is `workerId`. */
export async function assertStaff(tx: Queryable, region: RegionSnapshot, staff: StaffMember[]): Promise<void> {
  if (region.level !== 'grid' && staff.length > 0) throw new InputError('not_a_grid', `${region.name} is a ${region.level}; staff serve grids`, 'staff');
  const seen = new Set<string>();
  const { rows: roles } = await tx.query<{ code: string }>('SELECT code FROM staff_role');
  const known = new Set(roles.map((r) => r.code));
  const { rows: workers } = await tx.query<{ id: number }>('SELECT id FROM worker WHERE id = ANY($1::int[])', [staff.map((m) => m.workerId)]);
  const existing = new Set(workers.map((w) => w.id));
  staff.forEach((m, i) => {
    if (m.role === 'full_time') throw new InputError('full_time_is_worker', 'the full-time grid worker is set with workerId, not in staff', `staff[${i}].role`);
    if (!known.has(m.role))
      throw new InputError('unknown_role', `no staffing role ${JSON.stringify(m.role)}; known: ${[...known].join(', ')}`, `staff[${i}].role`);
    if (!existing.has(m.workerId)) throw notFound('worker', m.workerId, `staff[${i}].workerId`);
    const key = `${m.workerId}:${m.role}`;
    if (seen.has(key)) throw new InputError('duplicate_staff', `worker ${m.workerId} is listed twice as ${m.role}`, `staff[${i}]`);
    seen.add(key);
  });
}

export interface ChangeRow {
  entityId: number;
  before: RegionSnapshot | null;
  after: RegionSnapshot | null;
}

/** Records one operation (several changes that undo and redo together); returns its number. */
export async function recordOperation(tx: Queryable, actor: string, action: string, changes: ChangeRow[], reverts: number | null = null): Promise<number> {
  const { rows } = await tx.query<{ op: number }>(`SELECT nextval('change_op_seq')::int AS op`);
  const op = rows[0]!.op;
  await tx.query(
    `INSERT INTO change (op, actor, action, entity, entity_id, before, after, reverts)
     SELECT $1, $2, $3, 'region', t.entity_id, t.before::jsonb, t.after::jsonb, $7
     FROM unnest($4::int[], $5::text[], $6::text[]) WITH ORDINALITY AS t(entity_id, before, after, ord)
     ORDER BY t.ord`,
    [
      op,
      actor,
      action,
      changes.map((c) => c.entityId),
      changes.map((c) => (c.before ? JSON.stringify(c.before) : null)),
      changes.map((c) => (c.after ? JSON.stringify(c.after) : null)),
      reverts,
    ],
  );
  return op;
}

/** Writes a snapshot back: updates the region if it exists, else re-creates it with its id. */
export async function writeSnapshot(tx: Queryable, s: RegionSnapshot, version: number): Promise<void> {
  const { rows } = await tx.query<{ created: boolean }>(
    `INSERT INTO region (id, parent_id, level, code, name, grid_type, worker_id, notes, version, geom, stat_code)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ST_GeomFromEWKB(decode($10, 'hex')), $11)
     ON CONFLICT (id) DO UPDATE SET parent_id = EXCLUDED.parent_id, level = EXCLUDED.level, code = EXCLUDED.code,
       name = EXCLUDED.name, grid_type = EXCLUDED.grid_type, worker_id = EXCLUDED.worker_id, notes = EXCLUDED.notes,
       version = EXCLUDED.version, geom = EXCLUDED.geom, stat_code = EXCLUDED.stat_code, updated_at = now()
     RETURNING (xmax = 0) AS created`,
    [s.id, s.parentId, s.level, s.code, s.name, s.gridType, s.workerId, s.notes, version, s.wkb, s.statCode ?? null],
  );
  if (s.staff) await writeStaff(tx, s.id, s.staff);
  // A district re-created (its deletion undone) gets its own settings back; one that stood keeps the settings it has now
  // (they are changed and undone in 设置, not with the region's edits).
  if (rows[0]?.created && s.districtSettings) await writeDistrictSettings(tx, s.id, s.districtSettings);
}

async function writeDistrictSettings(tx: Queryable, districtId: number, kept: NonNullable<RegionSnapshot['districtSettings']>): Promise<void> {
  for (const [table, cols] of Object.entries(DISTRICT_SETTING_TABLES) as [DistrictSettingTable, readonly string[]][]) {
    const rows = kept[table] ?? [];
    if (rows.length === 0) continue;
    const where = STILL_THERE[table];
    await tx.query(
      `INSERT INTO ${table} (district_id, ${cols.join(', ')})
       SELECT $1, ${cols.map((c) => `t.${c}`).join(', ')} FROM json_populate_recordset(NULL::${table}, $2::json) t
       ${where ? `WHERE ${where}` : ''} ON CONFLICT DO NOTHING`,
      [districtId, JSON.stringify(rows)],
    );
  }
}

/** Replaces a grid's staff (workers deleted since are left out). */
export async function writeStaff(tx: Queryable, gridId: number, staff: StaffMember[]): Promise<void> {
  await tx.query('DELETE FROM grid_staff WHERE grid_id = $1', [gridId]);
  if (staff.length === 0) return;
  await tx.query(
    `INSERT INTO grid_staff (grid_id, worker_id, role)
     SELECT $1, t.worker_id, t.role FROM unnest($2::int[], $3::text[]) AS t(worker_id, role)
     WHERE EXISTS (SELECT 1 FROM worker w WHERE w.id = t.worker_id) ON CONFLICT DO NOTHING`,
    [gridId, staff.map((m) => m.workerId), staff.map((m) => m.role)],
  );
}
