import { InputError, notFound } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { incidentById, incidentJson, type IncidentJson } from './incidents.ts';
import { chinaTimes, notify } from './notifications.ts';
import { recordChange } from './regions.ts';

/** A dispatch as the API shows it. */
export interface DispatchJson {
  id: number;
  incidentId: number;
  department: { id: number; code: string; zh: string; en: string };
  dispatchedAt: string;
  ackDueAt: string;
  dueAt: string;
  acknowledgedAt: string | null;
  resolvedAt: string | null;
  answer: string | null;
  /** Past a deadline and not done: to acknowledge (`ack`) or to resolve (`resolve`). */
  overdue: 'ack' | 'resolve' | null;
  /** 0: none; 1: the township was alerted; 2: the district was. */
  escalation: number;
  escalatedAt: string | null;
  /** 主办 (lead) or 协办 (assisting). */
  role: 'lead' | 'assist';
  /** 退回: sent back to the centre, with the reason. */
  returnedAt: string | null;
  returnReason: string | null;
  /** 延期: more time asked until `until`, and the centre's decision. */
  extension: { until: string; reason: string; state: 'asked' | 'approved' | 'refused' } | null;
  version: number;
  /** The department's photos of its answer (处置后照片). */
  answerPhotos: string[];
  /** 催办: how often the centre urged the department on, and when last. */
  urged: { count: number; at: string | null };
  /**
   * 改派: given by the centre to this department instead — taken back from this one (`recalled`, returned with the
   * centre's reason), or after it sent the case back.
   */
  reassignedTo: { id: number; code: string; zh: string; en: string } | null;
  recalled: boolean;
  /** 改派 here from another department: which, and the centre's reason when it took the case from it. */
  reassignedFrom: { code: string; zh: string; en: string; reason: string | null } | null;
  /** 协办: the department leading the case (who to work with), while one does. */
  leadBy: { code: string; zh: string; en: string } | null;
}

/** `$now` is a parameter: the clock is the caller's (tests run a fake one). */
const dispatchJson = (now: string) => `json_build_object(
  'id', d.id, 'incidentId', d.incident_id,
  'department', json_build_object('id', dep.id, 'code', dep.code, 'zh', dep.zh, 'en', dep.en),
  'dispatchedAt', d.dispatched_at, 'ackDueAt', d.ack_due_at, 'dueAt', d.due_at,
  'acknowledgedAt', d.acknowledged_at, 'resolvedAt', d.resolved_at, 'answer', d.answer,
  'overdue', CASE WHEN d.resolved_at IS NULL AND d.returned_at IS NULL AND d.due_at < ${now} THEN 'resolve'
                  WHEN d.acknowledged_at IS NULL AND d.returned_at IS NULL AND d.ack_due_at < ${now} THEN 'ack' END,
  'escalation', d.escalation, 'escalatedAt', d.escalated_at, 'role', d.role, 'returnedAt', d.returned_at, 'returnReason', d.return_reason,
  'extension', CASE WHEN d.extension_state IS NOT NULL THEN json_build_object('until', d.extension_until, 'reason', d.extension_reason,
                 'state', d.extension_state) END,
  'version', d.version,
  'answerPhotos', ARRAY(SELECT '/api/incidents/' || ph.incident_id || '/photos/' || ph.id FROM incident_photo ph WHERE ph.dispatch_id = d.id ORDER BY ph.id),
  'urged', json_build_object('count', d.urge_count, 'at', d.urged_at),
  'reassignedTo', (SELECT json_build_object('id', r.id, 'code', r.code, 'zh', r.zh, 'en', r.en) FROM department r WHERE r.id = d.reassigned_to),
  'recalled', d.recalled,
  'reassignedFrom', (SELECT json_build_object('code', f.code, 'zh', f.zh, 'en', f.en, 'reason', CASE WHEN o.recalled THEN o.return_reason END)
                     FROM dispatch o JOIN department f ON f.id = o.department_id
                     WHERE o.incident_id = d.incident_id AND o.reassigned_to = d.department_id AND o.id <> d.id
                     ORDER BY o.returned_at DESC NULLS LAST LIMIT 1),
  'leadBy', CASE WHEN d.role = 'assist' THEN (SELECT json_build_object('code', l.code, 'zh', l.zh, 'en', l.en)
                     FROM dispatch o JOIN department l ON l.id = o.department_id
                     WHERE o.incident_id = d.incident_id AND o.role = 'lead' AND o.returned_at IS NULL ORDER BY o.id DESC LIMIT 1) END)`;

export async function dispatchesOf(tx: Queryable, incidentId: number, now: Date): Promise<DispatchJson[]> {
  const { rows } = await tx.query<{ j: DispatchJson }>(
    `SELECT ${dispatchJson('$2::timestamptz')} AS j FROM dispatch d JOIN department dep ON dep.id = d.department_id WHERE d.incident_id = $1
      ORDER BY dep.sort, dep.id`,
    [incidentId, now.toISOString()],
  );
  return rows.map((r) => r.j);
}

export async function dispatchById(tx: Queryable, id: number, now: Date, lock = false): Promise<DispatchJson> {
  const { rows } = await tx.query<{ j: DispatchJson }>(
    `SELECT ${dispatchJson('$2::timestamptz')} AS j FROM dispatch d JOIN department dep ON dep.id = d.department_id
      WHERE d.id = $1 ${lock ? 'FOR UPDATE OF d' : ''}`,
    [id, now.toISOString()],
  );
  if (!rows[0]) throw notFound('dispatch', id);
  return rows[0].j;
}

export interface DepartmentJson {
  id: number;
  code: string;
  zh: string;
  en: string;
  /** The categories sent here by default. */
  categories: string[];
  /** The region it serves (null: the whole plan), and its name. */
  regionId: number | null;
  regionName: string | null;
}

/**
 * Departments, in their order: given `place` (a case's grid), those that serve it — the ones a case there can be sent
 * to; given `within` (a region), those with a part in it — serving all of it or part of it. Neither: all.
 */
export async function listDepartments(db: Queryable, f: { place?: number | null; within?: number | null } = {}): Promise<DepartmentJson[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  // (for a case, its place's own departments first, the nearest first: 麒麟区公安局 before 市公安局, the plan's last)
  let nearest = '';
  if (f.place !== undefined) {
    const at = params.push(f.place);
    where.push(`gp_serves(d.region_id, $${at}::int)`);
    nearest = `(SELECT a.depth FROM gp_ancestors(ARRAY[$${at}::int]) a WHERE a.id = d.region_id) NULLS LAST, `;
  }
  if (f.within !== undefined && f.within !== null) where.push(`gp_overlaps(d.region_id, $${params.push(f.within)}::int)`);
  const { rows } = await db.query<DepartmentJson>(
    `SELECT d.id, d.code, d.zh, d.en, coalesce(array_agg(cd.category ORDER BY cd.category) FILTER (WHERE cd.category IS NOT NULL), '{}') AS categories,
       d.region_id AS "regionId", (SELECT r.name FROM region r WHERE r.id = d.region_id) AS "regionName"
     FROM department d LEFT JOIN category_department cd ON cd.department_id = d.id
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     GROUP BY d.id ORDER BY ${nearest}d.sort, d.id`,
    params,
  );
  return rows;
}

/**
 * Department ids for codes, in order; an unknown code is a 422 naming it. Given the case's `place` (its grid), a
 * department that does not serve it (another county's own) is a 422 `department_elsewhere`.
 */
export async function departmentIds(tx: Queryable, codes: string[], path = 'departments', single = false, place?: number | null): Promise<number[]> {
  const { rows } = await tx.query<{ id: number; code: string; zh: string; serves: boolean; region: string | null }>(
    `SELECT d.id, d.code, d.zh, gp_serves(d.region_id, $2::int) AS serves, (SELECT r.name FROM region r WHERE r.id = d.region_id) AS region
     FROM department d WHERE d.code = ANY($1::text[])`,
    [codes, place ?? null],
  );
  return codes.map((code, i) => {
    const found = rows.find((r) => r.code === code);
    const at = single ? path : `${path}[${i}]`;
    if (!found) throw new InputError('unknown_department', `no department ${JSON.stringify(code)}`, at);
    if (place !== undefined && !found.serves)
      throw new InputError('department_elsewhere', `${found.zh} serves ${found.region ?? 'another region'}, not the place of this case`, at, {
        department: code,
        region: found.region,
      });
    return found.id;
  });
}

/** The departments a category goes to by default — of those serving `place` (the case's grid) when given. */
export async function defaultDepartments(tx: Queryable, category: string, place?: number | null): Promise<string[]> {
  const { rows } = await tx.query<{ code: string }>(
    `SELECT d.code FROM category_department cd JOIN department d ON d.id = cd.department_id
     WHERE cd.category = $1 AND ($2::boolean OR gp_serves(d.region_id, $3::int)) ORDER BY d.sort, d.id`,
    [category, place === undefined, place ?? null],
  );
  return rows.map((r) => r.code);
}

/**
 * Where a case is, for the departments that serve it: its grid; else the grid it was filed in, while that is still there;
 * else the deepest region holding its point (a case whose grid was deleted lies in its village or township still).
 * Null: outside the plan — then only departments of the whole plan serve it.
 */
export async function casePlace(tx: Queryable, incidentId: number): Promise<number | null> {
  const { rows } = await tx.query<{ place: number | null }>(`SELECT ${casePlaceSql('i')} AS place FROM incident i WHERE i.id = $1`, [incidentId]);
  return rows[0]?.place ?? null;
}

/** `casePlace` as SQL, of the incident row `i`. */
export const casePlaceSql = (i: string) =>
  `coalesce((SELECT g.id FROM region g WHERE g.id = ${i}.grid_id), (SELECT g.id FROM region g WHERE g.id = ${i}.filed_grid_id),
     (SELECT r.id FROM region r WHERE ST_Covers(r.geom, ${i}.geom)
      ORDER BY array_position(ARRAY['grid', 'village', 'township', 'district', 'city'], r.level) LIMIT 1))`;

/** A dispatch of the case's current round: not one answered before the case was reopened (`d` the dispatch, `i` its incident). */
const THIS_ROUND = 'NOT (i.reopened_at IS NOT NULL AND d.resolved_at IS NOT NULL AND d.resolved_at <= i.reopened_at)';

/**
 * 吹哨: sends an incident to departments, each with deadlines to acknowledge and resolve set by
 * its category and severity — or, given `dueAt`, by the centre: then resolved by that moment, and
 * acknowledged by it too when it comes first. A reported incident becomes dispatched; one already
 * dispatched gains the new departments (a second department called in). A department already on it is skipped.
 */
export async function dispatchIncident(
  tx: Queryable,
  actor: string,
  incidentId: number,
  sent: (string | { code: string; role: 'lead' | 'assist' })[],
  now: Date,
  version?: number,
  dueAt?: Date,
): Promise<{ incident: IncidentJson; dispatches: DispatchJson[] }> {
  if (dueAt) checkDeadline(dueAt, now, 'dueAt');
  // A list of codes: the first leads (主办), the others assist (协办), unless one already leads.
  // (a lead that answered before the case was reopened led the last round, not this one)
  const { rows: leading } = await tx.query(
    `SELECT 1 FROM dispatch d JOIN incident i ON i.id = d.incident_id WHERE d.incident_id = $1 AND d.role = $2 AND d.returned_at IS NULL AND ${THIS_ROUND}`,
    [incidentId, 'lead'],
  );
  const listed = sent.map((s, i) => (typeof s === 'string' ? { code: s, role: i === 0 && leading.length === 0 ? ('lead' as const) : ('assist' as const) } : s));
  // a department named twice is sent once (its first mention says its role)
  const asked = listed.filter((a, i) => listed.findIndex((b) => b.code === a.code) === i);
  const leads = asked.filter((a) => a.role === 'lead').length + leading.length;
  if (leads > 1) throw new InputError('one_lead', 'one department leads a case (主办); the others assist (协办)', 'departments');
  const codes = asked.map((a) => a.code);
  const before = await incidentById(tx, incidentId, now, true);
  if (version !== undefined && version !== before.version) {
    throw new InputError('version_conflict', `incident ${incidentId} is at version ${before.version}, not ${version}: it changed meanwhile`, 'version', {
      currentVersion: before.version,
    });
  }
  if (before.status !== 'reported' && before.status !== 'dispatched') {
    throw new InputError('illegal_transition', `an incident that is ${before.status} is not dispatched again`, 'status', {
      from: before.status,
      to: 'dispatched',
      allowed: [],
    });
  }
  if (now < new Date(before.reportedAt))
    throw new InputError('time_before_previous_step', `dispatch at ${now.toISOString()} is before the report (${before.reportedAt})`, 'at');
  // (only departments serving the case's place: another county's own 公安 is not this case's)
  const ids = await departmentIds(tx, codes, 'departments', false, await casePlace(tx, incidentId));
  // a department called in again — it sent the case back, or answered a round since reopened — starts afresh; the
  // round it had is kept (dispatch_round), so an escalation or a late acknowledgement stays in its figures
  const again = `(dispatch.returned_at IS NOT NULL OR (dispatch.resolved_at IS NOT NULL AND dispatch.resolved_at <= $3::timestamptz))`;
  const reopenedAt = before.reopenedAt ?? null;
  await tx.query(
    `INSERT INTO dispatch_round (dispatch_id, incident_id, department_id, role, dispatched_at, ack_due_at, due_at, acknowledged_at, resolved_at,
       answer, returned_at, return_reason, recalled, reassigned_to, escalation, escalated_at, urge_count, satisfaction, ended_at)
     SELECT id, incident_id, department_id, role, dispatched_at, ack_due_at, due_at, acknowledged_at, resolved_at,
       answer, returned_at, return_reason, recalled, reassigned_to, escalation, escalated_at, urge_count, satisfaction, $4
     FROM dispatch WHERE incident_id = $1 AND department_id = ANY($2::int[]) AND ${again}`,
    [incidentId, ids, reopenedAt, now.toISOString()],
  );
  const { rows: sentTo } = await tx.query<{ id: number; department_id: number; ack_due_at: string; role: 'lead' | 'assist' }>(
    `INSERT INTO dispatch (incident_id, department_id, dispatched_at, ack_due_at, due_at, role)
     SELECT i.id, t.dep, $3::timestamptz,
       least($3::timestamptz + make_interval(secs => coalesce(own.ack_hours, dl.ack_hours) * 3600), $6::timestamptz),
       coalesce($6::timestamptz, $3::timestamptz + make_interval(secs => coalesce(own.resolve_hours, dl.resolve_hours) * 3600)), t.role
     FROM incident i JOIN incident_deadline dl ON dl.category = i.category AND dl.severity = i.severity
       -- (the case's district's own hours, where it has set them)
       LEFT JOIN district_deadline own ON own.category = i.category AND own.severity = i.severity
         AND own.district_id = gp_district_of(coalesce(i.grid_id, i.filed_grid_id)),
       unnest($2::int[], $4::text[]) AS t(dep, role)
     WHERE i.id = $1
     -- a department on it already is left alone; one that sent it back is called in again, afresh
     ON CONFLICT (incident_id, department_id) DO UPDATE SET dispatched_at = EXCLUDED.dispatched_at, ack_due_at = EXCLUDED.ack_due_at,
       due_at = EXCLUDED.due_at, role = EXCLUDED.role, acknowledged_at = NULL, returned_at = NULL, return_reason = NULL, escalation = 0,
       escalated_at = NULL, extension_until = NULL, extension_reason = NULL, extension_state = NULL, resolved_at = NULL, answer = NULL,
       near_notified_for = NULL, urge_count = 0, urged_at = NULL, reassigned_to = NULL, recalled = false, satisfaction = NULL,
       version = dispatch.version + 1
       -- (or one that answered a case since reopened)
       WHERE ${again.replace('$3', '$5')}
     RETURNING id, department_id, ack_due_at, role`,
    [incidentId, ids, now.toISOString(), asked.map((a) => a.role), reopenedAt, dueAt?.toISOString() ?? null],
  );
  for (const d of sentTo) {
    const ack = chinaTimes(d.ack_due_at);
    await notify(
      tx,
      {
        event: 'dispatch.received',
        incidentId,
        dispatchId: d.id,
        to: [{ department: d.department_id }],
        text: (c) => ({
          zh: `新派单（${d.role === 'lead' ? '主办' : '协办'}）#${c.id} ${c.categoryZh}${c.place ? `，${c.place}` : ''}：请于${ack.zh}前受理（报到）`,
          en: `New case (${d.role === 'lead' ? 'lead' : 'assisting'}) #${c.id} ${c.categoryEn}: acknowledge by ${ack.en}`,
        }),
        data: { role: d.role, ackDueAt: new Date(d.ack_due_at).toISOString() },
      },
      now,
    );
  }
  await tx.query(
    `UPDATE incident SET status = 'dispatched', dispatched_at = coalesce(dispatched_at, $2), version = version + 1,
       department = (SELECT string_agg(dep.zh, '、' ORDER BY d.role DESC, dep.sort, dep.id) FROM dispatch d JOIN department dep ON dep.id = d.department_id
         JOIN incident i ON i.id = d.incident_id WHERE d.incident_id = $1 AND d.returned_at IS NULL AND ${THIS_ROUND})
     WHERE id = $1`,
    [incidentId, now.toISOString()],
  );
  const incident = await incidentById(tx, incidentId, now);
  const dispatches = await dispatchesOf(tx, incidentId, now);
  await recordChange(tx, { at: now, actor, action: 'dispatch', entity: 'incident', entityId: incidentId, before, after: { ...incident, dispatches } });
  if (sentTo.length > 0) {
    // the grid hears where its report went (吹哨): the lead first
    const on = dispatches.filter((d) => !d.returnedAt).sort((a, b) => (a.role === b.role ? 0 : a.role === 'lead' ? -1 : 1));
    const zh = on.map((d) => `${d.department.zh}${d.role === 'lead' ? '（主办）' : ''}`).join('、');
    const en = on.map((d) => `${d.department.en}${d.role === 'lead' ? ' (lead)' : ''}`).join(', ');
    await notify(
      tx,
      {
        event: 'incident.routed',
        incidentId,
        to: [{ worker: true }, { reporter: true }],
        except: actor,
        text: (c) => ({ zh: `已派单：#${c.id} ${c.categoryZh} 派至 ${zh}`, en: `Routed: #${c.id} ${c.categoryEn} to ${en}` }),
        data: { departments: on.map((d) => ({ code: d.department.code, role: d.role })) },
      },
      now,
    );
  }
  return { incident, dispatches };
}

/**
 * Locks the case a dispatch belongs to, before the dispatch itself: every step on a case takes its locks in one
 * order — the case, then its dispatches — as 吹哨 does, so a department's answer, the centre's 改派 and a second
 * 吹哨 on one case wait for each other on PostgreSQL instead of deadlocking (from the attacker's pass).
 */
async function lockCaseOf(tx: Queryable, dispatchId: number): Promise<void> {
  await tx.query('SELECT 1 FROM incident WHERE id = (SELECT incident_id FROM dispatch WHERE id = $1) FOR UPDATE', [dispatchId]);
}

/**
 * 报到: a department acknowledges its dispatch, then resolves it with its answer. When the last
 * department on an incident has resolved, the incident is resolved; closing it (with feedback to
 * the reporter) stays with the grid.
 */
export async function answerDispatch(
  tx: Queryable,
  actor: string,
  id: number,
  step: { action: 'acknowledge' | 'resolve'; answer?: string | undefined; version?: number | undefined },
  now: Date,
  departmentId: number | null,
): Promise<{ dispatch: DispatchJson; incident: IncidentJson }> {
  await lockCaseOf(tx, id);
  const before = await dispatchById(tx, id, now, true);
  if (before.returnedAt) {
    throw new InputError('illegal_transition', 'a dispatch sent back to the centre does not change', 'action', {
      from: 'returned',
      to: step.action,
      allowed: [],
    });
  }
  if (departmentId !== null && before.department.id !== departmentId) {
    throw new InputError('outside_scope', `dispatch ${id} is for ${before.department.code}, not your department`, 'id');
  }
  if (step.version !== undefined && step.version !== before.version) {
    throw new InputError('version_conflict', `dispatch ${id} is at version ${before.version}, not ${step.version}: it changed meanwhile`, 'version', {
      currentVersion: before.version,
    });
  }
  const state = before.resolvedAt ? 'resolved' : before.acknowledgedAt ? 'acknowledged' : 'dispatched';
  const allowed = state === 'dispatched' ? 'acknowledge' : state === 'acknowledged' ? 'resolve' : null;
  if (step.action !== allowed) {
    throw new InputError(
      'illegal_transition',
      allowed ? `a dispatch that is ${state} can only be asked to ${allowed}, not ${step.action}` : 'a resolved dispatch does not change',
      'action',
      { from: state, to: step.action, allowed: allowed ? [allowed] : [] },
    );
  }
  const last = before.acknowledgedAt ?? before.dispatchedAt;
  if (now < new Date(last))
    throw new InputError('time_before_previous_step', `${step.action} at ${now.toISOString()} is before the previous step (${last})`, 'at');
  if (step.action === 'resolve' && !step.answer?.trim()) throw new InputError('answer_required', 'resolving records the department’s answer', 'answer');
  await tx.query(
    step.action === 'acknowledge'
      ? 'UPDATE dispatch SET acknowledged_at = $2, version = version + 1 WHERE id = $1'
      : 'UPDATE dispatch SET resolved_at = $2, answer = $3, version = version + 1 WHERE id = $1',
    step.action === 'acknowledge' ? [id, now.toISOString()] : [id, now.toISOString(), step.answer!.trim()],
  );
  const incidentBefore = await incidentById(tx, before.incidentId, now, true);
  if (step.action === 'resolve' && incidentBefore.status === 'dispatched') {
    // The last department's answer resolves the incident.
    await tx.query(
      `UPDATE incident SET status = 'resolved', resolved_at = $2, solved_level = 'department', version = version + 1
       WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM dispatch WHERE incident_id = $1 AND resolved_at IS NULL AND returned_at IS NULL)`,
      [before.incidentId, now.toISOString()],
    );
  }
  const dispatch = await dispatchById(tx, id, now);
  const incident = await incidentById(tx, before.incidentId, now);
  await recordChange(tx, { at: now, actor, action: step.action, entity: 'dispatch', entityId: id, before, after: dispatch });
  if (step.action === 'resolve') {
    // the grid hears the department's answer (and, from the last one, that the case waits for its visit back)
    const answer = step.answer!.trim();
    // (its own full stop dropped: the notice adds its own, 路面已恢复通行。请回访群众后结案, not 。。)
    const short = answer.length > 60 ? `${answer.slice(0, 60)}…` : answer.replace(/[。.！!；;，,\s]+$/u, '');
    const done = incident.status === 'resolved' && incidentBefore.status !== 'resolved';
    await notify(
      tx,
      {
        event: 'dispatch.answered',
        incidentId: incident.id,
        dispatchId: id,
        to: [{ worker: true }, { reporter: true }],
        except: actor,
        text: (c) => ({
          zh: `答复：${dispatch.department.zh}已办结 #${c.id} ${c.categoryZh}：${short}${done ? '。请回访群众后结案' : ''}`,
          en: `Answered: ${dispatch.department.en} finished #${c.id} ${c.categoryEn}: ${short}${done ? '. Visit the resident and close it' : ''}`,
        }),
        data: { department: dispatch.department.code, answer },
      },
      now,
    );
  }
  if (incident.status !== incidentBefore.status) {
    await recordChange(tx, { at: now, actor, action: 'resolve', entity: 'incident', entityId: incident.id, before: incidentBefore, after: incident });
  }
  return { dispatch, incident };
}

/** A department's step besides answering: send back (退回) or ask for more time (延期); the centre's decision on it. */
export type DispatchStep =
  | { action: 'return'; reason: string; version?: number | undefined }
  | { action: 'extend'; reason: string; until: Date; version?: number | undefined }
  | { action: 'approve_extension' | 'refuse_extension'; reason?: string | undefined; version?: number | undefined };

/**
 * 退回 and 延期. A department (its own dispatch, not yet resolved) sends it back to the centre with a
 * reason — the case returns to the centre's intake when no other department is still on it — or
 * asks for more time until a later moment; the centre (`departmentId` null) approves, which moves
 * the deadline, or refuses. Every step is in the change log; out of turn: 422; stale: 409.
 */
export async function stepDispatch(
  tx: Queryable,
  actor: string,
  id: number,
  step: DispatchStep,
  now: Date,
  departmentId: number | null,
): Promise<{ dispatch: DispatchJson; incident: IncidentJson }> {
  await lockCaseOf(tx, id);
  const before = await dispatchById(tx, id, now, true);
  const centre = step.action === 'approve_extension' || step.action === 'refuse_extension';
  if (centre && departmentId !== null) throw new InputError('forbidden', 'the centre decides on more time, not the department that asked', 'action');
  if (!centre && departmentId !== null && before.department.id !== departmentId) {
    throw new InputError('outside_scope', `dispatch ${id} is for ${before.department.code}, not your department`, 'id');
  }
  if (step.version !== undefined && step.version !== before.version) {
    throw new InputError('version_conflict', `dispatch ${id} is at version ${before.version}, not ${step.version}: it changed meanwhile`, 'version', {
      currentVersion: before.version,
    });
  }
  const state = before.returnedAt ? 'returned' : before.resolvedAt ? 'resolved' : before.acknowledgedAt ? 'acknowledged' : 'dispatched';
  const illegal = (allowed: string[]) =>
    new InputError(
      'illegal_transition',
      `a dispatch that is ${state}${before.extension ? ` (more time ${before.extension.state})` : ''} cannot ${step.action}`,
      'action',
      {
        from: state,
        to: step.action,
        allowed,
      },
    );
  const reason = (step.reason ?? '').trim();
  if (step.action === 'return' || step.action === 'extend') {
    if (state === 'returned' || state === 'resolved') throw illegal([]);
    if (!reason)
      throw new InputError('reason_required', step.action === 'return' ? 'say why it goes back to the centre' : 'say why more time is needed', 'reason');
  }
  if (step.action === 'return') {
    await tx.query('UPDATE dispatch SET returned_at = $2, return_reason = $3, version = version + 1 WHERE id = $1', [id, now.toISOString(), reason]);
    // back to the centre's intake when nobody else is on it
    await tx.query(
      `UPDATE incident SET version = version + 1,
         status = CASE WHEN status = 'dispatched' AND NOT EXISTS (SELECT 1 FROM dispatch WHERE incident_id = $1 AND returned_at IS NULL AND resolved_at IS NULL)
                       THEN 'reported' ELSE status END,
         department = (SELECT string_agg(dep.zh, '、' ORDER BY d.role DESC, dep.sort) FROM dispatch d JOIN department dep ON dep.id = d.department_id
                       WHERE d.incident_id = $1 AND d.returned_at IS NULL)
       WHERE id = $1`,
      [before.incidentId],
    );
  } else if (step.action === 'extend') {
    if (before.extension?.state === 'asked') throw illegal(['return']);
    if (step.until.getTime() <= Math.max(now.getTime(), Date.parse(before.dueAt))) {
      throw new InputError('invalid_time', `more time runs to a moment after the deadline (${before.dueAt})`, 'until');
    }
    await tx.query(`UPDATE dispatch SET extension_until = $2, extension_reason = $3, extension_state = 'asked', version = version + 1 WHERE id = $1`, [
      id,
      step.until.toISOString(),
      reason,
    ]);
  } else {
    if (before.extension?.state !== 'asked' || state === 'returned' || state === 'resolved') throw illegal([]);
    await tx.query(
      step.action === 'approve_extension'
        ? // (an escalation that happened stays on the record, as with 改期限: the department's figures keep it)
          `UPDATE dispatch SET extension_state = 'approved', due_at = extension_until, version = version + 1 WHERE id = $1`
        : `UPDATE dispatch SET extension_state = 'refused', version = version + 1 WHERE id = $1`,
      [id],
    );
  }
  const dispatch = await dispatchById(tx, id, now);
  const incident = await incidentById(tx, before.incidentId, now);
  // (the words said with it: a case's timeline shows them)
  await recordChange(tx, { at: now, actor, action: step.action, entity: 'dispatch', entityId: id, before, after: { ...dispatch, reason: reason || null } });
  const dep = before.department;
  const base = { incidentId: before.incidentId, dispatchId: id, data: { department: dep.code, reason: reason || null } };
  if (step.action === 'return') {
    await notify(
      tx,
      {
        ...base,
        event: 'dispatch.returned',
        to: [{ centre: true }],
        text: (c) => ({ zh: `退回：${dep.zh}退回 #${c.id} ${c.categoryZh}，理由：${reason}`, en: `Returned: ${dep.en} sent #${c.id} back: ${reason}` }),
      },
      now,
    );
  } else if (step.action === 'extend') {
    const until = chinaTimes(step.until);
    await notify(
      tx,
      {
        ...base,
        event: 'extension.asked',
        to: [{ centre: true }],
        text: (c) => ({
          zh: `延期申请：${dep.zh}申请 #${c.id} 延至${until.zh}，理由：${reason}`,
          en: `More time asked: ${dep.en} asks until ${until.en} for #${c.id}: ${reason}`,
        }),
      },
      now,
    );
  } else {
    const approved = step.action === 'approve_extension';
    const until = chinaTimes(dispatch.dueAt);
    await notify(
      tx,
      {
        ...base,
        event: 'extension.decided',
        to: [{ department: dep.id }],
        text: (c) =>
          approved
            ? { zh: `延期已批准：#${c.id} 新期限${until.zh}`, en: `More time approved: #${c.id} is now due ${until.en}` }
            : {
                zh: `延期未批准：#${c.id} 仍须于${until.zh}前办结${reason ? `。${reason}` : ''}`,
                en: `More time refused: #${c.id} stays due ${until.en}${reason ? `. ${reason}` : ''}`,
              },
        data: { department: dep.code, approved, dueAt: dispatch.dueAt },
      },
      now,
    );
  }
  return { dispatch, incident };
}

/**
 * A deadline the centre sets (its own when sending, 改期限): at least an hour to come — a department
 * is not made overdue, and escalated, within seconds — and within a year.
 */
export const DEADLINE_LEAD_MS = 3_600_000;
const DEADLINE_MAX_MS = 366 * 86_400_000;
function checkDeadline(at: Date, now: Date, path: string): void {
  if (at.getTime() < now.getTime() + DEADLINE_LEAD_MS)
    throw new InputError('invalid_time', `a deadline is at least an hour to come, after ${new Date(now.getTime() + DEADLINE_LEAD_MS).toISOString()}`, path);
  if (at.getTime() > now.getTime() + DEADLINE_MAX_MS) throw new InputError('invalid_time', 'a deadline is within a year', path);
}

/** 催办 again only after this long: a department's phones (and the SMS gateway) are not flooded. */
export const URGE_INTERVAL_MS = 30 * 60_000;

/** The centre following up a dispatch it sent (督办). */
export type FollowUp =
  | { action: 'urge'; reason?: string | undefined; version?: number | undefined }
  | { action: 'reassign'; department: string; reason: string; until?: Date | undefined; version?: number | undefined }
  | { action: 'set_due'; until: Date; reason?: string | undefined; version?: number | undefined };

/**
 * 督办: the centre follows up a dispatch still open. 催办 urges the department on (counted, and told to
 * it); 改派 takes the case back from it and gives it to another department in the same role, with
 * fresh deadlines (the dispatch is returned with the centre's reason and names the new department);
 * 改期限 sets the moment it is to be resolved by (an acknowledgement not yet due is then due by it at
 * the latest). Each is in the change log; a dispatch answered or returned: 422; stale: 409.
 */
export async function followUpDispatch(
  tx: Queryable,
  actor: string,
  id: number,
  step: FollowUp,
  now: Date,
): Promise<{ dispatch: DispatchJson; incident: IncidentJson }> {
  await lockCaseOf(tx, id);
  const before = await dispatchById(tx, id, now, true);
  if (step.version !== undefined && step.version !== before.version) {
    throw new InputError('version_conflict', `dispatch ${id} is at version ${before.version}, not ${step.version}: it changed meanwhile`, 'version', {
      currentVersion: before.version,
    });
  }
  // (a dispatch its department sent back may still be given to another: 改派, once)
  const sentBack = before.returnedAt !== null && before.reassignedTo === null && step.action === 'reassign';
  if ((before.returnedAt && !sentBack) || before.resolvedAt) {
    const state = before.returnedAt ? 'returned' : 'resolved';
    throw new InputError('illegal_transition', `a dispatch that is ${state} is not followed up`, 'action', { from: state, to: step.action, allowed: [] });
  }
  const reason = (step.reason ?? '').trim();
  const dep = before.department;
  const base = { incidentId: before.incidentId, dispatchId: id };
  if (step.action === 'urge') {
    if (before.urged.at && now.getTime() - Date.parse(before.urged.at) < URGE_INTERVAL_MS) {
      throw new InputError('urged_recently', `urged at ${before.urged.at} already: again after ${URGE_INTERVAL_MS / 60_000} minutes`, 'action', {
        urgedAt: before.urged.at,
      });
    }
    await tx.query('UPDATE dispatch SET urge_count = urge_count + 1, urged_at = $2, version = version + 1 WHERE id = $1', [id, now.toISOString()]);
    const times = before.urged.count + 1;
    const todo = before.acknowledgedAt ? { zh: '办结', en: 'resolve' } : { zh: '受理', en: 'acknowledge' };
    await notify(
      tx,
      {
        ...base,
        event: 'dispatch.urged',
        to: [{ department: dep.id }],
        text: (c) => ({
          zh: `催办（第${times}次）：#${c.id} ${c.categoryZh}${c.place ? `，${c.place}` : ''}，请尽快${todo.zh}${reason ? `。${reason}` : ''}`,
          en: `Urged (${times}×): #${c.id} ${c.categoryEn}, please ${todo.en} it soon${reason ? `. ${reason}` : ''}`,
        }),
        data: { department: dep.code, times, reason: reason || null },
      },
      now,
    );
  } else if (step.action === 'set_due') {
    checkDeadline(step.until, now, 'until');
    // (an acknowledgement still to come is due by the new deadline at the latest; an escalation that happened stays on
    //  the record — the department's figures keep it — and a request for more time is decided by it)
    await tx.query(
      `UPDATE dispatch SET due_at = $2,
         ack_due_at = CASE WHEN acknowledged_at IS NULL THEN least(ack_due_at, $2) ELSE ack_due_at END,
         extension_state = CASE WHEN extension_state = 'asked' THEN (CASE WHEN extension_until <= $2 THEN 'approved' ELSE 'refused' END)
                                ELSE extension_state END,
         near_notified_for = NULL, version = version + 1
       WHERE id = $1`,
      [id, step.until.toISOString()],
    );
    const until = chinaTimes(step.until);
    await notify(
      tx,
      {
        ...base,
        event: 'dispatch.deadline',
        to: [{ department: dep.id }],
        text: (c) => ({
          zh: `期限调整：#${c.id} ${c.categoryZh}须于${until.zh}前办结${reason ? `。${reason}` : ''}`,
          en: `New deadline: #${c.id} ${c.categoryEn} is due ${until.en}${reason ? `. ${reason}` : ''}`,
        }),
        data: { department: dep.code, dueAt: step.until.toISOString(), reason: reason || null },
      },
      now,
    );
  } else {
    if (!reason) throw new InputError('reason_required', 'say why the case goes to another department', 'reason');
    // the deadline the centre gives the new department (else the category's, from now)
    if (step.until) checkDeadline(step.until, now, 'until');
    const [to] = await departmentIds(tx, [step.department], 'department', true, await casePlace(tx, before.incidentId));
    if (to === dep.id) throw new InputError('same_department', `the case is with ${dep.code} already`, 'department');
    // (a department that answered a round since reopened is not on the case now)
    const { rows: on } = await tx.query(
      `SELECT 1 FROM dispatch d JOIN incident i ON i.id = d.incident_id
       WHERE d.incident_id = $1 AND d.department_id = $2 AND d.returned_at IS NULL AND ${THIS_ROUND}`,
      [before.incidentId, to],
    );
    if (on.length) throw new InputError('already_on_case', `${step.department} is on this case already`, 'department');
    if (sentBack) await tx.query('UPDATE dispatch SET reassigned_to = $2, version = version + 1 WHERE id = $1', [id, to]);
    else
      await tx.query('UPDATE dispatch SET returned_at = $2, return_reason = $3, reassigned_to = $4, recalled = true, version = version + 1 WHERE id = $1', [
        id,
        now.toISOString(),
        reason,
        to,
      ]);
    const { dispatches } = await dispatchIncident(tx, actor, before.incidentId, [{ code: step.department, role: before.role }], now, undefined, step.until);
    const next = dispatches.find((d) => d.department.id === to)!;
    await notify(
      tx,
      {
        ...base,
        event: 'dispatch.recalled',
        to: [{ department: dep.id }],
        text: (c) => ({
          zh: `已改派：#${c.id} ${c.categoryZh}改由${next.department.zh}办理，无须再办。${reason}`,
          en: `Reassigned: #${c.id} ${c.categoryEn} now goes to ${next.department.en}; nothing more to do. ${reason}`,
        }),
        data: { department: dep.code, to: next.department.code, reason },
      },
      now,
    );
  }
  const dispatch = await dispatchById(tx, id, now);
  const incident = await incidentById(tx, before.incidentId, now);
  await recordChange(tx, { at: now, actor, action: step.action, entity: 'dispatch', entityId: id, before, after: { ...dispatch, reason: reason || null } });
  return { dispatch, incident };
}

/**
 * SQL: the dispatch `d` is late at `at` (SQL of a timestamptz) — open (neither answered nor given back)
 * and past its deadline to resolve (extensions included) or, not yet acknowledged, past its deadline to
 * acknowledge. 跟踪督办's 已超时 and the overview's 工单超时 count by it.
 */
export const dispatchLate = (d: string, at: string) =>
  `${d}.resolved_at IS NULL AND ${d}.returned_at IS NULL AND (${d}.due_at < ${at} OR (${d}.acknowledged_at IS NULL AND ${d}.ack_due_at < ${at}))`;

export interface DispatchFilter {
  departmentId?: number | undefined;
  state?: 'open' | 'new' | 'overdue' | 'extension' | 'all' | undefined;
  /** Words in the description, address or place, or an incident number. */
  q?: string | undefined;
  /** Only incidents in this region (a township, village or grid). */
  regionId?: number | undefined;
  categories?: string[] | undefined;
  limit: number;
  offset: number;
}

export type QueueItem = DispatchJson & { incident: IncidentJson; place: string | null; photos: string[] };

/**
 * A department's queue (or every department's): open first, by due time; then the answered ones,
 * latest first. `total` counts what the filters match in the chosen state; `counts` the same
 * filters in each state, for the tabs.
 */
export async function listDispatches(
  db: Queryable,
  f: DispatchFilter,
  now: Date,
): Promise<{
  total: number;
  counts: { open: number; new: number; overdue: number; extension: number; all: number };
  /** Per department, how many the filters match in the chosen state, most first. */
  byDepartment: { code: string; zh: string; en: string; n: number }[];
  next: number | null;
  items: QueueItem[];
}> {
  const params: unknown[] = [now.toISOString()];
  const where = ['true'];
  const add = (value: unknown) => `$${params.push(value)}`;
  if (f.departmentId !== undefined) where.push(`d.department_id = ${add(f.departmentId)}`);
  if (f.regionId !== undefined) where.push(`i.grid_id IN (SELECT id FROM gp_subtree(${add(f.regionId)}))`);
  if (f.categories?.length) where.push(`i.category = ANY(${add(f.categories)}::text[])`);
  if (f.q) {
    const q = add(`%${f.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`);
    where.push(`(i.description ILIKE ${q} OR coalesce(i.address, '') ILIKE ${q} OR p.place ILIKE ${q} OR i.id::text = ${add(f.q.replace(/^#/, ''))})`);
  }
  const open = 'd.resolved_at IS NULL AND d.returned_at IS NULL';
  const overdue = dispatchLate('d', '$1');
  const extension = `d.resolved_at IS NULL AND d.returned_at IS NULL AND d.extension_state = 'asked'`;
  // 待受理: sent, not yet acknowledged (new work, which a long backlog of overdue cases would bury)
  const fresh = 'd.resolved_at IS NULL AND d.returned_at IS NULL AND d.acknowledged_at IS NULL';
  const state = { open, new: fresh, overdue, extension, all: 'true' }[f.state ?? 'all'];
  const { rows } = await db.query<{
    j: QueueItem | null;
    open: number;
    new: number;
    overdue: number;
    extension: number;
    all: number;
    byDepartment: { code: string; zh: string; en: string; n: number }[];
  }>(
    `WITH matched AS (
       SELECT d.*, dep.code AS dep_code, dep.zh AS dep_zh, dep.en AS dep_en, dep.id AS dep_id, p.place
       FROM dispatch d JOIN department dep ON dep.id = d.department_id JOIN incident i ON i.id = d.incident_id
         -- where it is: township, village and grid names
         LEFT JOIN LATERAL (SELECT t.name || ' ' || CASE WHEN starts_with(g.name, v.name) THEN g.name ELSE v.name || ' ' || g.name END AS place
           FROM region g JOIN region v ON v.id = g.parent_id
           JOIN region t ON t.id = v.parent_id WHERE g.id = i.grid_id) p ON true
       WHERE ${where.join(' AND ')}
     ),
     counted AS (
       SELECT count(*) FILTER (WHERE ${open.replaceAll('d.', 'm.')})::int AS open, count(*) FILTER (WHERE ${fresh.replaceAll('d.', 'm.')})::int AS new,
              count(*) FILTER (WHERE ${overdue.replaceAll('d.', 'm.')})::int AS overdue,
              count(*) FILTER (WHERE ${extension.replaceAll('d.', 'm.')})::int AS extension, count(*)::int AS "all",
              -- how many each department has in the chosen state (the centre sees at a glance who is behind)
              (SELECT coalesce(jsonb_agg(jsonb_build_object('code', x.code, 'zh', x.zh, 'en', x.en, 'n', x.n) ORDER BY x.n DESC, x.sort, x.code), '[]'::jsonb)
               FROM (SELECT m2.dep_code AS code, m2.dep_zh AS zh, m2.dep_en AS en, dep.sort, count(*)::int AS n
                     FROM matched m2 JOIN department dep ON dep.id = m2.dep_id WHERE ${state.replaceAll('d.', 'm2.')}
                     GROUP BY m2.dep_code, m2.dep_zh, m2.dep_en, dep.sort) x) AS "byDepartment"
       FROM matched m
     ),
     page AS (
       SELECT d.* FROM matched d WHERE ${state}
       ORDER BY d.resolved_at IS NOT NULL, CASE WHEN d.resolved_at IS NULL THEN d.due_at END, d.resolved_at DESC, d.id
       LIMIT ${add(f.limit)} OFFSET ${add(f.offset)}
     )
     SELECT (SELECT ${dispatchJson('$1::timestamptz')}::jsonb || jsonb_build_object('incident', ${incidentJson('$1')}, 'place', d.place,
                    'photos', ARRAY(SELECT '/api/incidents/' || ph.incident_id || '/photos/' || ph.id FROM incident_photo ph
                      WHERE ph.incident_id = d.incident_id AND ph.dispatch_id IS NULL ORDER BY ph.id))
             FROM department dep, incident i JOIN incident_category c ON c.code = i.category WHERE dep.id = d.department_id AND i.id = d.incident_id) AS j,
            counted.open, counted.new, counted.overdue, counted.extension, counted.all, counted."byDepartment"
     FROM counted LEFT JOIN LATERAL (SELECT * FROM page) d ON true
     ORDER BY d.resolved_at IS NOT NULL, CASE WHEN d.resolved_at IS NULL THEN d.due_at END, d.resolved_at DESC, d.id`,
    params,
  );
  const counts = {
    open: rows[0]?.open ?? 0,
    new: rows[0]?.new ?? 0,
    overdue: rows[0]?.overdue ?? 0,
    extension: rows[0]?.extension ?? 0,
    all: rows[0]?.all ?? 0,
  };
  const items = rows.flatMap((r) => (r.j ? [r.j] : []));
  const total = f.state === 'all' || f.state === undefined ? counts.all : counts[f.state];
  return { total, counts, byDepartment: rows[0]?.byDepartment ?? [], next: f.offset + items.length < total ? f.offset + items.length : null, items };
}

/**
 * Escalation (up to the level above): an unresolved dispatch past a deadline (acknowledgement or
 * resolution) alerts its incident's township; one still unresolved when its resolution time has
 * run out twice over alerts the district. Each step is recorded once, in the change log too.
 */
export async function escalateOverdue(
  tx: Queryable,
  actor: string,
  now: Date,
): Promise<{ dispatchId: number; incidentId: number; level: 1 | 2; regionId: number | null }[]> {
  const { rows } = await tx.query<{ id: number; incident_id: number; level: 1 | 2; region_id: number | null; before: number }>(
    `WITH due AS (
       SELECT d.id, d.incident_id, d.escalation AS before,
              CASE WHEN d.due_at + (d.due_at - d.dispatched_at) < $1 THEN 2
                   WHEN d.due_at < $1 OR (d.acknowledged_at IS NULL AND d.ack_due_at < $1) THEN 1 ELSE 0 END AS level
       FROM dispatch d WHERE d.resolved_at IS NULL AND d.returned_at IS NULL AND (d.ack_due_at < $1 OR d.due_at < $1)
     ),
     up AS (
       UPDATE dispatch d SET escalation = due.level, escalated_at = $1, version = d.version + 1
       FROM due WHERE due.id = d.id AND due.level > d.escalation
       RETURNING d.id, d.incident_id, due.level, due.before
     )
     SELECT up.id, up.incident_id, up.level, up.before,
            -- grid → village → township → district
            CASE WHEN up.level = 1 THEN t.id ELSE dist.id END AS region_id
     FROM up JOIN incident i ON i.id = up.incident_id
       LEFT JOIN region g ON g.id = i.grid_id LEFT JOIN region v ON v.id = g.parent_id
       LEFT JOIN region t ON t.id = v.parent_id LEFT JOIN region dist ON dist.id = t.parent_id
     ORDER BY up.id`,
    [now.toISOString()],
  );
  for (const r of rows) {
    const { rows: dep } = await tx.query<{ department_id: number; code: string; zh: string; en: string; unacknowledged: boolean; deadline: string }>(
      `SELECT d.department_id, dep.code, dep.zh, dep.en,
              -- which deadline passed: to take it up (报到), else to answer it
              (d.acknowledged_at IS NULL AND d.ack_due_at < $2) AS unacknowledged,
              CASE WHEN d.acknowledged_at IS NULL AND d.ack_due_at < $2 THEN d.ack_due_at ELSE d.due_at END AS deadline
       FROM dispatch d JOIN department dep ON dep.id = d.department_id WHERE d.id = $1`,
      [r.id, now.toISOString()],
    );
    const d = dep[0]!;
    const by = chinaTimes(d.deadline);
    if (r.level === 1 && r.before === 0) {
      await notify(
        tx,
        {
          event: 'dispatch.overdue',
          incidentId: r.incident_id,
          dispatchId: r.id,
          to: [{ department: d.department_id }, { centre: true }],
          // (which deadline, and when it was: 未在 12/4 08:29 前受理)
          text: (c) =>
            d.unacknowledged
              ? {
                  zh: `超期：${d.zh} #${c.id} ${c.categoryZh}未在${by.zh}前受理（报到）`,
                  en: `Overdue: ${d.en} did not acknowledge #${c.id} (${c.categoryEn}) by ${by.en}`,
                }
              : {
                  zh: `超期：${d.zh} #${c.id} ${c.categoryZh}未在${by.zh}前办结`,
                  en: `Overdue: ${d.en} did not answer #${c.id} (${c.categoryEn}) by ${by.en}`,
                },
          data: { department: d.code },
        },
        now,
      );
    }
    if (r.region_id !== null) {
      const to = r.region_id;
      await notify(
        tx,
        {
          event: 'incident.escalated',
          incidentId: r.incident_id,
          dispatchId: r.id,
          to: [{ contacts: to }, ...(r.level === 2 ? [{ department: d.department_id }] : [])],
          text: (c) => ({
            zh: `升级督办（${r.level === 1 ? '乡镇' : '区县'}）：#${c.id} ${c.categoryZh}${c.place ? `，${c.place}` : ''}，${d.zh}逾期未办结`,
            en: `Escalated to the ${r.level === 1 ? 'township' : 'district'}: #${c.id} ${c.categoryEn}, ${d.en} is overdue`,
          }),
          data: { level: r.level, regionId: to, department: d.code },
        },
        now,
      );
    }
    await recordChange(tx, {
      at: now,
      actor,
      action: 'escalate',
      entity: 'dispatch',
      entityId: r.id,
      before: { escalation: r.before },
      after: { escalation: r.level, regionId: r.region_id, at: now.toISOString() },
    });
  }
  return rows.map((r) => ({ dispatchId: r.id, incidentId: r.incident_id, level: r.level, regionId: r.region_id }));
}

export interface DepartmentStats {
  id: number;
  code: string;
  zh: string;
  en: string;
  regionId: number | null;
  regionName: string | null;
  dispatched: number;
  acknowledged: number;
  resolved: number;
  open: number;
  overdue: number;
  escalated: number;
  /** Median hours from whistle to acknowledgement, and to resolution (null: none yet). */
  hoursToAcknowledge: number | null;
  hoursToResolve: number | null;
  /** Residents' verdicts on the closed cases it answered, and the share satisfied or basically satisfied (null: none yet). */
  rated: number;
  satisfaction: number | null;
}

/**
 * Every round of every dispatch: the current ones, and those a department had before it was called in
 * again (ids negative) — not a round the centre took back (改派) before anything went wrong in it: a case
 * given back and forth does not pile up dispatches in a department's figures. `verdict`: the resident's on
 * what it answered, kept on the round when the case closed (the case's own, for a dispatch answered before
 * verdicts were kept per dispatch).
 */
const ROUNDS = `(SELECT d.id, d.incident_id, d.department_id, d.dispatched_at, d.ack_due_at, d.due_at, d.acknowledged_at, d.resolved_at, d.returned_at,
     d.escalation, coalesce(d.satisfaction, x.satisfaction) AS verdict
   FROM dispatch d JOIN incident x ON x.id = d.incident_id
   UNION ALL
   SELECT -id, incident_id, department_id, dispatched_at, ack_due_at, due_at, acknowledged_at, resolved_at, returned_at, escalation, satisfaction
   FROM dispatch_round WHERE NOT (recalled AND escalation = 0))`;

/** Per department, for dispatches of the window (by dispatch time) on incidents under a region. */
export async function departmentStats(db: Queryable, f: { regionId?: number | undefined; from: Date; to: Date }, now: Date): Promise<DepartmentStats[]> {
  const params: unknown[] = [f.from.toISOString(), f.to.toISOString(), now.toISOString()];
  if (f.regionId !== undefined) params.push(f.regionId);
  // The region's grids, found once: asked inside each department's count of late dispatches, a city's 21,600
  // grids were gathered again for each of its 43 departments (the wall's city stop ran past the minute and failed).
  const scope = (grid: string) => (f.regionId !== undefined ? `AND ${grid} IN (SELECT id FROM scope_grids)` : '');
  const { rows } = await db.query<DepartmentStats>(
    `WITH ${f.regionId !== undefined ? `scope_grids AS MATERIALIZED (SELECT id FROM gp_subtree($4) WHERE level = 'grid'),` : ''}
     -- the window's rounds first (thousands), then whether their grid is in the region: driven from the region's
     -- grids instead, the planner fetched a city's 480,000 incidents to keep the 11,000 sent in the window
     rounds AS MATERIALIZED (SELECT d.*, i.grid_id FROM ${ROUNDS} d JOIN incident i ON i.id = d.incident_id
                             WHERE d.dispatched_at >= $1 AND d.dispatched_at < $2),
     -- late now, whenever sent (not only those of the window): the wall's column adds up to 跟踪督办's 已超时
     late_now AS MATERIALIZED (SELECT o.department_id, oi.grid_id FROM dispatch o JOIN incident oi ON oi.id = o.incident_id WHERE ${dispatchLate('o', '$3')}),
     late AS MATERIALIZED (SELECT department_id, count(*)::int AS n FROM late_now WHERE true ${scope('grid_id')} GROUP BY department_id)
     SELECT dep.id, dep.code, dep.zh, dep.en, dep.region_id AS "regionId", (SELECT r.name FROM region r WHERE r.id = dep.region_id) AS "regionName",
       count(d.id)::int AS dispatched, count(d.acknowledged_at)::int AS acknowledged, count(d.resolved_at)::int AS resolved,
       count(d.id) FILTER (WHERE d.resolved_at IS NULL AND d.returned_at IS NULL)::int AS open,
       coalesce((SELECT l.n FROM late l WHERE l.department_id = dep.id), 0) AS overdue,
       count(d.id) FILTER (WHERE d.escalation > 0)::int AS escalated,
       count(d.verdict) FILTER (WHERE d.resolved_at IS NOT NULL)::int AS rated,
       round(avg((d.verdict <> 'unsatisfied')::int) FILTER (WHERE d.resolved_at IS NOT NULL AND d.verdict IS NOT NULL)::numeric, 4)::float8
         AS satisfaction,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.acknowledged_at - d.dispatched_at) / 3600))::numeric, 2) AS "hoursToAcknowledge",
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.resolved_at - d.dispatched_at) / 3600))::numeric, 2) AS "hoursToResolve"
     FROM department dep LEFT JOIN rounds d ON d.department_id = dep.id ${scope('d.grid_id')}
     -- (a region's departments: those serving all of it or part of it, not another county's own)
     ${f.regionId !== undefined ? 'WHERE gp_overlaps(dep.region_id, $4)' : ''}
     GROUP BY dep.id ORDER BY dep.sort, dep.id`,
    params,
  );
  return rows;
}
