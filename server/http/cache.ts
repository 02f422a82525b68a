import type { Context, MiddlewareHandler } from 'hono';
import { gzipSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { routeKey } from './auth.ts';
import type { Env } from './router.ts';

/**
 * Answers of the read endpoints, kept until the data they read changes. Wall displays and
 * analysts ask the same questions over and over (the district's heatmap, a township's figures);
 * the database answers each once per change. Each answer depends on the plan (regions,
 * households), on the incidents, or on both; a write bumps the version of what it changed,
 * which retires every answer that read it. Answers also expire after `ttlMs`, which bounds how
 * stale they can be when another process writes to the same PostgreSQL, and keeps "now"-relative
 * windows (the default time range, "today") moving.
 */
/**
 * What an answer reads. `plan`: any region or household data; `layout`: where borders,
 * households and workers are (not names); `plan*`: bulk plan changes (auto-split, undo, imports);
 * `incidents`; `r<id>`: one region — its own details, children and coverage.
 */
type Domain = string;

const regionReads = (id: string | undefined) => [`r${id}`, 'plan*'];

/** The read routes served from the cache, and what each reads. */
const READS: Record<string, (query: URLSearchParams, id: string | undefined) => Domain[]> = {
  'GET /api/regions': () => ['plan'],
  'GET /api/regions/:id': (_, id) => regionReads(id),
  'GET /api/regions/:id/children': (_, id) => regionReads(id),
  'GET /api/regions/:id/descendants': (_, id) => regionReads(id),
  'GET /api/regions/:id/coverage': (_, id) => regionReads(id),
  'GET /api/grid-types': () => ['plan'],
  'GET /api/workers': () => ['plan'],
  // Incidents are filed under grids, so a region filter also reads the layout.
  'GET /api/heatmap': (q) => (q.has('region') ? ['incidents', 'layout'] : ['incidents']),
  'GET /api/incidents/timeseries': (q) => (q.has('region') ? ['incidents', 'layout'] : ['incidents']),
  'GET /api/regions/:id/incident-stats': () => ['incidents', 'plan'],
  'GET /api/hotspots': () => ['incidents', 'plan'],
  'GET /api/stats/overview': () => ['incidents', 'layout'],
  'GET /api/incident-categories': () => ['incidents'],
};

/** Region edits answer with the regions they changed; bulk plan writes do not. */
const REGION_EDITS = /^(POST \/api\/regions|PATCH \/api\/regions\/:id|DELETE \/api\/regions\/:id|POST \/api\/regions\/:id\/split|POST \/api\/regions\/merge)$/;
const RENAMES = new Set(['version', 'name', 'notes']);

/** The request's JSON body when it is an object (anything else: an empty one). */
async function jsonObject(c: Context): Promise<Record<string, unknown>> {
  const body: unknown = await c.req.json().catch(() => null);
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

interface Entry {
  body: string;
  /** Compressed once, served to every client that takes gzip. */
  gzip: Uint8Array | null;
  type: string;
}

export class ReadCache {
  private readonly versions = new Map<Domain, number>();
  private readonly lru: LRUCache<string, Entry>;
  hits = 0;
  misses = 0;

  constructor(options: { maxBytes?: number; ttlMs?: number } = {}) {
    this.lru = new LRUCache<string, Entry>({ maxSize: options.maxBytes ?? 64 * 1024 * 1024, sizeCalculation: (e) => e.body.length + (e.gzip?.length ?? 0) + 64, ttl: options.ttlMs ?? 30_000 });
  }

  bump(domains: Domain[]): void {
    for (const d of domains) this.versions.set(d, (this.versions.get(d) ?? 0) + 1);
  }

  /**
   * What a successful write changed. A region edit retires the regions it answered with, those
   * it removed, and their ancestors (whose counts and children changed); a rename only the region
   * and its parent, and leaves the layout alone. Other plan writes retire every region answer.
   */
  private async written(c: Context<Env>, key: string, named: { id: number; depth: number }[]): Promise<Domain[]> {
    if (/^(POST|PATCH) \/api\/incidents/.test(key)) return ['incidents'];
    if (/\/api\/(users|screen-tokens|auth)/.test(key)) return [];
    if (!REGION_EDITS.test(key)) return ['plan', 'layout', 'plan*'];
    const body = (await c.res.clone().json().catch(() => null)) as { regions?: { features?: { id: number; properties: { parentId: number | null } }[] } } | null;
    const answered = (body?.regions?.features ?? []).flatMap((f) => [f.id, f.properties.parentId ?? f.id]);
    const sent = key.startsWith('PATCH') ? await jsonObject(c) : {};
    // A rename shows only in the region and its parent's list of children.
    const rename = key.startsWith('PATCH') && Object.keys(sent).every((k) => RENAMES.has(k));
    const ids = [...answered, ...named.filter((n) => !rename || n.depth <= 1).map((n) => n.id)];
    return ['plan', ...(rename ? [] : ['layout']), ...new Set(ids.map((id) => `r${id}`))];
  }

  /** The regions a region edit names (its id, merged ids, a new region's parent) and their ancestors, with their depth above. */
  private async named(c: Context<Env>): Promise<{ id: number; depth: number }[]> {
    const sent = await jsonObject(c);
    const fromPath = /^\/api\/regions\/(\d+)/.exec(new URL(c.req.url).pathname)?.[1];
    const ids = [fromPath, ...(Array.isArray(sent.ids) ? sent.ids : []), sent.parentId].map(Number).filter((n) => Number.isInteger(n) && n > 0 && n < 2 ** 31);
    if (ids.length === 0) return [];
    const { rows } = await c.get('db').query<{ id: number; depth: number }>(
      `WITH RECURSIVE up AS (SELECT id, parent_id, 0 AS depth FROM region WHERE id = ANY($1::int[])
         UNION SELECT r.id, r.parent_id, up.depth + 1 FROM region r JOIN up ON r.id = up.parent_id) SELECT id, min(depth)::int AS depth FROM up GROUP BY id`,
      [ids.slice(0, 200)],
    );
    return rows;
  }

  middleware(): MiddlewareHandler<Env> {
    return async (c, next) => {
      const key = routeKey(c);
      if (key === null) return next();
      if (c.req.method !== 'GET') {
        // The regions a region edit names, with their ancestors, read before the write (a deleted or merged region is gone after it).
        const named = REGION_EDITS.test(key) ? await this.named(c) : [];
        await next();
        if (c.res.status < 400) this.bump(await this.written(c, key, named));
        return;
      }
      const reads = READS[key];
      if (!reads) return next();
      const url = new URL(c.req.url);
      const versions = reads(url.searchParams, /^\/api\/regions\/([^/]+)/.exec(url.pathname)?.[1]).map((d) => `${d}${this.versions.get(d) ?? 0}`).join(',');
      const cacheKey = `${url.pathname}?${[...url.searchParams].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join('&')}|${versions}`;
      const hit = this.lru.get(cacheKey);
      c.header('x-cache', hit ? 'hit' : 'miss');
      if (hit) {
        this.hits++;
        if (hit.gzip && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
          return c.body(hit.gzip as Uint8Array<ArrayBuffer>, 200, { 'content-type': hit.type, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
        }
        return c.body(hit.body, 200, { 'content-type': hit.type });
      }
      this.misses++;
      await next();
      if (c.res.status === 200) {
        const type = c.res.headers.get('content-type') ?? 'application/json';
        const body = await c.res.clone().text();
        this.lru.set(cacheKey, { body, type, gzip: body.length > 1024 ? gzipSync(body, { level: 6 }) : null });
      }
    };
  }
}
