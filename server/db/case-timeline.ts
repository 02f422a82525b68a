import type { Queryable } from './db.ts';
import { incidentById, type IncidentJson } from './incidents.ts';

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
    | 'resolve'
    | 'resolve_on_spot'
    | 'close'
    | 'reopen'
    | 'invalid'
    | 'merge'
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
}

const ORDER: TimelineStep['kind'][] = [
  'report',
  'invalid',
  'merge',
  'restore',
  'assign',
  // (taken back at the moment it goes to another: first taken back)
  'return',
  'recall',
  'dispatch',
  'acknowledge',
  'urge',
  'set_due',
  'extend',
  'approve_extension',
  'refuse_extension',
  'escalate',
  'resolve',
  'resolve_on_spot',
  'close',
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
}

interface Change {
  action: string;
  entity: string;
  entity_id: number;
  at: string;
  after: Record<string, any> | null;
}

const iso = (t: string | Date) => new Date(t).toISOString();

/**
 * A case from report to close — every department's rounds (also those it had before it was called in
 * again), what the centre did to follow up, reopened, marked invalid or merged, restored. Built from the
 * case's rows, which every case has (the demo's too), and from the change log for the steps a row does not
 * keep (each 催办, a deadline moved, more time asked and decided, every close and reopen).
 */
export async function caseTimeline(db: Queryable, id: number, now: Date): Promise<{ incident: IncidentJson; steps: TimelineStep[] }> {
  const incident = await incidentById(db, id, now);
  const dep = (alias: string) => `json_build_object('code', ${alias}.code, 'zh', ${alias}.zh, 'en', ${alias}.en)`;
  const [{ rows: rounds }, { rows: changes }, { rows: who }] = await Promise.all([
    db.query<Round>(
      `SELECT r.dispatch_id, ${dep('dep')} AS department, r.role, r.dispatched_at, r.due_at, r.acknowledged_at, r.resolved_at, r.answer,
              r.returned_at, r.return_reason, r.recalled, (SELECT ${dep('t')} FROM department t WHERE t.id = r.reassigned_to) AS reassigned,
              r.escalation, r.escalated_at
       FROM (SELECT id AS dispatch_id, department_id, role, dispatched_at, due_at, acknowledged_at, resolved_at, answer, returned_at, return_reason,
                    recalled, reassigned_to, escalation, escalated_at FROM dispatch WHERE incident_id = $1
             UNION ALL
             SELECT dispatch_id, department_id, role, dispatched_at, due_at, acknowledged_at, resolved_at, answer, returned_at, return_reason,
                    recalled, reassigned_to, escalation, escalated_at FROM dispatch_round WHERE incident_id = $1) r
         JOIN department dep ON dep.id = r.department_id`,
      [id],
    ),
    db.query<Change>(
      `SELECT action, entity, entity_id, at, after FROM change
       WHERE (entity = 'incident' AND entity_id = $1 AND action IN ('close', 'reopen', 'invalid', 'merge', 'restore'))
          OR (entity = 'dispatch' AND entity_id IN (SELECT id FROM dispatch WHERE incident_id = $1)
              AND action IN ('urge', 'set_due', 'extend', 'approve_extension', 'refuse_extension', 'escalate'))
       ORDER BY id LIMIT 1000`,
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
      until: null,
      to: null,
      region: null,
      mergedInto: null,
      level: null,
      satisfaction: null,
      by: null,
      ...s,
      at: iso(s.at),
    });
  const logged = (action: string) => changes.filter((c) => c.action === action && c.after);

  step({
    at: incident.reportedAt,
    kind: 'report',
    text: incident.description,
    by: incident.source === 'worker' ? (who[0]?.name ?? null) : incident.source,
  });
  // (sent down to the grid or village: 交办)
  const assignedAt = who[0]?.assigned_at ?? null;
  if (assignedAt) step({ at: assignedAt, kind: 'assign', region: incident.assignedRegionName });

  const departmentOf = new Map(rounds.map((r) => [r.dispatch_id, r.department]));
  const roleOf = new Map(rounds.map((r) => [r.dispatch_id, r.role]));
  for (const r of rounds) {
    const d = { department: r.department, role: r.role };
    step({ ...d, at: r.dispatched_at, kind: 'dispatch', until: r.due_at });
    if (r.acknowledged_at) step({ ...d, at: r.acknowledged_at, kind: 'acknowledge' });
    if (r.returned_at) step({ ...d, at: r.returned_at, kind: r.recalled ? 'recall' : 'return', text: r.return_reason, to: r.reassigned });
    if (r.resolved_at) step({ ...d, at: r.resolved_at, kind: 'resolve', text: r.answer });
  }
  // escalations: each one the log keeps; a dispatch the log says nothing of, from its rows
  const escalations = logged('escalate');
  for (const c of escalations) {
    step({
      department: departmentOf.get(c.entity_id) ?? null,
      role: roleOf.get(c.entity_id) ?? null,
      at: c.after!.at ?? c.at,
      kind: 'escalate',
      level: c.after!.escalation,
    });
  }
  for (const r of rounds) {
    if (r.escalation > 0 && r.escalated_at && !escalations.some((c) => c.entity_id === r.dispatch_id))
      step({ department: r.department, role: r.role, at: r.escalated_at, kind: 'escalate', level: r.escalation });
  }
  for (const action of ['urge', 'set_due', 'extend', 'approve_extension', 'refuse_extension'] as const) {
    for (const c of logged(action)) {
      const a = c.after!;
      step({
        department: departmentOf.get(c.entity_id) ?? null,
        role: roleOf.get(c.entity_id) ?? null,
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

  // the case's own steps: every close and reopen the log keeps, else the row's last
  if (incident.resolvedAt && incident.solvedLevel && incident.solvedLevel !== 'department')
    step({ at: incident.resolvedAt, kind: 'resolve_on_spot', text: incident.resolutionNote, by: incident.solvedLevel });
  const closes = logged('close');
  for (const c of closes) step({ at: c.after!.closedAt ?? c.at, kind: 'close', text: c.after!.feedback ?? null, satisfaction: c.after!.satisfaction ?? null });
  if (!closes.length && incident.closedAt)
    step({ at: incident.closedAt, kind: 'close', text: incident.feedback, satisfaction: incident.satisfaction as TimelineStep['satisfaction'] });
  const reopens = logged('reopen');
  for (const c of reopens) step({ at: c.after!.reopenedAt ?? c.at, kind: 'reopen', text: c.after!.reopenReason ?? null });
  if (!reopens.length && incident.reopenedAt) step({ at: incident.reopenedAt, kind: 'reopen', text: incident.reopenReason });
  const voids = changes.filter((c) => (c.action === 'invalid' || c.action === 'merge' || c.action === 'restore') && c.after);
  for (const c of voids) {
    const v = c.action === 'restore' ? null : c.after!.void;
    step({ at: v?.at ?? c.at, kind: c.action as 'invalid' | 'merge' | 'restore', text: v?.reason ?? null, mergedInto: v?.mergedInto ?? null });
  }
  if (!voids.length && incident.void)
    step({
      at: incident.void.at,
      kind: incident.void.kind === 'duplicate' ? 'merge' : 'invalid',
      text: incident.void.reason,
      mergedInto: incident.void.mergedInto ?? null,
    });

  const rank = (k: TimelineStep['kind']) => ORDER.indexOf(k);
  steps.sort((a, b) => a.at.localeCompare(b.at) || rank(a.kind) - rank(b.kind));
  return { incident, steps };
}
