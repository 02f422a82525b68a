import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { matchedRoutes } from 'hono/route';
import { LRUCache } from 'lru-cache';
import { apiKeyClient, isWithin, SESSION_COOKIE, sessionPrincipal } from '../db/accounts.ts';
import { InputError } from '../domain/errors.ts';
import { areaOf, canAny, type Capability, type Principal } from '../domain/roles.ts';
import type { Env } from './router.ts';
import type { Queryable } from '../db/db.ts';

/**
 * Every API route and who may call it. A route missing here is refused to everyone (and a
 * test fails), so a new endpoint cannot go out unguarded. `public` needs no session.
 */
export const POLICY: Record<string, 'public' | 'hotline' | readonly Capability[]> = {
  'GET /api/health': 'public',
  'GET /api/config': 'public',
  'GET /api/basemap.pmtiles': ['plan:read'],
  'GET /api/openapi.json': 'public',
  'POST /api/auth/login': 'public',
  'POST /api/auth/screen': 'public',
  'POST /api/auth/logout': 'public',
  'GET /api/auth/me': ['plan:read'],
  'GET /api/auth/session': 'public',

  'GET /api/grid-types': ['plan:read'],
  // the staff roster (everyone, staffing a grid or not) is for those who staff grids: planners and admins. A grid's own
  // people — names and phones — are in its detail, exports and prints for every role that reads the plan, as a grid's
  // 公示牌 shows them to its residents
  'GET /api/workers': ['plan:write'],
  'POST /api/workers': ['plan:write'],
  'GET /api/staff-roles': ['plan:read'],
  'PUT /api/staff-roles': ['users:admin'],
  'GET /api/regions': ['plan:read'],
  'GET /api/regions/:id': ['plan:read'],
  'GET /api/regions/:id/children': ['plan:read'],
  'GET /api/regions/:id/parts': ['plan:read'],
  'GET /api/regions/:id/descendants': ['plan:read'],
  // the households layer is checked in the route (households:read)
  'GET /api/tiles/:layer/:z/:x/:y': ['plan:read'],
  'GET /api/regions/:id/coverage': ['plan:read'],
  'GET /api/regions/:id/households': ['households:read'],
  'GET /api/regions/:id/rules': ['plan:read'],
  'GET /api/rules/defaults': ['plan:read'],
  'GET /api/regions/:id/staffing': ['plan:read'],
  'GET /api/regions/:id/deadlines': ['plan:read'],
  'GET /api/regions/:id/assessment-rules': ['plan:read'],
  'GET /api/regions/:id/approval-steps': ['plan:read'],
  'GET /api/compare': ['plan:read'],
  'GET /api/compare/export': ['plan:read'],
  'GET /api/regions/:id/export': ['plan:read'],
  'GET /api/regions/:id/print': ['plan:read'],
  'GET /api/regions/:id/households/export': ['households:read'],
  'GET /api/incidents/export': ['incidents:read', 'incidents:own'],
  'PUT /api/regions/:id/rules': ['users:admin'],
  'PUT /api/rules/defaults': ['users:admin'],
  'PUT /api/regions/:id/staffing': ['users:admin'],
  'PUT /api/regions/:id/deadlines': ['users:admin'],
  'PUT /api/regions/:id/assessment-rules': ['users:admin'],
  'PUT /api/regions/:id/approval-steps': ['users:admin'],
  'GET /api/settings/departments': ['users:admin'],
  'GET /api/settings/departments/export': ['users:admin'],
  'POST /api/settings/departments': ['users:admin'],
  'PATCH /api/settings/departments/:id': ['users:admin'],
  'DELETE /api/settings/departments/:id': ['users:admin'],
  'GET /api/settings/categories': ['users:admin'],
  'POST /api/settings/categories': ['users:admin'],
  'PUT /api/settings/categories/:code': ['users:admin'],
  'GET /api/settings/changes': ['users:admin'],
  'POST /api/settings/changes/:id/undo': ['users:admin'],
  'GET /api/changes': ['changes:read'],
  'POST /api/incidents/:id/invalid': ['dispatch:manage'],
  'POST /api/incidents/:id/restore': ['dispatch:manage'],
  'POST /api/incidents/:id/merge': ['dispatch:manage'],
  'GET /api/incidents/:id/duplicates': ['dispatch:manage', 'incidents:read'],
  'POST /api/incidents/:id/reopen': ['dispatch:manage'],
  'POST /api/incidents/:id/review': ['dispatch:manage'],
  'POST /api/patrols': ['patrol:record'],
  'GET /api/field/households': ['patrol:record'],
  'GET /api/patrols': ['incidents:read', 'incidents:own'],
  'GET /api/assessment': ['incidents:read', 'incidents:own'],
  'GET /api/assessment/export': ['incidents:read', 'incidents:own'],
  'PUT /api/assessment/rules': ['users:admin'],
  'GET /api/notifications': ['plan:read'],
  'POST /api/notifications/:id/read': ['plan:read'],
  'POST /api/notifications/read': ['plan:read'],
  'GET /api/webhooks': ['users:admin'],
  'POST /api/webhooks': ['users:admin'],
  'DELETE /api/webhooks/:id': ['users:admin'],
  'GET /api/webhooks/deliveries': ['users:admin'],
  'POST /api/webhooks/deliveries/:id/resend': ['users:admin'],
  'POST /api/webhooks/deliver': ['users:admin'],
  'GET /api/settings/escalation-contacts': ['users:admin'],
  'PUT /api/settings/escalation-contacts/:id': ['users:admin'],
  'GET /api/drafts': ['plan:write', 'plan:review'],
  'POST /api/drafts': ['plan:write'],
  'GET /api/drafts/:id': ['plan:write', 'plan:review'],
  'DELETE /api/drafts/:id': ['plan:write'],
  'POST /api/drafts/:id/submit': ['plan:write'],
  'POST /api/drafts/:id/review': ['plan:review'],
  'POST /api/drafts/:id/comments': ['plan:write', 'plan:review'],
  'POST /api/drafts/:id/rebase': ['plan:write'],
  'GET /api/versions': ['plan:read'],
  'POST /api/versions/:id/rollback': ['plan:write'],
  'GET /api/approval-steps': ['plan:read'],
  'PUT /api/approval-steps': ['users:admin'],
  'GET /api/operations': ['changes:read'],

  'POST /api/regions': ['plan:write'],
  'PATCH /api/regions/:id': ['plan:write'],
  'DELETE /api/regions/:id': ['plan:write'],
  'POST /api/regions/:id/split': ['plan:write'],
  'POST /api/regions/merge': ['plan:write'],
  'POST /api/regions/import': ['plan:write'],
  'POST /api/regions/:id/autosplit': ['plan:write'],
  'POST /api/regions/:id/fit': ['plan:write'],
  'GET /api/barriers': ['plan:read'],
  'POST /api/changes/undo': ['plan:write'],
  'POST /api/changes/redo': ['plan:write'],
  'POST /api/households/import': ['households:write'],
  // a grid worker corrects the households of their grids; a planner or admin those of their area
  'PATCH /api/households/:id': ['households:write', 'patrol:record'],
  // …adds one found at the door (新增住户), takes one out (迁出, 拆除, 重复登记), and takes back their own such change
  'POST /api/households': ['households:write', 'patrol:record'],
  'POST /api/households/:id/remove': ['households:write', 'patrol:record'],
  'POST /api/households/undo': ['households:write', 'patrol:record'],
  // …sees those taken out of a grid, and gives one back (恢复), whoever took it out
  'GET /api/households/removed': ['households:people', 'patrol:record'],
  'POST /api/households/restore': ['households:write', 'patrol:record'],
  // The import wizard: each kind of layer is checked against its own capability in the route.
  'POST /api/imports': ['plan:write', 'households:write', 'incidents:import'],
  'GET /api/imports/:id': ['plan:write', 'households:write', 'incidents:import'],
  'DELETE /api/imports/:id': ['plan:write', 'households:write', 'incidents:import'],
  'POST /api/imports/:id/plan': ['plan:write', 'households:write', 'incidents:import'],
  'POST /api/imports/:id/commit': ['plan:write', 'households:write', 'incidents:import'],
  'GET /api/imports/:id/left-out': ['plan:write', 'households:write', 'incidents:import'],

  'GET /api/incident-categories': ['incidents:read', 'incidents:own', 'dispatch:answer'],
  'GET /api/incidents': ['incidents:read', 'incidents:own'],
  'POST /api/incidents': ['incidents:report'],
  'PATCH /api/incidents/:id': ['incidents:update'],
  'POST /api/incidents/import': ['incidents:import'],
  'POST /api/incidents/:id/photos': ['incidents:report'],
  'GET /api/incidents/:id/photos/:photo': ['incidents:read', 'incidents:own', 'dispatch:answer'],
  'POST /api/dispatches/:id/photos': ['dispatch:answer'],
  'GET /api/field/incidents': ['incidents:own', 'incidents:read'],
  'GET /api/heatmap': ['incidents:read'],
  'GET /api/hotspots': ['incidents:read'],
  'GET /api/incidents/timeseries': ['incidents:read'],
  'GET /api/regions/:id/incident-stats': ['incidents:read'],
  'GET /api/stats/overview': ['incidents:read'],
  'GET /api/events': ['incidents:read'],

  'GET /api/departments': ['incidents:read', 'incidents:dispatch', 'dispatch:answer'],
  'POST /api/incidents/:id/dispatch': ['incidents:dispatch'],
  'POST /api/incidents/:id/assign': ['dispatch:manage'],
  'GET /api/incidents/:id/deadlines': ['incidents:dispatch'],
  // 办理过程: whoever may see the case (the route checks area, grid, report and department)
  'GET /api/incidents/:id/timeline': ['incidents:read', 'incidents:own', 'dispatch:answer', 'dispatch:read'],
  'GET /api/dispatches': ['dispatch:read', 'dispatch:answer'],
  'PATCH /api/dispatches/:id': ['dispatch:answer', 'dispatch:manage'],
  'POST /api/dispatches/escalate': ['users:admin'],
  'POST /api/dispatches/urge': ['dispatch:manage'],
  'GET /api/stats/departments': ['dispatch:read'],
  // Systems that feed orders in, with an API key (`x-api-key`) instead of a session.
  'POST /api/intake/hotline': 'hotline',
  'GET /api/intake/hotline/:orderNo': 'hotline',

  'POST /api/backups': ['users:admin'],
  'GET /api/backups': ['users:admin'],

  'GET /api/users': ['users:admin'],
  'POST /api/users': ['users:admin'],
  'PATCH /api/users/:id': ['users:admin'],
  'GET /api/screen-tokens': ['users:admin'],
  'POST /api/screen-tokens': ['users:admin'],
  'DELETE /api/screen-tokens/:id': ['users:admin'],
  'GET /api/hotline-keys': ['users:admin'],
  'POST /api/hotline-keys': ['users:admin'],
  'DELETE /api/hotline-keys/:id': ['users:admin'],
};

/** The route a request will reach (not a middleware, not the 404 catch-all), as `METHOD /path`. */
export function routeKey(c: Context): string | null {
  const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
  const route = matchedRoutes(c).find((r) => r.method === method && !r.path.endsWith('*'));
  return route ? `${method} ${route.path}` : null;
}

/**
 * Sessions looked up in the last few seconds: a wall of displays or a busy planner sends many
 * requests a second with one cookie, and each lookup is a query. Any change to accounts, tokens
 * or sessions made through this server empties it at once; one made by another process (the
 * users CLI on PostgreSQL) takes effect within `SESSION_CACHE_MS`.
 */
export const SESSION_CACHE_MS = 10_000;
const ACCOUNT_WRITES = /^(POST|PATCH|DELETE) \/api\/(users|screen-tokens|auth\/logout)/;
// A grid worker's grids are part of their principal: plan changes retire workers' sessions (those made
// here at once; with a read cache, also another process's and a scheduled publish: see `planChanged`).
const PLAN_WRITES = /^(POST|PATCH|PUT|DELETE) \/api\/(regions|changes|drafts|imports|workers|versions|settings)/;

/** Routes the local control token may call, as the system. */
const CONTROL_ROUTES = new Set(['POST /api/backups']);
const CONTROL_PRINCIPAL: Principal = {
  kind: 'user',
  id: 0,
  username: 'system:backup',
  displayName: 'npm run backup',
  role: 'admin',
  regionId: null,
  workerId: null,
  departmentId: null,
  gridIds: [],
};
const safeEqual = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

interface Recent {
  /** Shared by concurrent requests with one cookie: one lookup, not one each. */
  lookup: Promise<Principal | null>;
  role?: string | undefined;
}

/**
 * Resolves the session cookie into `principal` and enforces `POLICY`. `planChanged` registers a
 * listener told of every change to the plan, wherever it was made.
 */
export function authenticate(planChanged?: (listener: () => void) => void): MiddlewareHandler<Env> {
  const recent = new LRUCache<string, Recent>({ max: 10_000, ttl: SESSION_CACHE_MS });
  const retireWorkers = () => {
    for (const [t, e] of recent.entries()) if (e.role === 'worker') recent.delete(t);
  };
  planChanged?.(retireWorkers);
  return async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    let principal: Principal | null = null;
    if (token && token.length <= 100) {
      let known = recent.get(token);
      if (!known) {
        const entry: Recent = { lookup: sessionPrincipal(c.get('db'), token) };
        entry.lookup.then(
          (p) => (entry.role = p?.role),
          () => recent.delete(token),
        );
        recent.set(token, (known = entry));
      }
      principal = await known.lookup;
    }
    const key = routeKey(c);
    // `npm run backup` on the server's own machine, with the control token from the data folder.
    const control = c.req.header('x-gridplan-control');
    const secret = c.get('options').controlToken;
    if (control !== undefined && secret && key !== null && CONTROL_ROUTES.has(key) && safeEqual(control, secret)) principal = CONTROL_PRINCIPAL;
    c.set('principal', principal);
    if (key === null) return next(); // no such route: the 404 handler answers
    const policy = POLICY[key];
    c.set('apiClient', null);
    c.set('apiRegion', null);
    if (policy === 'hotline') {
      const key = c.req.header('x-api-key');
      const client = key && key.length <= 200 ? await apiKeyClient(c.get('db'), key, 'hotline') : null;
      if (!client) throw new InputError('invalid_api_key', 'send a valid hotline API key in x-api-key', 'x-api-key');
      c.set('apiClient', client.label);
      c.set('apiRegion', client.regionId);
    } else if (policy !== 'public') {
      if (!principal) throw new InputError('unauthenticated', 'sign in first (POST /api/auth/login)', '');
      if (!policy || !canAny(principal.role, policy)) {
        throw new InputError('forbidden', `the ${principal.role} role may not ${key}`, '');
      }
    }
    await next();
    if (c.res.status >= 400) return;
    if (ACCOUNT_WRITES.test(key)) {
      recent.clear();
      // Streams of sessions this write ended close now, not at their next check.
      await c.get('streams').check();
    } else if (PLAN_WRITES.test(key)) retireWorkers();
  };
}

/** The signed-in caller (routes behind a capability always have one). */
export function principalOf(c: Context<Env>): Principal {
  const p = c.get('principal');
  if (!p) throw new InputError('unauthenticated', 'sign in first (POST /api/auth/login)', '');
  return p;
}

/** Who the change log names for this request. */
export const actorOf = (c: Context<Env>) => principalOf(c).username;

const outside = (what: string, path: string) => new InputError('outside_scope', `${what} lies outside your assigned area`, path);

/**
 * A planner with an assigned region may change only what lies below it (`strict`) or, for
 * whole-area operations such as auto-split and creating a child, the region itself too.
 */
export async function assertPlanScope(c: Context<Env>, regionIds: number[], strict: boolean, path = 'id'): Promise<void> {
  const p = principalOf(c);
  if (p.role === 'admin' || p.regionId === null) return;
  for (const id of regionIds) {
    if (!(await isWithin(c.get('db'), id, p.regionId, strict))) throw outside(`region ${id}`, path);
  }
}

/**
 * The people a planner given an area puts on its grids are its area's: a worker who serves grids (as the full-time
 * worker or on the staff) only outside the area is refused — else a township's planner could staff its grid with a
 * worker of another county and so widen what that worker's account reaches. A worker who serves no grid yet is anyone's.
 */
export async function assertWorkersInScope(c: Context<Env>, workers: { id: number; path: string }[]): Promise<void> {
  const area = areaOf(principalOf(c));
  if (area === null || workers.length === 0) return;
  const { rows } = await c.get('db').query<{ id: number }>(
    // (by the live plan, also for an edit in a draft, whose tables hold only its own region)
    `WITH RECURSIVE area AS (SELECT id FROM public.region WHERE id = $2 UNION ALL SELECT r.id FROM public.region r JOIN area a ON r.parent_id = a.id),
     served AS (
       SELECT worker_id, id AS grid_id FROM public.region WHERE worker_id = ANY($1::int[])
       UNION SELECT worker_id, grid_id FROM public.grid_staff WHERE worker_id = ANY($1::int[]))
     SELECT s.worker_id AS id FROM served s
     GROUP BY s.worker_id
     HAVING NOT bool_or(s.grid_id IN (SELECT id FROM area))`,
    [workers.map((w) => w.id), area],
  );
  const elsewhere = new Set(rows.map((r) => r.id));
  const first = workers.find((w) => elsewhere.has(w.id));
  if (first) throw new InputError('outside_scope', `worker ${first.id} serves only grids outside your assigned area`, first.path);
}

/**
 * An undo or redo (operation `op`, just applied in `tx`) by someone given an area changes only regions
 * strictly below it, as their own edits may: an account moved to another township cannot take back
 * or redo its edits in the old one. Checked by the parents of what it touched (before and after),
 * leaving out those it touched itself (a village removed with its grids).
 */
export async function assertOperationInScope(c: Context<Env>, tx: Queryable, op: number): Promise<void> {
  const area = areaOf(principalOf(c));
  if (area === null) return;
  const { rows } = await tx.query<{ id: number; before: number | null; after: number | null; had: boolean; has: boolean }>(
    `SELECT entity_id AS id, (before->>'parentId')::int AS before, (after->>'parentId')::int AS after,
            before IS NOT NULL AS had, after IS NOT NULL AS has
     FROM change WHERE op = $1 AND entity = 'region'`,
    [op],
  );
  const touched = new Set(rows.map((r) => r.id));
  const parents = new Set<number | null>();
  for (const r of rows) {
    if (r.had) parents.add(r.before);
    if (r.has) parents.add(r.after);
  }
  for (const parent of parents) {
    if (parent !== null && touched.has(parent)) continue;
    if (parent === null || !(await isWithin(tx, parent, area, false))) {
      throw outside(`operation ${op}`, 'op');
    }
  }
  // Imports of households, incidents and roads touch no region: where they lie says whose they are — the households and
  // cases the import brought (in place or waiting for a redo), those whose size it set, the lines it drew.
  const {
    rows: [far],
  } = await tx.query<{ n: number }>(
    `WITH c AS (SELECT entity, coalesce(after, before) AS s FROM change WHERE op = $1 AND entity IN ('household', 'incident', 'barrier')),
     b AS (SELECT entity, (s->>'batch')::int AS batch FROM c),
     pts AS (
       SELECT h.geom FROM household h JOIN b ON b.entity = 'household' AND h.import_op = b.batch
       UNION ALL SELECT u.geom FROM household_undone u JOIN b ON b.entity = 'household' AND u.op = b.batch
       UNION ALL SELECT h.geom FROM c, jsonb_array_elements(CASE WHEN jsonb_typeof(c.s->'sizes') = 'array' THEN c.s->'sizes' ELSE '[]' END) z
                 JOIN household h ON h.id = (z->>0)::int WHERE c.entity = 'household'
       -- (households a removal took out, or its undo gave back)
       UNION ALL SELECT h.geom FROM c, jsonb_array_elements_text(CASE WHEN jsonb_typeof(c.s->'removed') = 'array' THEN c.s->'removed' ELSE '[]' END) z
                 JOIN household h ON h.id = z::int WHERE c.entity = 'household'
       UNION ALL SELECT i.geom FROM incident i JOIN b ON b.entity = 'incident' AND i.import_op = b.batch
       UNION ALL SELECT u.geom FROM incident_undone u JOIN b ON b.entity = 'incident' AND u.op = b.batch)
     SELECT ((SELECT count(*) FROM pts, region a WHERE a.id = $2 AND NOT ST_Covers(a.geom, pts.geom))
           + (SELECT count(*) FROM barrier l JOIN b ON b.entity = 'barrier' AND l.import_op = b.batch, region a
              WHERE a.id = $2 AND NOT ST_Relate(a.geom, l.geom, 'T********')))::int AS n`,
    [op, area],
  );
  if (far!.n > 0) throw outside(`operation ${op}`, 'op');
}

/** A planner without an assigned region (or an admin): needed for district-wide writes. */
export function assertUnscoped(c: Context<Env>, what: string): void {
  const p = principalOf(c);
  if (p.role !== 'admin' && p.regionId !== null) throw outside(what, '');
}

/**
 * Whoever is scoped to an area (a township's command centre, a township's wall display, an analyst,
 * leader or planner given a region; not an admin) reads and acts only there: the region a read asks
 * for (its own area when it names none), refused outside it. Anyone else: the region as asked.
 */
export async function areaRegion(c: Context<Env>, region: number | undefined, path: string, db: Queryable = c.get('db')): Promise<number | undefined> {
  const area = areaOf(principalOf(c));
  if (area === null) return region;
  if (region === undefined) return area;
  if (!(await isWithin(db, region, area, false))) throw outside(`region ${region}`, path);
  return region;
}

/** Whoever is scoped to an area sees and handles only the cases within it (a case without a grid lies in none). */
export async function assertInArea(c: Context<Env>, db: Queryable, grid: number | null, id: number, path = 'id'): Promise<void> {
  const area = areaOf(principalOf(c));
  if (area === null) return;
  if (grid === null || !(await isWithin(db, grid, area, false))) throw outside(`incident ${id}`, path);
}

/** A grid worker acts only in the grids they staff. */
export function assertOwnGrid(c: Context<Env>, gridId: number | null, path = 'id'): void {
  const p = principalOf(c);
  if (p.role !== 'worker') return;
  if (gridId === null || !p.gridIds.includes(gridId)) throw outside(gridId === null ? 'this place' : `grid ${gridId}`, path);
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const crossSite = () => new InputError('cross_site_request', 'a page on another site may not change anything here', 'origin');

/**
 * A state-changing request from another site is refused, whatever its content type or lack of one:
 * the browser says where it came from in `Sec-Fetch-Site` (refused unless `same-origin` or `none`)
 * and `Origin` (its host must be this one, and its scheme HTTPS when this one is). Clients that are not
 * browsers send neither.
 */
export function sameOrigin(): MiddlewareHandler<Env> {
  return async (c, next) => {
    if (!STATE_CHANGING.has(c.req.method)) return next();
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw crossSite();
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      const host = c.req.header('x-forwarded-host') ?? c.req.header('host') ?? new URL(c.req.url).host;
      let from: URL | null = null;
      try {
        from = new URL(origin);
      } catch {
        // "null" (a sandboxed frame, a file) or garbage: not this site
      }
      if (from?.host !== host) throw crossSite();
      // A page served over plain HTTP (where anyone on the way may have written it) may not change a site
      // reached over HTTPS. The other way round is let through: a proxy that ends TLS without saying so
      // in X-Forwarded-Proto makes every request here look like HTTP.
      const secure = (c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() ?? new URL(c.req.url).protocol.replace(':', '')) === 'https';
      if (secure && from.protocol !== 'https:') throw crossSite();
    }
    await next();
  };
}
