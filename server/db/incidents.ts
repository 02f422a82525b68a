import { InputError, notFound } from '../domain/errors.ts';
import type { IncidentInput } from '../domain/incident-input.ts';
import { checkTransition, type Transition } from '../domain/incidents.ts';
import { textSimilarity } from '../domain/text-similarity.ts';
import type { Incident } from '../schemas/incident.ts';
import type { Queryable } from './db.ts';
import { notify } from './notifications.ts';
import { recordChange } from './regions.ts';

/** A new incident: its fields as the input checks leave them (the reporter is optional). */
export type NewIncident = Omit<IncidentInput, 'reporterId'> & { reporterId?: number | null | undefined; address?: string | null | undefined };

/**
 * SQL: the hours to close the case `i` (its category `k`) on time — its district's own for the category, else the
 * plan's; a case whose grid is gone, by the grid it was filed in (as its departments' deadlines). Nothing is looked up
 * while no district has set its own (one check per query, not per case).
 */
export const closeHoursSql = (i: string, k: string) =>
  `(CASE WHEN (SELECT NOT EXISTS (SELECT 1 FROM district_close_hours)) OR coalesce(${i}.grid_id, ${i}.filed_grid_id) IS NULL THEN ${k}.deadline_hours
     ELSE coalesce((SELECT o.hours FROM region g JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id
                    JOIN district_close_hours o ON o.district_id = t.parent_id AND o.category = ${i}.category
                    WHERE g.id = coalesce(${i}.grid_id, ${i}.filed_grid_id)), ${k}.deadline_hours) END)`;

/**
 * SQL: the case `i` (its category `k`) is overdue at `at` — not yet resolved and past its category's time
 * to close from the report (its district's own, else the plan's), or past the 办结 deadline of one of its open dispatches (the severity's or the
 * centre's own, extensions included): a case the centre routed with 84 hours is late at 85, whatever
 * the category's 168. The wall's 超期未办结, the case lists and the statistics per area count by it.
 */
export const caseLate = (i: string, k: string, at: string) =>
  `(${i}.status IN ('reported', 'dispatched') AND (${i}.reported_at + make_interval(hours => ${closeHoursSql(i, k)}) < ${at}
     OR EXISTS (SELECT 1 FROM dispatch dl WHERE dl.incident_id = ${i}.id AND dl.resolved_at IS NULL AND dl.returned_at IS NULL AND dl.due_at < ${at})))`;

/** An incident as the API shows it; `now` is the SQL of the app's clock (a parameter), which says what is overdue. */
/**
 * The version of a grid an incident was filed in at its time: the newest that had begun when it was
 * reported — or, for a case reported before the plan's history begins (two years of incidents under
 * a plan recorded since), the first version known.
 */
export const FILED_ORDER =
  'ORDER BY (h.valid_from <= i.reported_at) DESC, CASE WHEN h.valid_from <= i.reported_at THEN h.valid_from END DESC, h.valid_from LIMIT 1';

export const incidentJson = (now: string) => `json_build_object(
  'id', i.id, 'lon', round(ST_X(i.geom)::numeric, 7)::float8, 'lat', round(ST_Y(i.geom)::numeric, 7)::float8,
  'category', i.category, 'severity', i.severity, 'description', i.description,
  'reportedAt', i.reported_at, 'reporterId', i.reporter_id, 'status', i.status, 'gridId', i.grid_id,
  'gridName', (SELECT g.name FROM region g WHERE g.id = i.grid_id), 'filedGridId', i.filed_grid_id,
  'area', (SELECT json_build_object('township', t.name, 'county', CASE WHEN d.parent_id IS NOT NULL THEN d.name END)
           FROM region g JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id JOIN region d ON d.id = t.parent_id
           WHERE g.id = i.grid_id),
  'filedGridName', (SELECT h.name FROM region_history h WHERE h.id = i.filed_grid_id ${FILED_ORDER}),
  'department', i.department, 'dispatchedAt', i.dispatched_at, 'resolvedAt', i.resolved_at, 'closedAt', i.closed_at,
  'feedback', i.feedback, 'version', i.version, 'source', i.source, 'address', i.address, 'locatedBy', i.located_by,
  'solvedLevel', i.solved_level, 'resolutionNote', i.resolution_note, 'satisfaction', i.satisfaction,
  'assignedRegionId', i.assigned_region_id, 'assignedRegionName', (SELECT a.name FROM region a WHERE a.id = i.assigned_region_id),
  'void', CASE WHEN i.void_kind IS NOT NULL
    THEN json_build_object('kind', i.void_kind, 'reason', i.void_reason, 'at', i.voided_at, 'mergedInto', i.merged_into) END,
  'reopenCount', i.reopen_count, 'reopenedAt', i.reopened_at, 'reopenReason', i.reopen_reason,
  'reviewedAt', i.reviewed_at, 'reviewNote', i.review_note,
  'photoUrls', ARRAY(SELECT '/api/incidents/' || ph.incident_id || '/photos/' || ph.id FROM incident_photo ph
                  WHERE ph.incident_id = i.id AND ph.dispatch_id IS NULL ORDER BY ph.id),
  'overdue', ${caseLate('i', 'c', `${now}::timestamptz`)})`;

/** An incident as the API shows it: the schema's type. */
export type IncidentJson = Incident;

export async function categoryCodes(tx: Queryable): Promise<string[]> {
  const { rows } = await tx.query<{ code: string }>('SELECT code FROM incident_category ORDER BY sort, code');
  return rows.map((r) => r.code);
}

/**
 * Inserts incidents whose location lies in a district; each is filed under the grid containing
 * it. Returns the input indexes of those outside every district (not stored) and the new ids.
 */
export async function insertIncidents(tx: Queryable, incidents: NewIncident[], importOp: number | null = null): Promise<{ ids: number[]; outside: number[] }> {
  const ids: number[] = [];
  const outside: number[] = [];
  for (let i = 0; i < incidents.length; i += 10_000) {
    const part = incidents.slice(i, i + 10_000);
    const { rows } = await tx.query<{ ord: number; id: number | null }>(
      `WITH t AS (
         SELECT ord, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS geom, category, severity, description, reported_at, reporter_id
         FROM unnest($1::float8[], $2::float8[], $3::text[], $4::int[], $5::text[], $6::timestamptz[], $7::int[])
           WITH ORDINALITY AS u(lon, lat, category, severity, description, reported_at, reporter_id, ord)
       ),
       placed AS (
         SELECT t.*, EXISTS (SELECT 1 FROM region d WHERE d.level = 'district' AND d.geom && t.geom AND ST_Intersects(d.geom, t.geom)) AS inside,
                (SELECT g.id FROM region g WHERE g.level = 'grid' AND g.geom && t.geom AND ST_Intersects(g.geom, t.geom) ORDER BY g.id LIMIT 1) AS grid_id
         FROM t
       ),
       ins AS (
         INSERT INTO incident (geom, category, severity, description, reported_at, reporter_id, grid_id, import_op, source)
         SELECT geom, category, severity, description, reported_at, reporter_id, grid_id, $8::int, CASE WHEN $8::int IS NULL THEN 'worker' ELSE 'import' END
         FROM placed WHERE inside ORDER BY ord
         RETURNING id
       )
       SELECT ord::int, NULL::int AS id FROM placed WHERE NOT inside
       UNION ALL SELECT NULL, id FROM ins`,
      [
        part.map((r) => r.lon),
        part.map((r) => r.lat),
        part.map((r) => r.category),
        part.map((r) => r.severity),
        part.map((r) => r.description),
        part.map((r) => r.reportedAt.toISOString()),
        part.map((r) => r.reporterId ?? null),
        importOp,
      ],
    );
    for (const r of rows) {
      if (r.id !== null) ids.push(r.id);
      else outside.push(i + r.ord - 1);
    }
  }
  ids.sort((a, b) => a - b);
  return { ids, outside };
}

export async function incidentById(tx: Queryable, id: number, now: Date, lock = false): Promise<IncidentJson> {
  const { rows } = await tx.query<{ j: IncidentJson }>(
    `SELECT ${incidentJson('$2')} AS j FROM incident i JOIN incident_category c ON c.code = i.category WHERE i.id = $1 ${lock ? 'FOR UPDATE OF i' : ''}`,
    [id, now.toISOString()],
  );
  if (!rows[0]) throw notFound('incident', id);
  return rows[0].j;
}

/** One step of the loop, in order, timestamped; 409 on a stale version, 422 on a step out of order. */
export async function advanceIncident(
  tx: Queryable,
  actor: string,
  id: number,
  step: Transition & { version?: number | undefined; at?: Date | undefined },
  now: Date,
  /** The level of whoever acts (a grid worker: the grid), for a case resolved on the spot. */
  level: 'grid' | 'village' | 'township' | 'district' = 'district',
): Promise<IncidentJson> {
  const before = await incidentById(tx, id, now, true);
  if (step.version !== undefined && step.version !== before.version) {
    throw new InputError('version_conflict', `incident ${id} is at version ${before.version}, not ${step.version}: it changed meanwhile`, 'version', {
      currentVersion: before.version,
    });
  }
  checkTransition(before.status, step);
  if (step.status === 'resolved') {
    const { rows } = await tx.query<{ code: string }>(
      `SELECT dep.code FROM dispatch d JOIN department dep ON dep.id = d.department_id
       WHERE d.incident_id = $1 AND d.resolved_at IS NULL AND d.returned_at IS NULL ORDER BY dep.sort`,
      [id],
    );
    if (rows.length) {
      throw new InputError(
        'dispatches_open',
        `departments have not answered yet: ${rows.map((r) => r.code).join(', ')}; the last answer resolves the incident`,
        'status',
        { open: rows.map((r) => r.code) },
      );
    }
  }
  const at = step.at ?? now;
  const column = { dispatched: 'dispatched_at', resolved: 'resolved_at', closed: 'closed_at', reported: 'reported_at' }[step.status];
  // (the latest step so far: after a reopen that is the reopen, not the report, whose later times it cleared)
  const last = new Date(
    Math.max(
      ...[before.closedAt, before.resolvedAt, before.dispatchedAt, before.reportedAt, before.reopenedAt].filter((t) => t !== null).map((t) => Date.parse(t!)),
    ),
  ).toISOString();
  if (at < new Date(last))
    throw new InputError('time_before_previous_step', `${step.status} at ${at.toISOString()} is before the previous step (${last})`, 'at');
  // who solved it: on the spot, the level acting; else the departments it went to
  const solved = step.status !== 'resolved' ? null : step.onSpot ? level : 'department';
  await tx.query(
    `UPDATE incident SET status = $2, ${column} = $3, department = coalesce($4, department), feedback = coalesce($5, feedback), version = version + 1,
       solved_level = coalesce($6, solved_level), resolution_note = coalesce($7, resolution_note), satisfaction = coalesce($8, satisfaction)
      WHERE id = $1`,
    [
      id,
      step.status,
      at.toISOString(),
      step.department?.trim() ?? null,
      step.feedback?.trim() ?? null,
      solved,
      step.onSpot ? step.note!.trim() : null,
      step.status === 'closed' ? (step.satisfaction ?? null) : null,
    ],
  );
  if (step.status === 'closed' && step.satisfaction) {
    // the verdict is also each answering department's, kept on its dispatch of this round (a reopen clears the case's)
    await tx.query(
      `UPDATE dispatch d SET satisfaction = $2 FROM incident i
       WHERE i.id = d.incident_id AND d.incident_id = $1 AND d.resolved_at IS NOT NULL AND d.returned_at IS NULL
         AND NOT (i.reopened_at IS NOT NULL AND d.resolved_at <= i.reopened_at)`,
      [id, step.satisfaction],
    );
  }
  const after = await incidentById(tx, id, now);
  await recordChange(tx, {
    at: now,
    actor,
    action: step.status === 'dispatched' ? 'dispatch' : step.status === 'resolved' ? (step.onSpot ? 'resolve_on_spot' : 'resolve') : 'close',
    entity: 'incident',
    entityId: id,
    before,
    after,
  });
  if (step.status === 'closed' && step.satisfaction === 'unsatisfied') {
    // a resident unsatisfied: the centre and every department that answered hear of it
    const { rows: deps } = await tx.query<{ id: number }>('SELECT department_id AS id FROM dispatch WHERE incident_id = $1 AND returned_at IS NULL', [id]);
    await notify(
      tx,
      {
        event: 'satisfaction.low',
        incidentId: id,
        to: [{ centre: true }, ...deps.map((d) => ({ department: d.id }))],
        text: (c) => ({ zh: `群众不满意：#${c.id} ${c.categoryZh}，可重新办理`, en: `Resident unsatisfied: #${c.id} ${c.categoryEn}; it can be reopened` }),
        data: { feedback: after.feedback },
      },
      now,
    );
  }
  return after;
}

/** Re-files incidents under the grid containing them, for incidents in or filed under the given regions. */
export async function reassignIncidentsIn(tx: Queryable, regionIds: number[]): Promise<void> {
  if (regionIds.length === 0) return;
  await tx.query(
    // Two index lookups (filed there, lying there) rather than one OR that scans every incident. The
    // grids given are joined to the incidents within them (each polygon tested against many points,
    // which PostGIS prepares once); only an incident outside all of them is looked up on its own.
    // Incidents whose grid stays are not written.
    `WITH affected AS (
       SELECT i.id FROM incident i WHERE i.grid_id = ANY($1::int[])
       UNION SELECT i.id FROM region r JOIN incident i ON r.geom && i.geom AND ST_Intersects(r.geom, i.geom) WHERE r.id = ANY($1::int[])),
     inside AS (
       SELECT i.id, min(g.id) AS grid_id FROM region g JOIN incident i ON g.geom && i.geom AND ST_Intersects(g.geom, i.geom)
       WHERE g.id = ANY($1::int[]) AND g.level = 'grid' GROUP BY i.id),
     placed AS (
       SELECT a.id, coalesce(n.grid_id, (
         SELECT g.id FROM incident x JOIN region g ON g.level = 'grid' AND g.geom && x.geom AND ST_Intersects(g.geom, x.geom)
         WHERE x.id = a.id ORDER BY g.id LIMIT 1)) AS grid_id
       FROM affected a LEFT JOIN inside n ON n.id = a.id)
     UPDATE incident i SET grid_id = p.grid_id FROM placed p WHERE p.id = i.id AND i.grid_id IS DISTINCT FROM p.grid_id`,
    [regionIds],
  );
}

export interface IncidentFilter {
  regionId?: number | undefined;
  from: Date;
  to: Date;
  categories: string[] | null;
  statuses: string[] | null;
  bbox?: [number, number, number, number] | undefined;
  /** The region is the plan's only district: every incident is in it, so no grid filter is needed. */
  wholePlan?: boolean | undefined;
  /** Only incidents filed under these grids (a grid worker's own). */
  gridIds?: number[] | undefined;
  /** Which grid an incident counts in: the one its place lies in now (default), or the one it was filed in at its time. */
  gridBy?: 'current' | 'filed' | undefined;
  /** The centre's intake: reported, sent nowhere yet (not to a department, not down to a village or grid). */
  intake?: boolean | undefined;
  /** Only cases closed with this verdict. */
  satisfaction?: 'satisfied' | 'basically' | 'unsatisfied' | undefined;
  /** Only cases the centre has (true) or has not (false) reviewed after an unsatisfied verdict (不满意复核). */
  reviewed?: boolean | undefined;
}

/** The column that says which grid an incident counts in. */
export const gridColumn = (f: { gridBy?: 'current' | 'filed' | undefined }) => (f.gridBy === 'filed' ? 'i.filed_grid_id' : 'i.grid_id');

/** Whether a region is the plan's only root, its city or its one district (then filtering by it filters nothing). */
export async function isWholePlan(tx: Queryable, regionId: number | undefined): Promise<boolean> {
  if (regionId === undefined) return false;
  const { rows } = await tx.query<{ whole: boolean }>(
    `SELECT r.parent_id IS NULL AND (SELECT count(*) FROM region WHERE parent_id IS NULL) = 1 AS whole FROM region r WHERE r.id = $1`,
    [regionId],
  );
  return rows[0]?.whole ?? false;
}

/**
 * SQL conditions on `incident i` for a filter, with its parameters starting at `$first`. A region
 * means the grids under it (incidents are filed under grids), which keeps every query on indexes.
 */
export function filterSql(f: IncidentFilter, first = 1): { where: string; params: unknown[] } {
  const params: unknown[] = [f.from.toISOString(), f.to.toISOString()];
  // a report marked invalid or merged into another is no case: it leaves every list, count and map
  const where = [`i.reported_at >= $${first}`, `i.reported_at < $${first + 1}`, 'i.void_kind IS NULL'];
  const next = () => `$${first + params.length - 1}`;
  if (f.categories) {
    params.push(f.categories);
    where.push(`i.category = ANY(${next()}::text[])`);
  }
  if (f.statuses) {
    params.push(f.statuses);
    where.push(`i.status = ANY(${next()}::text[])`);
  }
  if (f.bbox) {
    params.push(...f.bbox);
    const n = first + params.length - 4;
    where.push(`i.geom && ST_MakeEnvelope($${n}, $${n + 1}, $${n + 2}, $${n + 3}, 4326)`);
  }
  if (f.gridIds) {
    params.push(f.gridIds);
    where.push(`i.grid_id = ANY(${next()}::int[])`);
  }
  // (and a case whose lead department sent it back while others assist: nobody leads it until the centre names one)
  if (f.intake)
    where.push(`((i.status = 'reported' AND i.assigned_at IS NULL) OR (i.status = 'dispatched'
      AND EXISTS (SELECT 1 FROM dispatch d WHERE d.incident_id = i.id AND d.role = 'lead' AND d.returned_at IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM dispatch d WHERE d.incident_id = i.id AND d.role = 'lead' AND d.returned_at IS NULL AND d.resolved_at IS NULL)))`);
  if (f.satisfaction) {
    params.push(f.satisfaction);
    where.push(`i.status = 'closed' AND i.satisfaction = ${next()}`);
  }
  if (f.reviewed !== undefined) where.push(f.reviewed ? 'i.reviewed_at IS NOT NULL' : 'i.reviewed_at IS NULL');
  // The tree walk also keeps PostgreSQL from scanning in parallel: skip it when it filters nothing.
  if (f.regionId !== undefined && !f.wholePlan) {
    params.push(f.regionId);
    where.push(`${gridColumn(f)} IN (SELECT id FROM gp_subtree(${next()}) WHERE level = 'grid')`);
  }
  return { where: where.join(' AND '), params };
}

/** The incident categories with their deadlines, in their order. */
export async function incidentCategories(db: Queryable): Promise<{ code: string; zh: string; en: string; deadlineHours: number }[]> {
  const { rows } = await db.query<{ code: string; zh: string; en: string; deadlineHours: number }>(
    'SELECT code, zh, en, deadline_hours AS "deadlineHours" FROM incident_category ORDER BY sort, code',
  );
  return rows;
}

/** The incident a reporter already made with this idempotency key, or null. */
export async function reportedWithKey(db: Queryable, reporter: string, key: string, now: Date): Promise<IncidentJson | null> {
  const { rows } = await db.query<{ id: number }>('SELECT id FROM incident WHERE reported_by = $1 AND client_key = $2', [reporter, key]);
  return rows[0] ? incidentById(db, rows[0].id, now) : null;
}

/**
 * One report: filed under the grid at its place (422 outside every district), remembered with the
 * reporter's idempotency key; `mayUse` is asked with the grid before the transaction commits.
 */
export async function reportIncident(
  tx: Queryable,
  actor: string,
  input: NewIncident,
  key: string | null,
  mayUse: (gridId: number | null) => void,
  now: Date,
): Promise<IncidentJson> {
  if (input.reporterId != null && (await tx.query('SELECT 1 FROM worker WHERE id = $1', [input.reporterId])).rows.length === 0) {
    throw new InputError('not_found', `worker ${input.reporterId} does not exist`, 'reporterId');
  }
  const { ids, outside } = await insertIncidents(tx, [input]);
  if (outside.length) throw new InputError('outside_area', `${input.lon}, ${input.lat} lies in no district of this plan`, 'lon');
  // (a place in words, 位置描述, when the reporter gave one)
  await tx.query('UPDATE incident SET reported_by = $2, client_key = $3, address = coalesce($4, address) WHERE id = $1', [
    ids[0],
    actor,
    key,
    input.address ?? null,
  ]);
  const created = await incidentById(tx, ids[0]!, now);
  mayUse(created.gridId);
  await recordChange(tx, { at: now, actor, action: 'report', entity: 'incident', entityId: created.id, before: null, after: created });
  return created;
}

/** The grid an incident is filed under (null: none), or undefined when there is no such incident. */
export async function incidentGrid(db: Queryable, id: number): Promise<number | null | undefined> {
  const { rows } = await db.query<{ grid_id: number | null }>('SELECT grid_id FROM incident WHERE id = $1', [id]);
  return rows[0] ? rows[0].grid_id : undefined;
}

/** A page of incidents matching a filter, newest first, with how many match in all. */
export async function listIncidents(
  db: Queryable,
  filter: IncidentFilter,
  limit: number,
  offset: number,
  now: Date,
): Promise<{ total: number; items: IncidentJson[] }> {
  const f = filterSql(filter, 4);
  // The centre's intake: a case that came back (sent back by a department, reopened after an unsatisfied resident) first,
  // the latest back on top, with what came of it before; then what came in, the most pressing first — by when it is to be
  // taken up (reported + its category's hours to acknowledge at its severity: a 紧急 report of an hour ago before a 一般 one
  // of a minute ago), newest first where those agree. (Newest first alone buried a 紧急 case 29th of 35 by noon.)
  // (the case's district's own hours where it has set them; the district is looked up only for a district's own rows)
  // (a case back at the centre: from when it came back, the latest return or reopening)
  const back = `GREATEST(i.reopened_at, (SELECT max(d.returned_at) FROM dispatch d WHERE d.incident_id = i.id AND NOT d.recalled))`;
  const respondBy = `(coalesce(${back}, i.reported_at) + coalesce(
      (SELECT own.ack_hours FROM district_deadline own
       WHERE own.category = i.category AND own.severity = i.severity AND own.district_id = gp_district_of(coalesce(i.grid_id, i.filed_grid_id))),
      (SELECT dl.ack_hours FROM incident_deadline dl WHERE dl.category = i.category AND dl.severity = i.severity), 24) * interval '1 hour')`;
  const history = `, 'history', json_build_object(
      'returns', coalesce((SELECT json_agg(json_build_object('department', dep.zh, 'en', dep.en, 'code', dep.code,
                   'reason', d.return_reason, 'at', d.returned_at)
                 ORDER BY d.returned_at) FROM dispatch d JOIN department dep ON dep.id = d.department_id
               WHERE d.incident_id = i.id AND d.returned_at IS NOT NULL AND NOT d.recalled), '[]'),
      'answers', coalesce((SELECT json_agg(json_build_object('department', dep.zh, 'code', dep.code, 'answer', d.answer, 'at', d.resolved_at)
                 ORDER BY d.resolved_at) FROM dispatch d JOIN department dep ON dep.id = d.department_id
               WHERE d.incident_id = i.id AND d.answer IS NOT NULL AND i.reopen_count > 0), '[]'),
      'reporter', (SELECT json_build_object('name', w.name, 'phone', w.phone) FROM worker w WHERE w.id = i.reporter_id),
      'respondBy', ${respondBy}, 'backAt', ${back})`;
  const json = filter.intake ? `(${incidentJson('$3')}::jsonb || jsonb_build_object(${history.slice(2)}))` : incidentJson('$3');
  // The page alone, then the count where the page does not tell it: counting in the page's query (a window over
  // every matching row) read and sorted every row's columns — a city's 364,000 cases of a year and a half,
  // 1.5–3 s for 50 of them; counted alone the index answers in a fraction of that. (It also told a total of 0
  // for a page past the end.)
  // The page's cases are picked first and only they are written out: rows an offset skips were written out too
  // (the city's page 20,000 took 15 s).
  const keys = filter.intake ? `${back} AS back, ${respondBy} AS respond_by, ` : '';
  const order = (p: string) => `${filter.intake ? `${p}back DESC NULLS LAST, ${p}respond_by, ` : ''}${p}reported_at DESC, ${p}id DESC`;
  const { rows } = await db.query<{ j: IncidentJson }>(
    `WITH page AS MATERIALIZED (
       SELECT ${keys}i.reported_at, i.id FROM incident i WHERE ${f.where} ORDER BY ${order('')} LIMIT $1 OFFSET $2)
     SELECT ${json} AS j
     FROM page p JOIN incident i ON i.id = p.id JOIN incident_category c ON c.code = i.category
     ORDER BY ${order('p.')}`,
    [limit, offset, now.toISOString(), ...f.params],
  );
  const items = rows.map((r) => r.j);
  if (items.length > 0 && items.length < limit) return { total: offset + items.length, items };
  if (items.length === 0 && offset === 0) return { total: 0, items };
  const counted = filterSql(filter, 1);
  const { rows: n } = await db.query<{ total: number }>(`SELECT count(*)::int AS total FROM incident i WHERE ${counted.where}`, counted.params);
  return { total: n[0]!.total, items };
}

/**
 * 交办: the centre sends a reported case down to the village or grid where it happened, to handle
 * locally; it leaves the intake. The region must hold the case's grid (422 otherwise).
 */
export async function assignIncident(tx: Queryable, actor: string, id: number, regionId: number, now: Date, version?: number): Promise<IncidentJson> {
  const before = await incidentById(tx, id, now, true);
  if (version !== undefined && version !== before.version) {
    throw new InputError('version_conflict', `incident ${id} is at version ${before.version}, not ${version}: it changed meanwhile`, 'version', {
      currentVersion: before.version,
    });
  }
  if (before.status !== 'reported') {
    throw new InputError('illegal_transition', `a case that is ${before.status} is not sent down (it went its way already)`, 'status', {
      from: before.status,
      to: 'assigned',
      allowed: [],
    });
  }
  const { rows } = await tx.query<{ ok: boolean; level: string }>(
    `SELECT r.level, $2::int IN (SELECT a.id FROM gp_ancestors(ARRAY[i.grid_id]) a) AS ok FROM incident i, region r WHERE i.id = $1 AND r.id = $2`,
    [id, regionId],
  );
  const r = rows[0];
  if (!r) throw notFound('region', regionId, 'regionId');
  if (!r.ok || (r.level !== 'village' && r.level !== 'grid')) {
    throw new InputError('not_here', 'a case goes down to the village or grid where it happened', 'regionId');
  }
  await tx.query('UPDATE incident SET assigned_region_id = $2, assigned_at = $3, version = version + 1 WHERE id = $1', [id, regionId, now.toISOString()]);
  const after = await incidentById(tx, id, now);
  await recordChange(tx, { at: now, actor, action: 'assign', entity: 'incident', entityId: id, before, after });
  await notify(
    tx,
    {
      event: 'incident.assigned',
      incidentId: id,
      to: [{ worker: true }],
      text: (c) => ({ zh: `交办：#${c.id} ${c.categoryZh}请就地处置`, en: `Assigned to you: #${c.id} ${c.categoryEn}, handle it locally` }),
      data: { regionId },
    },
    now,
  );
  return after;
}

/** The hours a department would have to acknowledge and to resolve a case (by its category and severity, in its district). */
export async function deadlinesOf(db: Queryable, id: number): Promise<{ ackHours: number; resolveHours: number } | null> {
  const { rows } = await db.query<{ ackHours: number; resolveHours: number }>(
    `SELECT coalesce(own.ack_hours, dl.ack_hours)::float8 AS "ackHours", coalesce(own.resolve_hours, dl.resolve_hours)::float8 AS "resolveHours"
     FROM incident i JOIN incident_deadline dl ON dl.category = i.category AND dl.severity = i.severity
       LEFT JOIN district_deadline own ON own.category = i.category AND own.severity = i.severity
         AND own.district_id = gp_district_of(coalesce(i.grid_id, i.filed_grid_id))
     WHERE i.id = $1`,
    [id],
  );
  return rows[0] ?? null;
}

const conflict = (id: number, before: IncidentJson, version: number | undefined) => {
  if (version !== undefined && version !== before.version) {
    throw new InputError('version_conflict', `incident ${id} is at version ${before.version}, not ${version}: it changed meanwhile`, 'version', {
      currentVersion: before.version,
    });
  }
};

/** How near a report must be to the case it is merged into. */
const MERGE_WITHIN_M = 1_000;
const MERGE_WITHIN_DAYS = 7;

/**
 * 无效 / 合并重复: a report in the intake that is no case is marked invalid with a reason; a second
 * report of the same thing is merged into the first (which must be a live case). Either leaves
 * every list, count and map; the change log and the record keep it.
 */
export async function voidIncident(
  tx: Queryable,
  actor: string,
  id: number,
  step: { kind: 'invalid'; reason: string } | { kind: 'duplicate'; into: number; reason?: string | undefined },
  now: Date,
  version?: number,
): Promise<IncidentJson> {
  const before = await incidentById(tx, id, now, true);
  conflict(id, before, version);
  if (before.void)
    throw new InputError('illegal_transition', `incident ${id} was ${before.void.kind === 'invalid' ? 'marked invalid' : 'merged'} already`, 'id');
  if (before.status !== 'reported') {
    throw new InputError(
      'illegal_transition',
      `a case that is ${before.status} went its way already; only a report not yet handled is marked or merged`,
      'status',
      {
        from: before.status,
        to: step.kind,
        allowed: [],
      },
    );
  }
  let reason = (step.reason ?? '').trim();
  if (step.kind === 'invalid' && !reason) throw new InputError('reason_required', 'say why the report is no case', 'reason');
  if (step.kind === 'duplicate') {
    if (step.into === id) throw new InputError('not_here', 'a report is not merged into itself', 'into');
    const target = await incidentById(tx, step.into, now).catch(() => {
      throw notFound('incident', step.into, 'into');
    });
    if (target.void) throw new InputError('not_here', `incident ${step.into} is itself merged or invalid; merge into the case it went to`, 'into');
    // a duplicate is the same thing: the same category, near, within days (else it is a case of its own)
    const { rows: near } = await tx.query<{ ok: boolean }>(
      `SELECT o.category = t.category AND ST_DWithin(o.geom::geography, t.geom::geography, $3)
              AND abs(extract(epoch FROM o.reported_at - t.reported_at)) <= $4 AS ok
       FROM incident o, incident t WHERE o.id = $1 AND t.id = $2`,
      [id, step.into, MERGE_WITHIN_M, MERGE_WITHIN_DAYS * 86_400],
    );
    if (!near[0]?.ok) {
      throw new InputError(
        'not_duplicate',
        `only a report of the same category within ${MERGE_WITHIN_M} m and ${MERGE_WITHIN_DAYS} days is merged; route this one on its own`,
        'into',
      );
    }
    reason ||= `重复：同 #${step.into}`;
  }
  await tx.query('UPDATE incident SET void_kind = $2, void_reason = $3, voided_at = $4, merged_into = $5, version = version + 1 WHERE id = $1', [
    id,
    step.kind,
    reason,
    now.toISOString(),
    step.kind === 'duplicate' ? step.into : null,
  ]);
  const after = await incidentById(tx, id, now);
  await recordChange(tx, { at: now, actor, action: step.kind === 'invalid' ? 'invalid' : 'merge', entity: 'incident', entityId: id, before, after });
  // the one who reported it learns why it left the lists
  await notify(
    tx,
    {
      event: 'incident.voided',
      incidentId: id,
      to: [{ worker: true }, { reporter: true }],
      except: actor,
      text: (c) =>
        step.kind === 'duplicate'
          ? {
              zh: `已合并：#${c.id} ${c.categoryZh} 与 #${step.into} 是同一件事，并入 #${step.into} 一起办理`,
              en: `Merged: #${c.id} ${c.categoryEn} is the same as #${step.into} and goes on as it`,
            }
          : { zh: `无效：#${c.id} ${c.categoryZh} 被标为无效，理由：${reason}`, en: `Invalid: #${c.id} ${c.categoryEn} was marked invalid: ${reason}` },
      data: { kind: step.kind, reason, ...(step.kind === 'duplicate' ? { into: step.into } : {}) },
    },
    now,
  );
  return after;
}

/**
 * 撤销无效/合并: a report marked invalid or merged by mistake is a report again, back in the intake, as it was before.
 * Only while nothing else happened to it (it cannot: a voided report takes no step) — 409 when stale, 422 when not voided.
 */
export async function restoreIncident(tx: Queryable, actor: string, id: number, now: Date, version?: number): Promise<IncidentJson> {
  const before = await incidentById(tx, id, now, true);
  conflict(id, before, version);
  if (!before.void) throw new InputError('illegal_transition', `incident ${id} is neither merged nor marked invalid`, 'id');
  await tx.query('UPDATE incident SET void_kind = NULL, void_reason = NULL, voided_at = NULL, merged_into = NULL, version = version + 1 WHERE id = $1', [id]);
  const after = await incidentById(tx, id, now);
  await recordChange(tx, { at: now, actor, action: 'restore', entity: 'incident', entityId: id, before, after });
  return after;
}

/** Reports that may be the same case: the same category within 300 m and a day, live, nearest first. */
export async function duplicatesOf(
  db: Queryable,
  id: number,
  now: Date,
  /** The caller's area: candidates outside it are not shown. */
  scopeId: number | null = null,
): Promise<(IncidentJson & { distanceM: number; similarity: number })[]> {
  const { rows } = await db.query<{ j: IncidentJson & { distanceM: number }; said: string | null }>(
    `SELECT ${incidentJson('$2')}::jsonb || jsonb_build_object('distanceM', round(ST_Distance(i.geom::geography, o.geom::geography))) AS j,
            o.description AS said
     FROM incident o JOIN incident i ON i.category = o.category AND i.id <> o.id AND i.void_kind IS NULL
       AND i.reported_at BETWEEN o.reported_at - interval '24 hours' AND o.reported_at + interval '24 hours'
       AND ST_DWithin(i.geom::geography, o.geom::geography, 300)
     JOIN incident_category c ON c.code = i.category
     WHERE o.id = $1 AND ($3::int IS NULL OR i.grid_id IN (SELECT s.id FROM gp_subtree($3::int) s))
     ORDER BY ST_Distance(i.geom::geography, o.geom::geography), i.reported_at LIMIT 50`,
    [id, now.toISOString(), scopeId],
  );
  // the same problem is told in like words: those first (a pothole and a fallen sign of one category 100 m apart are
  // two cases), then the nearest
  const said = rows[0]?.said ?? '';
  return rows
    .map((r) => ({ ...r.j, similarity: Math.round(textSimilarity(said, r.j.description ?? '') * 100) / 100 }))
    .sort((a, b) => b.similarity - a.similarity || a.distanceM - b.distanceM)
    .slice(0, 20);
}

/**
 * 复核后维持结案: the centre has looked at a case closed with an unsatisfied resident and keeps the closure (what
 * could be done was done), with a note of why; the case leaves the review list. Once: a second is refused.
 */
export async function reviewIncident(tx: Queryable, actor: string, id: number, note: string, now: Date, version?: number): Promise<IncidentJson> {
  const before = await incidentById(tx, id, now, true);
  conflict(id, before, version);
  if (before.status !== 'closed' || before.satisfaction !== 'unsatisfied' || before.reviewedAt) {
    throw new InputError(
      'illegal_transition',
      before.reviewedAt ? 'this case was reviewed already' : 'only a case closed with an unsatisfied resident is reviewed',
      'status',
      { from: before.status, to: 'closed', allowed: [] },
    );
  }
  if (!note.trim()) throw new InputError('reason_required', 'say why the closure stands', 'note');
  await tx.query('UPDATE incident SET reviewed_at = $2, review_note = $3, version = version + 1 WHERE id = $1', [id, now.toISOString(), note.trim()]);
  const after = await incidentById(tx, id, now);
  await recordChange(tx, { at: now, actor, action: 'review', entity: 'incident', entityId: id, before, after });
  return after;
}

/**
 * 重新办理: a case closed with an unsatisfied resident goes back to the centre's intake, to be
 * routed again; its earlier route, answers and verdict stay in the change log and the dispatches.
 */
export async function reopenIncident(tx: Queryable, actor: string, id: number, reason: string, now: Date, version?: number): Promise<IncidentJson> {
  const before = await incidentById(tx, id, now, true);
  conflict(id, before, version);
  if (before.status !== 'closed' || before.satisfaction !== 'unsatisfied') {
    throw new InputError('illegal_transition', 'only a case closed with an unsatisfied resident is reopened', 'status', {
      from: before.status,
      to: 'reported',
      allowed: [],
    });
  }
  if (!reason.trim()) throw new InputError('reason_required', 'say what is still wrong', 'reason');
  await tx.query(
    `UPDATE incident SET status = 'reported', dispatched_at = NULL, resolved_at = NULL, closed_at = NULL, solved_level = NULL, resolution_note = NULL,
       satisfaction = NULL, feedback = NULL, department = NULL, assigned_region_id = NULL, assigned_at = NULL,
       reopen_count = reopen_count + 1, reopened_at = $2, reopen_reason = $3, reviewed_at = NULL, review_note = NULL, version = version + 1
     WHERE id = $1`,
    [id, now.toISOString(), reason.trim()],
  );
  const after = await incidentById(tx, id, now);
  await recordChange(tx, { at: now, actor, action: 'reopen', entity: 'incident', entityId: id, before, after });
  await notify(
    tx,
    {
      event: 'incident.reopened',
      incidentId: id,
      to: [{ worker: true }, { reporter: true }],
      except: actor,
      text: (c) => ({ zh: `重新办理：#${c.id} ${c.categoryZh}，理由：${reason.trim()}`, en: `Reopened: #${c.id} ${c.categoryEn}: ${reason.trim()}` }),
      data: { reason: reason.trim() },
    },
    now,
  );
  return after;
}
