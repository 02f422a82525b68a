import type { Queryable } from './db.ts';
import { incidentById, type IncidentJson } from './incidents.ts';

const photoUrl = (incident: number, photo: number) => `/api/incidents/${incident}/photos/${photo}`;

type Department = { code: string; zh: string; en: string };

/** One step of a case, as its timeline shows it (办理过程). */
export interface TimelineStep {
  at: string;
  kind:
    | 'report'
    | 'assign'
    | 'dispatch'
    | 'acknowledge'
    | 'extend'
    | 'approve_extension'
    | 'refuse_extension'
    | 'urge'
    | 'set_due'
    | 'escalate'
    | 'return'
    | 'recall'
    | 'reassign'
    | 'resolve'
    | 'answered'
    | 'resolve_on_spot'
    | 'close'
    | 'reopen'
    | 'review'
    | 'invalid'
    | 'merge'
    | 'merged_from'
    | 'restore';
  /** The department it concerns (a dispatch's), null for the case's own steps. */
  department: Department | null;
  role: 'lead' | 'assist' | null;
  /** Words given with it: the report's description, an answer, a reason, the feedback. */
  text: string | null;
  /** A deadline set or asked for. */
  until: string | null;
  /** Where it went instead (改派), or the region it was sent down to (交办), or the case it was merged into. */
  to: Department | null;
  region: string | null;
  mergedInto: number | null;
  /** An escalation's level (1 township, 2 district); an urge's count; a close's verdict. */
  level: number | null;
  satisfaction: 'satisfied' | 'basically' | 'unsatisfied' | null;
  /** Who reported it: a grid worker's name, or the hotline or an import; who solved it on the spot (grid … district). */
  by: string | null;
  /** Whose account took the step (its name, else its user name), where the change log says; null for the system's. */
  actor: string | null;
  /** Photos that went with it: the report's, or a department's of what it did (处置后照片). */
  photos: string[];
}

const ORDER: TimelineStep['kind'][] = [
  'report',
  'invalid',
  'merge',
  'merged_from',
  'restore',
  'assign',
  // (taken back at the moment it goes to another: first taken back)
  'return',
  'recall',
  'reassign',
  'dispatch',
  'acknowledge',
  'urge',
  'set_due',
  'extend',
  'approve_extension',
  'refuse_extension',
  'escalate',
  'resolve',
  'answered',
  'resolve_on_spot',
  'close',
  'review',
  'reopen',
];

interface Round {
  dispatch_id: number;
  department: Department;
  role: 'lead' | 'assist';
  dispatched_at: string;
  due_at: string;
  acknowledged_at: string | null;
  resolved_at: string | null;
  answer: string | null;
  returned_at: string | null;
  return_reason: string | null;
  recalled: boolean;
  reassigned: Department | null;
  escalation: number;
  escalated_at: string | null;
  total: number;
}

interface Change {
  action: string;
  entity_id: number;
  at: string;
  after: Record<string, any>;
  total: number;
}

const iso = (t: string | Date) => new Date(t).toISOString();

/** At most this many of a case's dispatch rounds, and of its logged steps of each kind (the newest); the rest is counted. */
export const TIMELINE_ROUNDS = 200;
export const TIMELINE_LOGGED = 300;

/**
 * A case from report to close — every department's rounds (also those it had before it was called in
 * again), what the centre did to follow up, every close and reopen, sent down, solved on the spot, marked
 * invalid or merged, taken back. Built from the case's rows, which every case has (the demo's too), and
 * from the change log for what a row does not keep or a reopen cleared. A case worked on for years is
 * shown with its newest rounds and steps; `omitted` counts the older ones left out.
 */
export async function caseTimeline(db: Queryable, id: number, now: Date): Promise<{ incident: IncidentJson; steps: TimelineStep[]; omitted: number }> {
  const incident = await incidentById(db, id, now);
  const dep = (alias: string) => `json_build_object('code', ${alias}.code, 'zh', ${alias}.zh, 'en', ${alias}.en)`;
  // (only what the timeline reads of each logged step: a case's log holds whole snapshots)
  const slim = `jsonb_build_object(
    'department', after->'department', 'role', after->'role', 'reason', after->'reason', 'dueAt', after->'dueAt', 'extension', after->'extension',
    'urged', after->'urged', 'escalation', after->'escalation', 'at', after->'at', 'recalled', after->'recalled', 'reassignedTo', after->'reassignedTo',
    'closedAt', after->'closedAt', 'feedback', after->'feedback', 'satisfaction', after->'satisfaction', 'reopenedAt', after->'reopenedAt',
    'reviewedAt', after->'reviewedAt', 'reviewNote', after->'reviewNote',
    'reopenReason', after->'reopenReason', 'void', after->'void', 'assignedRegionName', after->'assignedRegionName', 'resolvedAt', after->'resolvedAt',
    'resolutionNote', after->'resolutionNote', 'solvedLevel', after->'solvedLevel', 'dispatchedAt', after->'dispatchedAt',
    'sent', CASE WHEN jsonb_typeof(after->'dispatches') = 'array'
      THEN (SELECT jsonb_agg(jsonb_build_object('id', x->'id', 'dispatchedAt', x->'dispatchedAt', 'dueAt', x->'dueAt'))
            FROM jsonb_array_elements(after->'dispatches') x)
    END)`;
  const [{ rows: rounds }, { rows: caseLog }, { rows: dispatchLog }, { rows: actors }, { rows: photos }, { rows: merged }, { rows: who }] = await Promise.all([
    db.query<Round>(
      `SELECT r.dispatch_id, ${dep('dep')} AS department, r.role, r.dispatched_at, r.due_at, r.acknowledged_at, r.resolved_at, r.answer,
              r.returned_at, r.return_reason, r.recalled, (SELECT ${dep('t')} FROM department t WHERE t.id = r.reassigned_to) AS reassigned,
              r.escalation, r.escalated_at, count(*) OVER ()::int AS total
       FROM (SELECT id AS dispatch_id, department_id, role, dispatched_at, due_at, acknowledged_at, resolved_at, answer, returned_at, return_reason,
                    recalled, reassigned_to, escalation, escalated_at FROM dispatch WHERE incident_id = $1
             UNION ALL
             SELECT dispatch_id, department_id, role, dispatched_at, due_at, acknowledged_at, resolved_at, answer, returned_at, return_reason,
                    recalled, reassigned_to, escalation, escalated_at FROM dispatch_round WHERE incident_id = $1) r
         JOIN department dep ON dep.id = r.department_id
       ORDER BY r.dispatched_at DESC LIMIT ${TIMELINE_ROUNDS}`,
      [id],
    ),
    db.query<Change>(
      `SELECT action, entity_id, at, ${slim} AS after, count(*) OVER ()::int AS total FROM change
       WHERE entity = 'incident' AND entity_id = $1 AND after IS NOT NULL
         AND action IN ('dispatch', 'resolve', 'resolve_on_spot', 'assign', 'close', 'reopen', 'review', 'invalid', 'merge', 'restore')
       ORDER BY id DESC LIMIT ${TIMELINE_LOGGED}`,
      [id],
    ),
    db.query<Change>(
      `SELECT action, entity_id, at, ${slim} AS after, count(*) OVER ()::int AS total FROM change
       WHERE entity = 'dispatch' AND entity_id IN (SELECT id FROM dispatch WHERE incident_id = $1) AND after IS NOT NULL
         AND action IN ('urge', 'set_due', 'extend', 'approve_extension', 'refuse_extension', 'escalate', 'reassign')
       ORDER BY id DESC LIMIT ${TIMELINE_LOGGED}`,
      [id],
    ),
    db.query<{ entity: string; entity_id: number; action: string; at: string; actor: string; name: string | null }>(
      `SELECT c.entity, c.entity_id, c.action, c.at, c.actor, nullif(u.display_name, '') AS name
       FROM change c LEFT JOIN app_user u ON u.username = c.actor
       WHERE (c.entity = 'incident' AND c.entity_id = $1
              AND c.action IN ('report', 'dispatch', 'assign', 'resolve_on_spot', 'close', 'reopen', 'review', 'invalid', 'merge', 'restore'))
          OR (c.entity = 'dispatch' AND c.entity_id IN (SELECT id FROM dispatch WHERE incident_id = $1)
              AND c.action IN ('acknowledge', 'resolve', 'return', 'reassign', 'urge', 'set_due', 'extend', 'approve_extension', 'refuse_extension'))
       ORDER BY c.id DESC LIMIT 2000`,
      [id],
    ),
    db.query<{ id: number; dispatch_id: number | null; at: string }>(
      'SELECT id, dispatch_id, uploaded_at AS at FROM incident_photo WHERE incident_id = $1 ORDER BY id LIMIT 200',
      [id],
    ),
    db.query<{ id: number; at: string; reason: string | null }>(
      `SELECT id, voided_at AS at, void_reason AS reason FROM incident WHERE merged_into = $1 AND void_kind = 'duplicate' ORDER BY id LIMIT 100`,
      [id],
    ),
    db.query<{ name: string | null; assigned_at: string | null }>(
      'SELECT w.name, i.assigned_at FROM incident i LEFT JOIN worker w ON w.id = i.reporter_id WHERE i.id = $1',
      [id],
    ),
  ]);
  const steps: TimelineStep[] = [];
  const step = (s: Partial<TimelineStep> & Pick<TimelineStep, 'at' | 'kind'>) =>
    steps.push({
      department: null,
      role: null,
      text: null,
      to: null,
      region: null,
      mergedInto: null,
      level: null,
      satisfaction: null,
      by: null,
      actor: null,
      photos: [],
      ...s,
      // (times as one format: the log keeps them as the database wrote them)
      at: iso(s.at),
      until: s.until ? iso(s.until) : null,
    });
  const logged = (action: string) => caseLog.filter((c) => c.action === action);
  const byDispatch = (action: string) => dispatchLog.filter((c) => c.action === action);
  const omitted = [rounds, caseLog, dispatchLog].reduce((n, rows) => n + Math.max(0, (rows[0]?.total ?? 0) - rows.length), 0);

  step({
    at: incident.reportedAt,
    kind: 'report',
    text: incident.description,
    by: incident.source === 'worker' ? (who[0]?.name ?? null) : incident.source,
  });
  // sent down to the grid or village (交办): each time the log keeps (a reopen clears the row), else the row's
  const assigns = logged('assign');
  for (const c of assigns) step({ at: c.at, kind: 'assign', region: c.after.assignedRegionName ?? null });
  if (!assigns.length && who[0]?.assigned_at) step({ at: who[0].assigned_at, kind: 'assign', region: incident.assignedRegionName });

  // each round as it was sent: its deadline then, not one moved since (改期限, 延期)
  const sentDue = new Map<string, string>();
  for (const c of logged('dispatch')) for (const x of c.after.sent ?? []) sentDue.set(`${x.id}|${Date.parse(x.dispatchedAt)}`, x.dueAt);
  const answered = new Set<number>();
  for (const r of rounds) {
    const d = { department: r.department, role: r.role };
    step({ ...d, at: r.dispatched_at, kind: 'dispatch', until: sentDue.get(`${r.dispatch_id}|${Date.parse(r.dispatched_at)}`) ?? r.due_at });
    if (r.acknowledged_at) step({ ...d, at: r.acknowledged_at, kind: 'acknowledge' });
    // (taken back by the centre: 改派 with its reason; sent back by the department: 退回, its own)
    if (r.returned_at) step({ ...d, at: r.returned_at, kind: r.recalled ? 'recall' : 'return', text: r.return_reason, to: r.recalled ? r.reassigned : null });
    if (r.resolved_at) {
      step({ ...d, at: r.resolved_at, kind: 'resolve', text: r.answer });
      answered.add(Date.parse(r.resolved_at));
    }
  }
  // sent to a department named in words (no dispatch of its own), and resolved so
  for (const c of logged('dispatch').filter((c) => !c.after.sent && c.after.department))
    step({ at: c.after.dispatchedAt ?? c.at, kind: 'dispatch', department: { code: '', zh: c.after.department, en: c.after.department } });
  // the case's own: answered by every department sent to (now the grid worker's to visit and close), or resolved in words
  // (said even at the instant of the last department's answer: that it was the last one is news to whoever reads)
  for (const c of logged('resolve').filter((c) => c.after.resolvedAt)) {
    const note = c.after.resolutionNote ?? null;
    if (!note && answered.size > 0) step({ at: c.after.resolvedAt, kind: 'answered' });
    else if (!answered.has(Date.parse(c.after.resolvedAt))) step({ at: c.after.resolvedAt, kind: 'resolve', text: note });
  }

  // the centre's follow-up and the department's requests: with the words said, the department and its role then
  const escalations = byDispatch('escalate');
  // (a dispatch is one department's; its role is the round's at the moment: a department may lead one round and assist another)
  const roundAt = (c: Change) =>
    rounds
      .filter((r) => r.dispatch_id === c.entity_id && Date.parse(r.dispatched_at) <= Date.parse(c.after.at ?? c.at))
      .sort((a, b) => Date.parse(b.dispatched_at) - Date.parse(a.dispatched_at))[0];
  const who_ = (c: Change) => {
    const r = roundAt(c);
    const d = c.after.department;
    return {
      department: d ? { code: d.code, zh: d.zh, en: d.en } : (r?.department ?? rounds.find((x) => x.dispatch_id === c.entity_id)?.department ?? null),
      role: c.after.role ?? r?.role ?? null,
    };
  };
  for (const c of escalations) step({ ...who_(c), at: c.after.at ?? c.at, kind: 'escalate', level: c.after.escalation });
  for (const r of rounds) {
    if (r.escalation > 0 && r.escalated_at && !escalations.some((c) => c.entity_id === r.dispatch_id))
      step({ department: r.department, role: r.role, at: r.escalated_at, kind: 'escalate', level: r.escalation });
  }
  for (const action of ['urge', 'set_due', 'extend', 'approve_extension', 'refuse_extension'] as const) {
    for (const c of byDispatch(action)) {
      const a = c.after;
      step({
        ...who_(c),
        at: c.at,
        kind: action,
        text: action === 'extend' ? (a.extension?.reason ?? null) : (a.reason ?? null),
        until:
          action === 'set_due' || action === 'approve_extension'
            ? a.dueAt
            : action === 'extend' || action === 'refuse_extension'
              ? (a.extension?.until ?? null)
              : null,
        level: action === 'urge' ? (a.urged?.count ?? null) : null,
      });
    }
  }
  // 改派 of a dispatch its department had sent back (one the centre took back is its 'recall' above)
  for (const c of byDispatch('reassign').filter((c) => c.after.recalled === false))
    step({ ...who_(c), at: c.at, kind: 'reassign', text: c.after.reason ?? null, to: c.after.reassignedTo ?? null });

  // the case's own steps: each the log keeps, else the row's last
  const onSpot = logged('resolve_on_spot');
  for (const c of onSpot)
    step({ at: c.after.resolvedAt ?? c.at, kind: 'resolve_on_spot', text: c.after.resolutionNote ?? null, by: c.after.solvedLevel ?? null });
  if (!onSpot.length && incident.resolvedAt && incident.solvedLevel && incident.solvedLevel !== 'department')
    step({ at: incident.resolvedAt, kind: 'resolve_on_spot', text: incident.resolutionNote, by: incident.solvedLevel });
  const closes = logged('close');
  for (const c of closes) step({ at: c.after.closedAt ?? c.at, kind: 'close', text: c.after.feedback ?? null, satisfaction: c.after.satisfaction ?? null });
  if (!closes.length && incident.closedAt)
    step({ at: incident.closedAt, kind: 'close', text: incident.feedback, satisfaction: incident.satisfaction as TimelineStep['satisfaction'] });
  for (const c of logged('review')) step({ at: c.after.reviewedAt ?? c.at, kind: 'review', text: c.after.reviewNote ?? null });
  const reopens = logged('reopen');
  for (const c of reopens) step({ at: c.after.reopenedAt ?? c.at, kind: 'reopen', text: c.after.reopenReason ?? null });
  if (!reopens.length && incident.reopenedAt) step({ at: incident.reopenedAt, kind: 'reopen', text: incident.reopenReason });
  const voids = caseLog.filter((c) => c.action === 'invalid' || c.action === 'merge' || c.action === 'restore');
  for (const c of voids) {
    const v = c.action === 'restore' ? null : c.after.void;
    step({ at: v?.at ?? c.at, kind: c.action as 'invalid' | 'merge' | 'restore', text: v?.reason ?? null, mergedInto: v?.mergedInto ?? null });
  }
  if (!voids.length && incident.void)
    step({
      at: incident.void.at,
      kind: incident.void.kind === 'duplicate' ? 'merge' : 'invalid',
      text: incident.void.reason,
      mergedInto: incident.void.mergedInto ?? null,
    });

  for (const m of merged) step({ at: m.at, kind: 'merged_from', mergedInto: m.id, text: m.reason });

  // who took each step: the change log's account at that moment (a minute either way: an older log kept the
  // database's clock), its name where it has one
  const DEPARTMENT_STEP: Partial<Record<TimelineStep['kind'], string>> = {
    acknowledge: 'acknowledge',
    resolve: 'resolve',
    return: 'return',
    recall: 'reassign',
    reassign: 'reassign',
    urge: 'urge',
    set_due: 'set_due',
    extend: 'extend',
    approve_extension: 'approve_extension',
    refuse_extension: 'refuse_extension',
  };
  const near = (a: string, b: string) => Math.abs(Date.parse(a) - Date.parse(b)) <= 60_000;
  const dispatchIds = new Map(rounds.map((r) => [`${r.department.code}`, r.dispatch_id]));
  for (const st of steps) {
    const action =
      DEPARTMENT_STEP[st.kind] ??
      (st.kind === 'resolve_on_spot' ||
      st.kind === 'report' ||
      st.kind === 'assign' ||
      st.kind === 'close' ||
      st.kind === 'reopen' ||
      st.kind === 'invalid' ||
      st.kind === 'merge' ||
      st.kind === 'restore' ||
      st.kind === 'dispatch'
        ? st.kind
        : null);
    if (!action) continue;
    const entity = DEPARTMENT_STEP[st.kind] ? 'dispatch' : 'incident';
    const entityId = entity === 'dispatch' ? (st.department ? dispatchIds.get(st.department.code) : undefined) : id;
    if (entityId === undefined) continue;
    const hit = actors.find((a) => a.entity === entity && a.entity_id === entityId && a.action === action && near(a.at, st.at));
    if (hit && !hit.actor.startsWith('system')) st.actor = hit.name ?? hit.actor;
  }
  // the photos that went with the report, and with each department's answer
  const reportStep = steps.find((x) => x.kind === 'report');
  if (reportStep) reportStep.photos = photos.filter((p) => p.dispatch_id === null).map((p) => photoUrl(id, p.id));
  for (const r of rounds) {
    if (!r.resolved_at) continue;
    const st = steps.find((x) => x.kind === 'resolve' && x.department?.code === r.department.code && x.at === iso(r.resolved_at!));
    if (st)
      st.photos = photos
        .filter((p) => p.dispatch_id === r.dispatch_id && Date.parse(p.at) >= Date.parse(r.dispatched_at) && Date.parse(p.at) <= Date.parse(r.resolved_at!))
        .map((p) => photoUrl(id, p.id));
  }

  const rank = (k: TimelineStep['kind']) => ORDER.indexOf(k);
  // (at the same moment: in the order of the loop; the lead before those assisting)
  const lead = (s: TimelineStep) => (s.role === 'lead' ? 0 : 1);
  steps.sort((a, b) => a.at.localeCompare(b.at) || rank(a.kind) - rank(b.kind) || lead(a) - lead(b));
  return { incident, steps, omitted };
}
