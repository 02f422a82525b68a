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
 * windows (the default time range, "today") moving: the first request after that refreshes the
 * answer while the others are still served the expired one. Requests for an answer being
 * computed wait for it rather than ask the database the same question again.
 */
/**
 * What an answer reads. `plan`: any region or household data; `layout`: where borders,
 * households and workers are (not names); `plan*`: bulk plan changes (auto-split, undo, imports);
 * `incidents`; `r<id>`: one region — its own details, children and coverage.
 */
type Domain = string;

const regionReads = (id: string | undefined) => [`r${id}`, 'plan*'];

/**
 * Whether an answer changes as time passes, not only when data does: a window that runs to "now"
 * (no `to`, or one still ahead) or figures that count what is overdue or happened today.
 */
const ranToNow = (q: URLSearchParams) => {
  const to = q.get('to');
  return to === null || !(Date.parse(to) < Date.now());
};
const always = () => true;
const never = () => false;

/** The read routes served from the cache: what each reads, and whether the clock is one of those things. */
const READS: Record<string, { reads: (query: URLSearchParams, id: string | undefined) => Domain[]; clock: (query: URLSearchParams) => boolean }> = {
  'GET /api/regions': { reads: () => ['plan'], clock: never },
  'GET /api/regions/:id': { reads: (_, id) => regionReads(id), clock: never },
  'GET /api/regions/:id/children': { reads: (_, id) => regionReads(id), clock: never },
  'GET /api/regions/:id/descendants': { reads: (_, id) => regionReads(id), clock: never },
  'GET /api/regions/:id/coverage': { reads: (_, id) => regionReads(id), clock: never },
  'GET /api/grid-types': { reads: () => ['plan'], clock: never },
  'GET /api/workers': { reads: () => ['plan'], clock: never },
  // Incidents are filed under grids, so a region filter also reads the layout.
  'GET /api/heatmap': { reads: (q) => (q.has('region') ? ['incidents', 'layout'] : ['incidents']), clock: ranToNow },
  'GET /api/incidents/timeseries': { reads: (q) => (q.has('region') ? ['incidents', 'layout'] : ['incidents']), clock: ranToNow },
  'GET /api/regions/:id/incident-stats': { reads: () => ['incidents', 'plan'], clock: always },
  'GET /api/hotspots': { reads: () => ['incidents', 'plan'], clock: ranToNow },
  'GET /api/stats/overview': { reads: () => ['incidents', 'layout'], clock: always },
  'GET /api/incident-categories': { reads: () => ['incidents'], clock: never },
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
  /** Until when it is served as it is; after that, one request refreshes it while the rest still get it. */
  freshUntil: number;
  body: string;
  bytes: number;
  /** Compressed once, served to every client that takes gzip. */
  gzip: Uint8Array | null;
  type: string;
}

export class ReadCache {
  private readonly versions = new Map<Domain, number>();
  private readonly lru: LRUCache<string, Entry>;
  /** Answers being computed: concurrent requests for one of them wait for it instead of asking the database again. */
  private readonly computing = new Map<string, Promise<Entry | null>>();
  private readonly ttlMs: number;
  private readonly soleWriter: boolean;
  hits = 0;
  misses = 0;

  /**
   * `ttlMs`: how long an answer is served as it is when nothing it read has changed; `staleMs`:
   * how long an older one may still be served while a single request refreshes it. `soleWriter`:
   * no other process writes to the database (the embedded one, which its folder lock guarantees),
   * so only answers that depend on the clock expire.
   */
  constructor(options: { maxBytes?: number; ttlMs?: number; staleMs?: number; soleWriter?: boolean } = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.soleWriter = options.soleWriter ?? false;
    // Unused answers still leave after `staleMs`.
    this.lru = new LRUCache<string, Entry>({ maxSize: options.maxBytes ?? 64 * 1024 * 1024, sizeCalculation: (e) => e.body.length + (e.gzip?.length ?? 0) + 64, ttl: Math.max(this.ttlMs, options.staleMs ?? 10 * 60_000), updateAgeOnGet: true });
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
    if (/^(POST|PATCH) \/api\/(incidents|dispatches|intake)/.test(key)) return ['incidents'];
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

  private serve(c: Context<Env>, entry: Entry, how: 'hit' | 'stale' | 'shared'): Response {
    this.hits++;
    c.header('x-cache', how);
    if (entry.gzip && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
      return c.body(entry.gzip as Uint8Array<ArrayBuffer>, 200, { 'content-type': entry.type, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
    }
    // With its length given, the compress middleware leaves a small answer alone (a stream compressor per request costs more than it saves).
    return c.body(entry.body, 200, { 'content-type': entry.type, 'content-length': String(entry.bytes) });
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
      const route = READS[key];
      if (!route) return next();
      const url = new URL(c.req.url);
      const versions = route.reads(url.searchParams, /^\/api\/regions\/([^/]+)/.exec(url.pathname)?.[1]).map((d) => `${d}${this.versions.get(d) ?? 0}`).join(',');
      const cacheKey = `${url.pathname}?${[...url.searchParams].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join('&')}|${versions}`;
      const entry = this.lru.get(cacheKey);
      if (entry && Date.now() < entry.freshUntil) return this.serve(c, entry, 'hit');
      const computing = this.computing.get(cacheKey);
      if (computing) {
        // Someone is already asking the database: an expired answer is served meanwhile (a
        // retired one never is: its key changed), else the computed one is shared.
        if (entry) return this.serve(c, entry, 'stale');
        const shared = await computing;
        if (shared) return this.serve(c, shared, 'shared');
      }
      this.misses++;
      c.header('x-cache', entry ? 'refresh' : 'miss');
      let done!: (e: Entry | null) => void;
      this.computing.set(cacheKey, new Promise((resolve) => (done = resolve)));
      let computed: Entry | null = null;
      try {
        await next();
        if (c.res.status === 200) {
          const type = c.res.headers.get('content-type') ?? 'application/json';
          const body = await c.res.clone().text();
          // Only a database other processes write to, or the clock, can change an answer behind our back.
          const expires = this.soleWriter && !route.clock(url.searchParams) ? Infinity : this.ttlMs;
          const bytes = Buffer.byteLength(body);
          computed = { freshUntil: Date.now() + expires, body, bytes, type, gzip: bytes >= 1024 ? gzipSync(body, { level: 6 }) : null };
          this.lru.set(cacheKey, computed);
        }
      } finally {
        this.computing.delete(cacheKey);
        done(computed);
      }
    };
  }
}
