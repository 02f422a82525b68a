import type { MiddlewareHandler } from 'hono';
import { maySee } from '../db/draft-review.ts';
import { assertDraftOpen, draftById, inDraft } from '../db/drafts.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { canAny } from '../domain/roles.ts';
import { principalOf, routeKey } from './auth.ts';
import type { Env } from './router.ts';

/** Routes that work on a draft as well as on the live plan (`?draft=ID`). */
const DRAFT_ROUTES = new Set([
  'GET /api/regions/:id',
  'GET /api/regions/:id/children',
  'GET /api/regions/:id/parts',
  'GET /api/regions/:id/descendants',
  'GET /api/tiles/:layer/:z/:x/:y',
  'GET /api/regions/:id/coverage',
  'GET /api/regions/:id/households',
  'GET /api/regions/:id/rules',
  'GET /api/regions/:id/export',
  'GET /api/regions/:id/print',
  'GET /api/operations',
  'GET /api/changes',
  'POST /api/regions',
  'PATCH /api/regions/:id',
  'DELETE /api/regions/:id',
  'POST /api/regions/:id/split',
  'POST /api/regions/merge',
  'POST /api/regions/:id/autosplit',
  'POST /api/regions/:id/fit',
  'GET /api/barriers',
  // the people and the grids each serves, as the draft has them (the worker picker)
  'GET /api/workers',
  'POST /api/changes/undo',
  'POST /api/changes/redo',
]);
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether a request asks for a draft (the cache leaves such requests alone: a draft changes without the live plan). */
export const asksForDraft = (url: string) => new URL(url).searchParams.has('draft');

/**
 * `?draft=ID`: the request runs on the draft — its handlers get a database whose `region`,
 * `household`, `grid_staff` and `change` are the draft's. Only the plan's routes take it; only
 * accounts that plan or review may see a draft, and only one their region overlaps; a draft is
 * written only while it is being edited, and only below its own region (its outline and what is
 * above belong to the live plan).
 */
export function draftScope(): MiddlewareHandler<Env> {
  return async (c, next) => {
    c.set('draft', null);
    const raw = new URL(c.req.url).searchParams.getAll('draft');
    if (raw.length === 0) return next();
    const key = routeKey(c);
    if (key === null) return next();
    if (!DRAFT_ROUTES.has(key)) throw new InputError('draft_not_here', `${key.replace('/api', '')} works on the live plan only: leave out draft`, 'draft');
    if (raw.length > 1 || !/^[1-9]\d{0,8}$/.test(raw[0]!)) throw new InputError('invalid_draft', 'draft: the number of a draft', 'draft');
    const p = principalOf(c);
    if (!canAny(p.role, ['plan:write', 'plan:review'])) throw new InputError('forbidden', 'drafts are for those who plan and review the plan', 'draft');
    const db = c.get('db');
    const draft = await draftById(db, Number(raw[0]));
    if (!draft || !(await maySee(db, p, draft.regionId))) throw notFound('draft', Number(raw[0]), 'draft');
    // Checked here for a clear answer before any work, and again in every transaction the request
    // runs (a withdrawal or publication may come in between).
    const mode = WRITES.has(c.req.method) ? 'write' : 'read';
    await db.transaction((tx) => assertDraftOpen(tx, draft.id, mode));
    const scoped = inDraft(db, draft.id, mode);
    if (mode === 'write') await assertBelowRoot(c, key, draft.regionId, scoped);
    c.set('draft', draft);
    c.set('db', scoped);
    await next();
  };
}

/** A write on a draft names regions below its root only (auto-split of the root and new children of it excepted). */
async function assertBelowRoot(c: Parameters<MiddlewareHandler<Env>>[0], key: string, root: number, db: ReturnType<typeof inDraft>): Promise<void> {
  if (/^POST \/api\/changes\//.test(key)) return;
  const body = (await c.req.json().catch(() => ({}))) as Record<string, unknown> | null;
  const sent = body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {};
  const fromPath = /^\/api\/regions\/(\d+)/.exec(c.req.path)?.[1];
  const named = [fromPath, ...(Array.isArray(sent.ids) ? sent.ids : [])].map(Number).filter((n) => Number.isInteger(n) && n > 0 && n < 2 ** 31);
  const parent = Number(sent.parentId);
  // (auto-split and fit change the root's children, not its outline)
  const rootOk = key === 'POST /api/regions/:id/autosplit' || key === 'POST /api/regions/:id/fit';
  const { rows } = await db.query<{ id: number; depth: number }>('SELECT id, depth FROM gp_subtree($1)', [root]);
  const depth = new Map(rows.map((r) => [r.id, r.depth]));
  for (const id of named) {
    const d = depth.get(id);
    if (d === undefined || (d === 0 && !rootOk)) {
      throw new InputError(
        'outside_scope',
        `region ${id} is ${d === 0 ? "this draft's own region: its outline belongs to the live plan" : 'not in this draft'}`,
        'id',
      );
    }
  }
  // a parent that is no id at all is the route's to refuse (400), not ours
  if (key === 'POST /api/regions' && Number.isInteger(parent) && parent > 0 && !depth.has(parent)) {
    throw new InputError('outside_scope', `region ${parent} is not in this draft`, 'parentId');
  }
}
