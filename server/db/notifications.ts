import { notFound } from '../domain/errors.ts';
import type { Queryable } from './db.ts';

/**
 * Notifications that reach people (command centre issue §4). Each is written in the transaction of
 * the step that causes it — a dispatch received, a deadline near, overdue, escalated, returned,
 * more time asked or decided, a case sent down, a resident unsatisfied — into the inbox of every
 * account it concerns, and as one delivery to every webhook that listens for its event. A step
 * rolled back notifies nobody; a step committed is never lost on its way out.
 */
export const NOTIFICATION_EVENTS = [
  'dispatch.received',
  'deadline.near',
  'dispatch.overdue',
  'incident.escalated',
  'dispatch.returned',
  'extension.asked',
  'extension.decided',
  'incident.assigned',
  'satisfaction.low',
  // what came of a report, told to the grid worker of its grid and to whoever reported it: routed to departments, a
  // department's answer, merged or marked invalid, reopened
  'incident.routed',
  'dispatch.answered',
  'incident.voided',
  'incident.reopened',
  // the centre following up a dispatch (督办), told to its department: urged on, a new deadline, taken back for another
  'dispatch.urged',
  'dispatch.deadline',
  'dispatch.recalled',
  // a draft's review: a step awaits its reviewers; a step decided, told to its author
  'draft.review',
  'draft.decided',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** Who hears of it. */
export type Audience =
  /** the accounts of a department */
  | { department: number }
  /** the centres whose area holds the case (a district centre, or the township's) */
  | { centre: true }
  /** the escalation contacts of a township or district (else its leaders; a leader of the whole plan is the district's) */
  | { contacts: number }
  /** the grid worker of the case's grid */
  | { worker: true }
  /** the grid worker who reported the case */
  | { reporter: true };

/** The case as a message names it. */
interface CaseInfo {
  id: number;
  category: string;
  categoryZh: string;
  categoryEn: string;
  severity: number;
  status: string;
  address: string | null;
  place: string | null;
  gridId: number | null;
  lon: number;
  lat: number;
}

export interface Notice {
  event: NotificationEvent;
  incidentId: number;
  dispatchId?: number | undefined;
  to: Audience[];
  text: (c: CaseInfo) => { zh: string; en: string };
  /** More for webhooks (a department, a deadline, a reason). */
  data?: Record<string, unknown> | undefined;
  /** The account whose step it is: not told of its own step. */
  except?: string | undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A moment in China time for messages, as the app writes one in each language: 11/30 16:05, and 30 Nov 16:05. */
export function chinaTimes(iso: string | Date): { zh: string; en: string } {
  const d = new Date(new Date(iso).getTime() + 8 * 3_600_000);
  const p = (n: number) => String(n).padStart(2, '0');
  const time = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
  return { zh: `${d.getUTCMonth() + 1}/${d.getUTCDate()} ${time}`, en: `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${time}` };
}

const CASE_SQL = `SELECT i.id, i.category, c.zh AS "categoryZh", c.en AS "categoryEn", i.severity, i.status, i.address, i.grid_id AS "gridId",
    ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
    (SELECT t.name || ' ' || CASE WHEN starts_with(g.name, v.name) THEN g.name ELSE v.name || ' ' || g.name END
      FROM region g JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id
      WHERE g.id = i.grid_id) AS place
  FROM incident i JOIN incident_category c ON c.code = i.category WHERE i.id = $1`;

const AUDIENCE_SQL = {
  // (a department account given an area hears only of cases within it, as its queue shows only those)
  department: `SELECT u.id FROM app_user u WHERE u.role = 'department' AND u.department_id = $A AND NOT u.disabled
                 AND (u.region_id IS NULL OR u.region_id IN (SELECT a.id FROM gp_ancestors(ARRAY[$G::int]) a))`,
  centre: `SELECT u.id FROM app_user u WHERE u.role = 'center' AND NOT u.disabled
             AND (u.region_id IS NULL OR u.region_id IN (SELECT a.id FROM gp_ancestors(ARRAY[$G::int]) a))`,
  // (a named contact hears only while still one who oversees the area: a leader, a centre or an admin
  //  whose area holds it — an account moved to a department or another township since hears nothing)
  contacts: `SELECT ec.user_id AS id FROM escalation_contact ec JOIN app_user u ON u.id = ec.user_id WHERE ec.region_id = $A AND NOT u.disabled
               AND u.role IN ('leader', 'center', 'admin')
               AND (u.region_id IS NULL OR u.region_id IN (SELECT a.id FROM gp_ancestors(ARRAY[$A::int]) a))
             UNION
             SELECT u.id FROM app_user u WHERE u.role = 'leader' AND NOT u.disabled
               -- (a leader of the whole plan is the district's)
               AND (u.region_id = $A OR (u.region_id IS NULL AND (SELECT level FROM region WHERE id = $A) = 'district'))
               AND NOT EXISTS (SELECT 1 FROM escalation_contact ec WHERE ec.region_id = $A)`,
  worker: `SELECT u.id FROM app_user u JOIN region g ON g.worker_id = u.worker_id WHERE g.id = $G::int AND u.role = 'worker' AND NOT u.disabled`,
  reporter: `SELECT u.id FROM app_user u JOIN incident i ON i.reporter_id = u.worker_id WHERE i.id = $I::int AND u.role = 'worker' AND NOT u.disabled`,
};

/** Writes a notice into every concerned inbox and every listening webhook's outbox; returns the inbox count. */
export async function notify(tx: Queryable, notice: Notice, now: Date): Promise<number> {
  const { rows } = await tx.query<CaseInfo>(CASE_SQL, [notice.incidentId]);
  const info = rows[0];
  if (!info) throw notFound('incident', notice.incidentId);
  const text = notice.text(info);
  const params: unknown[] = [];
  const add = (v: unknown) => `$${params.push(v)}`;
  const parts = notice.to.map((a) => {
    if ('department' in a) return AUDIENCE_SQL.department.replaceAll('$A', add(a.department)).replaceAll('$G', add(info.gridId));
    if ('contacts' in a) return AUDIENCE_SQL.contacts.replaceAll('$A', add(a.contacts));
    if ('centre' in a) return AUDIENCE_SQL.centre.replaceAll('$G', add(info.gridId));
    if ('reporter' in a) return AUDIENCE_SQL.reporter.replaceAll('$I', add(info.id));
    return AUDIENCE_SQL.worker.replaceAll('$G', add(info.gridId));
  });
  const except = notice.except === undefined ? '' : ` WHERE r.id NOT IN (SELECT id FROM app_user WHERE username = ${add(notice.except)})`;
  const recipients = parts.length
    ? (
        await tx.query<{ id: number; username: string; displayName: string; role: string }>(
          `INSERT INTO notification (user_id, event, incident_id, dispatch_id, text_zh, text_en, created_at)
           SELECT r.id, ${add(notice.event)}, ${add(notice.incidentId)}, ${add(notice.dispatchId ?? null)}, ${add(text.zh)}, ${add(text.en)},
             ${add(now.toISOString())}
           FROM (${parts.join(' UNION ')}) r${except}
           RETURNING user_id AS id,
             (SELECT username FROM app_user WHERE id = user_id) AS username,
             (SELECT display_name FROM app_user WHERE id = user_id) AS "displayName",
             (SELECT role FROM app_user WHERE id = user_id) AS role`,
          params,
        )
      ).rows
    : [];
  const payload = {
    event: notice.event,
    at: now.toISOString(),
    text,
    incident: {
      id: info.id,
      category: info.category,
      categoryZh: info.categoryZh,
      severity: info.severity,
      status: info.status,
      address: info.address,
      place: info.place,
      lon: info.lon,
      lat: info.lat,
    },
    ...(notice.dispatchId !== undefined ? { dispatchId: notice.dispatchId } : {}),
    ...notice.data,
    recipients: recipients.map((r) => ({ username: r.username, displayName: r.displayName, role: r.role })),
  };
  await tx.query(
    `INSERT INTO webhook_delivery (webhook_id, event, payload, next_at, created_at)
     SELECT w.id, $1::text, $2::jsonb, $3::timestamptz, $3::timestamptz FROM webhook w WHERE $1::text = ANY (w.events)`,
    [notice.event, JSON.stringify(payload), now.toISOString()],
  );
  return recipients.length;
}

export interface NotificationJson {
  id: number;
  event: NotificationEvent;
  incidentId: number | null;
  dispatchId: number | null;
  /** A draft's review: the draft, and the region it divides (where the plan opens it). */
  draftId: number | null;
  draftRegionId: number | null;
  text: { zh: string; en: string };
  createdAt: string;
  readAt: string | null;
}

/** An account's inbox, newest first, with its unread count. */
export async function inbox(
  db: Queryable,
  userId: number,
  f: { unread?: boolean | undefined; before?: number | undefined; limit: number },
): Promise<{ unread: number; items: NotificationJson[]; next: number | null }> {
  const params: unknown[] = [userId, f.limit + 1];
  const where = ['n.user_id = $1'];
  if (f.unread) where.push('n.read_at IS NULL');
  // newest first by when each was written (a notice of a deadline passed is dated when it passed), then by id
  if (f.before !== undefined)
    where.push(`(n.created_at, n.id) < (SELECT b.created_at, b.id FROM notification b WHERE b.id = $${params.push(f.before)} AND b.user_id = $1)`);
  const { rows } = await db.query<NotificationJson>(
    `SELECT n.id::int AS id, n.event, n.incident_id AS "incidentId", n.dispatch_id AS "dispatchId",
       n.draft_id AS "draftId", (SELECT d.region_id FROM draft d WHERE d.id = n.draft_id) AS "draftRegionId",
       json_build_object('zh', n.text_zh, 'en', n.text_en) AS text, n.created_at AS "createdAt", n.read_at AS "readAt"
     FROM notification n WHERE ${where.join(' AND ')} ORDER BY n.created_at DESC, n.id DESC LIMIT $2`,
    params,
  );
  const { rows: count } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM notification WHERE user_id = $1 AND read_at IS NULL', [userId]);
  const items = rows.slice(0, f.limit);
  return { unread: count[0]!.n, items, next: rows.length > f.limit ? items[items.length - 1]!.id : null };
}

/** Marks one notification (of this account) read, or all of them; returns the unread count left. */
export async function markRead(tx: Queryable, userId: number, id: number | 'all', now: Date): Promise<number> {
  if (id === 'all') {
    await tx.query('UPDATE notification SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL', [userId, now.toISOString()]);
  } else {
    const { rows } = await tx.query('UPDATE notification SET read_at = coalesce(read_at, $3) WHERE id = $1 AND user_id = $2 RETURNING id', [
      id,
      userId,
      now.toISOString(),
    ]);
    if (!rows.length) throw notFound('notification', id);
  }
  const { rows } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM notification WHERE user_id = $1 AND read_at IS NULL', [userId]);
  return rows[0]!.n;
}

/**
 * A deadline near (临期): an open dispatch with under a fifth of its time (and at most two hours)
 * left to be acknowledged or resolved is told to its department, once per deadline.
 */
export async function notifyDeadlinesNear(tx: Queryable, now: Date): Promise<number> {
  const { rows } = await tx.query<{ id: number; incident_id: number; department_id: number; due: string; which: 'ack' | 'resolve'; zh: string; en: string }>(
    `WITH open AS (
       SELECT d.id, d.near_notified_for,
              d.acknowledged_at IS NULL AND d.ack_due_at > $1::timestamptz
                AND d.ack_due_at - $1::timestamptz <= least(interval '2 hours', (d.ack_due_at - d.dispatched_at) / 5) AS ack_near,
              d.due_at > $1::timestamptz AND d.due_at - $1::timestamptz <= least(interval '2 hours', (d.due_at - d.dispatched_at) / 5) AS resolve_near,
              d.ack_due_at, d.due_at
       FROM dispatch d WHERE d.resolved_at IS NULL AND d.returned_at IS NULL AND d.due_at > $1::timestamptz
     ),
     near AS (
       SELECT o.id, CASE WHEN o.ack_near THEN 'ack' ELSE 'resolve' END AS which, CASE WHEN o.ack_near THEN o.ack_due_at ELSE o.due_at END AS due
       FROM open o WHERE (o.ack_near OR o.resolve_near)
         AND o.near_notified_for IS DISTINCT FROM (CASE WHEN o.ack_near THEN o.ack_due_at ELSE o.due_at END)
     )
     UPDATE dispatch d SET near_notified_for = near.due FROM near, department dep
     WHERE d.id = near.id AND dep.id = d.department_id AND d.resolved_at IS NULL AND d.returned_at IS NULL
     RETURNING d.id, d.incident_id, d.department_id, near.due, near.which, dep.zh, dep.en`,
    [now.toISOString()],
  );
  for (const r of rows) {
    const due = chinaTimes(r.due);
    await notify(
      tx,
      {
        event: 'deadline.near',
        incidentId: r.incident_id,
        dispatchId: r.id,
        to: [{ department: r.department_id }],
        text: (c) =>
          r.which === 'ack'
            ? { zh: `临期：#${c.id} ${c.categoryZh}须于${due.zh}前受理（报到）`, en: `Due soon: acknowledge #${c.id} (${c.categoryEn}) by ${due.en}` }
            : { zh: `临期：#${c.id} ${c.categoryZh}须于${due.zh}前办结`, en: `Due soon: resolve #${c.id} (${c.categoryEn}) by ${due.en}` },
        data: { department: r.en, dueAt: new Date(r.due).toISOString(), deadline: r.which },
      },
      now,
    );
  }
  return rows.length;
}

/**
 * A draft's review told to people (no case: `draft_id` names the draft): into the inboxes of `userIds`, and as one delivery
 * to every webhook listening for the event. Returns how many inboxes.
 */
export async function notifyDraft(
  tx: Queryable,
  n: { event: 'draft.review' | 'draft.decided'; draft: { id: number; name: string; regionId: number }; userIds: number[]; zh: string; en: string },
  now: Date,
): Promise<number> {
  const ids = [...new Set(n.userIds)];
  const { rows } = await tx.query<{ username: string; displayName: string; role: string }>(
    `INSERT INTO notification (user_id, event, draft_id, text_zh, text_en, created_at)
     SELECT u.id, $2, $3, $4, $5, $6 FROM app_user u WHERE u.id = ANY($1::int[]) AND NOT u.disabled
     RETURNING (SELECT username FROM app_user WHERE id = user_id) AS username,
       (SELECT display_name FROM app_user WHERE id = user_id) AS "displayName", (SELECT role FROM app_user WHERE id = user_id) AS role`,
    [ids, n.event, n.draft.id, n.zh, n.en, now.toISOString()],
  );
  const payload = {
    event: n.event,
    at: now.toISOString(),
    text: { zh: n.zh, en: n.en },
    draft: n.draft,
    recipients: rows.map((r) => ({ username: r.username, displayName: r.displayName, role: r.role })),
  };
  await tx.query(
    `INSERT INTO webhook_delivery (webhook_id, event, payload, next_at, created_at)
     SELECT w.id, $1::text, $2::jsonb, $3::timestamptz, $3::timestamptz FROM webhook w WHERE $1::text = ANY (w.events)`,
    [n.event, JSON.stringify(payload), now.toISOString()],
  );
  return rows.length;
}
