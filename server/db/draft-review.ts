/**
 * A draft's way to the live plan: submitted, decided step by step by the accounts each approval
 * step names (乡镇审核 → 区县审批 by default), published now or on a date, or sent back.
 */
import { InputError, notFound } from '../domain/errors.ts';
import type { Principal } from '../domain/roles.ts';
import { isWithin } from './accounts.ts';
import { notifyDraft } from './notifications.ts';
import type { Db, Queryable, Tx } from './db.ts';
import {
  conflictError,
  conflicts,
  createDraft,
  draftById,
  draftSchema,
  dropDraftSchema,
  GONE,
  personName,
  publishDraft,
  stepsFor,
  stepsOfRegion,
  type ApprovalStep,
  type Conflict,
  type DraftRow,
} from './drafts.ts';

export interface DraftEvent {
  id: number;
  at: string;
  actor: string;
  actorName: string;
  kind: string;
  step: number | null;
  gridId: number | null;
  comment: string;
}

export interface DraftDetail extends DraftRow {
  steps: (ApprovalStep & { state: 'done' | 'current' | 'waiting'; decidedBy: string | null; decidedByName: string | null })[];
  events: DraftEvent[];
  conflicts: Conflict[];
  /** Whether the caller may decide its current step. */
  mayDecide: boolean;
  /** Why not, while it waits for a decision (null: they may, or nothing waits). */
  whyNot: 'role' | 'author' | 'decidedEarlier' | 'area' | null;
}

/** Whether a draft is one the caller may see: its region and the caller's overlap (one holds the other). */
export async function maySee(db: Queryable, p: Principal, regionId: number): Promise<boolean> {
  if (p.role === 'admin' || p.regionId === null) return true;
  return (await isWithin(db, regionId, p.regionId, false)) || (await isWithin(db, p.regionId, regionId, false));
}

/** The region at a step's level above (or at) the draft's region. */
async function stepRegion(db: Queryable, regionId: number, level: string): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(`SELECT r.id FROM gp_ancestors(ARRAY[$1::int]) a JOIN region r ON r.id = a.id WHERE r.level = $2 LIMIT 1`, [
    regionId,
    level,
  ]);
  return rows[0]?.id ?? null;
}

/**
 * Whether the caller may decide a step of this draft: a role the step names, holding the step's
 * region; never the draft's own author (unless an administrator).
 */
export async function mayDecideStep(db: Queryable, p: Principal, draft: DraftRow, step: ApprovalStep | undefined): Promise<boolean> {
  return (await whyNotDecide(db, p, draft, step)) === null;
}

/**
 * Why the caller may not decide a step (null: they may): `role` — the step names other roles; `author` —
 * they made, edited, submitted or rebased the draft; `decidedEarlier` — they approved an earlier step of
 * this round; `area` — the step's region is not within theirs. Said beside 等待…审批, so a reviewer who
 * passed the township's step knows why the district's waits for someone else.
 */
export async function whyNotDecide(
  db: Queryable,
  p: Principal,
  draft: DraftRow,
  step: ApprovalStep | undefined,
): Promise<'role' | 'author' | 'decidedEarlier' | 'area' | null> {
  if (!step || !step.roles.includes(p.role)) return 'role';
  if (p.role === 'admin') return null;
  // Four eyes: nobody decides a draft they made, edited, submitted or rebased, nor two steps of one round.
  const { authors, approvers } = await involved(db, draft);
  if (authors.has(p.username)) return 'author';
  if (approvers.has(p.username)) return 'decidedEarlier';
  if (p.regionId === null) return null;
  const region = await stepRegion(db, draft.regionId, step.level);
  return region !== null && (await isWithin(db, region, p.regionId, false)) ? null : 'area';
}

/** Who made, edited, submitted or rebased a draft (`authors`), and who approved a step of its current round (`approvers`). */
async function involved(db: Queryable, draft: DraftRow): Promise<{ authors: Set<string>; approvers: Set<string> }> {
  const { rows } = await db.query<{ actor: string; approved: boolean }>(
    `SELECT actor, kind = 'approve' AS approved FROM draft_event WHERE draft_id = $1 AND (kind IN ('create', 'submit', 'rebase')
       OR (kind = 'approve' AND id > coalesce((SELECT max(id) FROM draft_event WHERE draft_id = $1 AND kind = 'submit'), 0)))
     UNION SELECT actor, false FROM ${draftSchema(draft.id)}.change`,
    [draft.id],
  );
  return {
    authors: new Set([draft.createdBy, ...rows.filter((r) => !r.approved).map((r) => r.actor)]),
    approvers: new Set(rows.filter((r) => r.approved).map((r) => r.actor)),
  };
}

async function events(db: Queryable, id: number): Promise<DraftEvent[]> {
  const { rows } = await db.query<DraftEvent>(
    `SELECT e.id::int, to_json(e.at) #>> '{}' AS at, e.actor, ${personName('e.actor')} AS "actorName",
       e.kind, e.step, e.grid_id AS "gridId", e.comment
     FROM draft_event e WHERE e.draft_id = $1 ORDER BY e.id`,
    [id],
  );
  return rows;
}

export async function draftDetail(db: Queryable, p: Principal, id: number): Promise<DraftDetail> {
  const draft = await draftById(db, id);
  if (!draft || !(await maySee(db, p, draft.regionId))) throw notFound('draft', id, 'id');
  const steps = stepsFor(await stepsOfRegion(db, draft.regionId), draft.regionLevel);
  const log = await events(db, id);
  // the decisions of the current round: since the latest submission
  const lastSubmit = log.findLastIndex((e) => e.kind === 'submit');
  const round = lastSubmit >= 0 ? log.slice(lastSubmit) : [];
  const live = ['editing', 'submitted', 'conflict', 'scheduled'].includes(draft.status);
  const why = draft.status === 'submitted' ? await whyNotDecide(db, p, draft, steps[draft.step]) : 'role';
  return {
    ...draft,
    steps: steps.map((s, i) => ({
      ...s,
      state:
        draft.status === 'published' || draft.status === 'scheduled' || (draft.status === 'submitted' && i < draft.step)
          ? 'done'
          : draft.status === 'submitted' && i === draft.step
            ? 'current'
            : 'waiting',
      decidedBy: round.find((e) => e.kind === 'approve' && e.step === i)?.actor ?? null,
      decidedByName: round.find((e) => e.kind === 'approve' && e.step === i)?.actorName ?? null,
    })),
    events: log,
    conflicts: live ? await conflicts(db, draft) : [],
    mayDecide: why === null && draft.status === 'submitted',
    whyNot: draft.status === 'submitted' ? why : null,
  };
}

export async function listDrafts(
  db: Queryable,
  p: Principal,
  filter: { regionId?: number | undefined; awaiting?: boolean; open?: boolean },
): Promise<(DraftRow & { mayDecide: boolean })[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT d.id FROM draft d
     WHERE ($1::int IS NULL OR d.region_id IN (SELECT id FROM gp_subtree($1::int)) OR d.region_id IN (SELECT id FROM gp_ancestors(ARRAY[$1::int])))
       AND ($2::boolean IS NOT TRUE OR d.status IN ('editing', 'submitted', 'scheduled', 'conflict'))
     ORDER BY d.updated_at DESC LIMIT 200`,
    [filter.regionId ?? null, filter.open || filter.awaiting ? true : null],
  );
  const out: (DraftRow & { mayDecide: boolean })[] = [];
  for (const { id } of rows) {
    const d = await draftById(db, id);
    if (!d || !(await maySee(db, p, d.regionId))) continue;
    const mayDecide = d.status === 'submitted' && (await mayDecideStep(db, p, d, stepsFor(await stepsOfRegion(db, d.regionId), d.regionLevel)[d.step]));
    if (filter.awaiting && !mayDecide) continue;
    out.push({ ...d, mayDecide });
  }
  return out;
}

const event = (tx: Queryable, id: number, actor: string, kind: string, comment = '', step: number | null = null, gridId: number | null = null) =>
  tx.query('INSERT INTO draft_event (draft_id, actor, kind, comment, step, grid_id) VALUES ($1, $2, $3, $4, $5, $6)', [id, actor, kind, comment, step, gridId]);

function checkVersion(d: DraftRow, version: number | undefined): void {
  if (version !== undefined && version !== d.version) {
    throw new InputError('version_conflict', `the draft “${d.name}” changed meanwhile (version ${d.version}, not ${version}); reload it`, 'version', {
      currentVersion: d.version,
    });
  }
}

async function lockDraft(tx: Queryable, p: Principal, id: number): Promise<DraftRow> {
  const d = await draftById(tx, id, true);
  if (!d || !(await maySee(tx, p, d.regionId))) throw notFound('draft', id, 'id');
  return d;
}

const touch = (tx: Queryable, id: number, set: string, params: unknown[] = []) =>
  tx.query(`UPDATE draft SET ${set}, version = version + 1, updated_at = now() WHERE id = $1`, [id, ...params]);

export async function newDraft(tx: Tx, actor: string, regionId: number, name: string, from: { version: number; at: Date } | null = null): Promise<number> {
  const id = await createDraft(tx, actor, regionId, name, from);
  await event(tx, id, actor, 'create');
  return id;
}

/** Sends a draft for review: it can no longer be edited until a reviewer sends it back. */
/** A draft is its author's to submit, rebase and withdraw (an administrator's too); colleagues in scope may edit it with them and comment. */
export function assertAuthor(d: { createdBy: string }, p: Principal, what: string): void {
  if (p.role !== 'admin' && p.username !== d.createdBy)
    throw new InputError('not_author', `only ${d.createdBy}, who made it, or an administrator may ${what} this draft`, 'draft', {
      author: d.createdBy,
    });
}

export async function submitDraft(tx: Tx, p: Principal, id: number, note: string, version?: number, now = new Date()): Promise<void> {
  const d = await lockDraft(tx, p, id);
  assertAuthor(d, p, 'submit');
  checkVersion(d, version);
  if (d.status !== 'editing' && d.status !== 'conflict') throw stateError(d, 'submitted');
  const found = await conflicts(tx, d);
  if (found.length > 0) throw conflictError(found);
  await touch(tx, id, `status = 'submitted', step = 0`);
  await event(tx, id, p.username, 'submit', note, 0);
  await tellReviewers(tx, d, stepsFor(await stepsOfRegion(tx, d.regionId), d.regionLevel)[0], now);
}

/** Who may decide a step of this draft: the accounts the step names, holding its region, who took no part in the draft. */
async function reviewersOf(tx: Queryable, d: DraftRow, step: ApprovalStep | undefined): Promise<number[]> {
  if (!step) return [];
  const { rows } = await tx.query<{ id: number; username: string; role: Principal['role']; regionId: number | null }>(
    `SELECT id, username, role, region_id AS "regionId" FROM app_user WHERE role = ANY($1::text[]) AND NOT disabled ORDER BY id`,
    [step.roles],
  );
  const out: number[] = [];
  for (const u of rows) {
    const p: Principal = {
      kind: 'user',
      id: u.id,
      username: u.username,
      displayName: '',
      role: u.role,
      regionId: u.regionId,
      workerId: null,
      departmentId: null,
      gridIds: [],
    };
    if (await mayDecideStep(tx, p, d, step)) out.push(u.id);
  }
  return out;
}

/** A step awaits its reviewers: each is told, in the inbox (and the webhooks listening for `draft.review`). */
async function tellReviewers(tx: Queryable, d: DraftRow, step: ApprovalStep | undefined, now: Date): Promise<void> {
  if (!step) return;
  await notifyDraft(
    tx,
    {
      event: 'draft.review',
      draft: { id: d.id, name: d.name, regionId: d.regionId },
      userIds: await reviewersOf(tx, d, step),
      zh: `草稿「${d.name}」（${d.regionName}）待您审核：${step.zh}`,
      en: `Draft “${d.name}” (${d.regionName}) awaits your review: ${step.en}`,
    },
    now,
  );
}

/** A step decided: its author is told what came of it. */
async function tellAuthor(tx: Queryable, d: DraftRow, text: { zh: string; en: string }, now: Date): Promise<void> {
  const { rows } = await tx.query<{ id: number }>('SELECT id FROM app_user WHERE username = $1', [d.createdBy]);
  await notifyDraft(tx, { event: 'draft.decided', draft: { id: d.id, name: d.name, regionId: d.regionId }, userIds: rows.map((r) => r.id), ...text }, now);
}

/** A reviewer's words in a notice: the first 80 characters. */
const gist = (comment: string) => (comment.length > 80 ? `${comment.slice(0, 80)}…` : comment);

export async function commentDraft(tx: Tx, p: Principal, id: number, comment: string, gridId: number | null): Promise<void> {
  const d = await lockDraft(tx, p, id);
  if (GONE.includes(d.status)) throw stateError(d, 'commented on');
  if (gridId !== null) {
    const { rows } = await tx.query(`SELECT 1 FROM ${draftSchema(d.id)}.region WHERE id = $1 UNION SELECT 1 FROM region WHERE id = $1`, [gridId]);
    if (rows.length === 0) throw notFound('region', gridId, 'gridId');
  }
  await event(tx, d.id, p.username, 'comment', comment, d.status === 'submitted' ? d.step : null, gridId);
  await touch(tx, id, 'status = status');
}

/** Takes a draft out of the way: its copy is dropped; its record and comments stay. */
export async function withdrawDraft(tx: Tx, p: Principal, id: number): Promise<void> {
  const d = await lockDraft(tx, p, id);
  assertAuthor(d, p, 'withdraw');
  if (GONE.includes(d.status)) throw stateError(d, 'withdrawn');
  await touch(tx, id, `status = 'withdrawn'`);
  await event(tx, id, p.username, 'withdraw');
  await dropDraftSchema(tx, id);
}

function stateError(d: DraftRow, what: string): InputError {
  const zh: Record<string, string> = {
    editing: '编辑中',
    submitted: '审核中',
    scheduled: '待生效',
    published: '已发布',
    rejected: '已退回',
    withdrawn: '已撤回',
    conflict: '有冲突',
  };
  return new InputError('draft_state', `the draft “${d.name}” is ${d.status} (${zh[d.status]}): it cannot be ${what}`, 'id', { status: d.status });
}

export type Decision = 'approve' | 'reject' | 'changes';

/**
 * A reviewer's decision on the draft's current step. Approving the last step publishes the draft
 * (now, or on `effectiveFrom` when that is later: it waits as scheduled); a live plan changed
 * under it refuses with 409 naming the regions, and the draft is marked as in conflict.
 */
export async function reviewDraft(
  db: Db,
  p: Principal,
  id: number,
  input: { decision: Decision; comment: string; effectiveFrom: Date | null; version?: number | undefined },
  now: Date,
): Promise<{ status: string; versionId: number | null; op: number | null }> {
  try {
    return await db.transaction(async (tx) => {
      const d = await lockDraft(tx, p, id);
      checkVersion(d, input.version);
      if (d.status !== 'submitted') throw stateError(d, 'reviewed');
      const steps = stepsFor(await stepsOfRegion(tx, d.regionId), d.regionLevel);
      const step = steps[d.step];
      if (!(await mayDecideStep(tx, p, d, step))) {
        const who = step ? `${step.zh} (${step.en}): ${step.roles.join(', ')} of the ${step.level}` : 'nobody';
        throw new InputError('forbidden', `this step of the draft is decided by ${who}${p.username === d.createdBy ? ', not by its author' : ''}`, 'id');
      }
      if (input.decision === 'reject' || input.decision === 'changes') {
        if (!input.comment.trim()) throw new InputError('comment_required', 'say why: a reason goes with sending a draft back', 'comment');
        await event(tx, id, p.username, input.decision, input.comment, d.step);
        await tellAuthor(
          tx,
          d,
          input.decision === 'reject'
            ? {
                zh: `草稿「${d.name}」未获通过（${step!.zh}）：${gist(input.comment)}`,
                en: `Draft “${d.name}” was rejected (${step!.en}): ${gist(input.comment)}`,
              }
            : {
                zh: `草稿「${d.name}」被退回修改（${step!.zh}）：${gist(input.comment)}`,
                en: `Draft “${d.name}” was sent back for changes (${step!.en}): ${gist(input.comment)}`,
              },
          now,
        );
        await touch(tx, id, input.decision === 'reject' ? `status = 'rejected'` : `status = 'editing', step = 0`);
        // a rejection ends the draft: its copy goes, its record and the reason stay
        if (input.decision === 'reject') await dropDraftSchema(tx, id);
        return { status: input.decision === 'reject' ? 'rejected' : 'editing', versionId: null, op: null };
      }
      await event(tx, id, p.username, 'approve', input.comment, d.step);
      if (d.step + 1 < steps.length) {
        await touch(tx, id, 'step = step + 1');
        const next = steps[d.step + 1]!;
        await tellAuthor(
          tx,
          d,
          { zh: `草稿「${d.name}」已通过「${step!.zh}」，进入「${next.zh}」`, en: `Draft “${d.name}” passed ${step!.en}; next: ${next.en}` },
          now,
        );
        await tellReviewers(tx, { ...d, step: d.step + 1 }, next, now);
        return { status: 'submitted', versionId: null, op: null };
      }
      if (input.effectiveFrom && input.effectiveFrom.getTime() > now.getTime()) {
        await touch(tx, id, `status = 'scheduled', effective_from = $2`, [input.effectiveFrom.toISOString()]);
        await event(tx, id, p.username, 'schedule', input.effectiveFrom.toISOString());
        const day = input.effectiveFrom.toISOString().slice(0, 10);
        await tellAuthor(tx, d, { zh: `草稿「${d.name}」已通过审核，将于 ${day} 生效`, en: `Draft “${d.name}” was approved and takes effect on ${day}` }, now);
        return { status: 'scheduled', versionId: null, op: null };
      }
      const published = await publishDraft(tx, { ...d, effectiveFrom: null }, p.username, p.username, input.comment);
      await tellAuthor(tx, d, { zh: `草稿「${d.name}」已通过审核并发布`, en: `Draft “${d.name}” was approved and published` }, now);
      await dropDraftSchema(tx, id);
      return { status: 'published', versionId: published.versionId, op: published.op };
    });
  } catch (err) {
    if (err instanceof InputError && err.code === 'draft_conflict') await markConflict(db, id, p.username, err.message);
    throw err;
  }
}

async function markConflict(db: Db, id: number, actor: string, message: string): Promise<void> {
  await db.transaction(async (tx) => {
    await touch(tx, id, `status = 'conflict'`);
    await event(tx, id, actor, 'conflict', message);
  });
}

/** Publishes the scheduled drafts whose day has come (the server's timer); one in conflict is marked so and left to its planner. */
export async function publishDue(db: Db, now: Date): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(`SELECT id FROM draft WHERE status = 'scheduled' AND effective_from <= $1 ORDER BY effective_from, id`, [
    now.toISOString(),
  ]);
  const published: number[] = [];
  for (const { id } of rows) {
    try {
      await db.transaction(async (tx) => {
        const d = await draftById(tx, id, true);
        if (!d || d.status !== 'scheduled') return;
        const { rows: approver } = await tx.query<{ actor: string }>(
          `SELECT actor FROM draft_event WHERE draft_id = $1 AND kind = 'approve' ORDER BY id DESC LIMIT 1`,
          [id],
        );
        await publishDraft(tx, d, 'system', approver[0]?.actor ?? null, 'scheduled');
        await tellAuthor(tx, d, { zh: `草稿「${d.name}」已按期生效`, en: `Draft “${d.name}” took effect as scheduled` }, now);
        await dropDraftSchema(tx, id);
        published.push(id);
      });
    } catch (err) {
      if (err instanceof InputError) await markConflict(db, id, 'system', err.message);
      else throw err;
    }
  }
  return published;
}

export interface PlanVersion {
  id: number;
  regionId: number;
  regionName: string;
  draftId: number | null;
  name: string;
  note: string;
  publishedBy: string;
  approvedBy: string | null;
  publishedByName: string;
  approvedByName: string | null;
  publishedAt: string;
  effectiveFrom: string;
  op: number | null;
  gridsAdded: number;
  gridsRemoved: number;
  gridsChanged: number;
}

const VERSION_JSON = `v.id, v.region_id AS "regionId", coalesce(r.name, '') AS "regionName", v.draft_id AS "draftId", v.name, v.note,
  v.published_by AS "publishedBy", v.approved_by AS "approvedBy",
  ${personName('v.published_by')} AS "publishedByName", CASE WHEN v.approved_by IS NOT NULL THEN ${personName('v.approved_by')} END AS "approvedByName",
  to_json(v.published_at) #>> '{}' AS "publishedAt",
  to_json(v.effective_from) #>> '{}' AS "effectiveFrom", v.op::int AS op, v.grids_added AS "gridsAdded", v.grids_removed AS "gridsRemoved",
  v.grids_changed AS "gridsChanged"`;

/** The versions published for a region, above it (they include it) or below it; newest first. */
/** Published versions touching a region (below or above it); for someone given an area (`area`), only those touching it. */
export async function listVersions(db: Queryable, regionId: number | undefined, limit = 100, area: number | null = null): Promise<PlanVersion[]> {
  const { rows } = await db.query<PlanVersion>(
    `SELECT ${VERSION_JSON} FROM plan_version v LEFT JOIN region r ON r.id = v.region_id
     WHERE ($1::int IS NULL OR v.region_id IN (SELECT id FROM gp_subtree($1::int)) OR v.region_id IN (SELECT id FROM gp_ancestors(ARRAY[$1::int])))
       AND ($3::int IS NULL OR v.region_id IN (SELECT id FROM gp_subtree($3::int)) OR v.region_id IN (SELECT id FROM gp_ancestors(ARRAY[$3::int])))
     ORDER BY v.published_at DESC, v.id DESC LIMIT $2`,
    [regionId ?? null, limit, area],
  );
  return rows;
}

export async function versionById(db: Queryable, id: number): Promise<PlanVersion | null> {
  const { rows } = await db.query<PlanVersion>(`SELECT ${VERSION_JSON} FROM plan_version v LEFT JOIN region r ON r.id = v.region_id WHERE v.id = $1`, [id]);
  return rows[0] ?? null;
}

/** The moment just after a version was published: the plan it made. */
export const versionInstant = (v: PlanVersion): Date => new Date(Date.parse(v.publishedAt) + 1);
