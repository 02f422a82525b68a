import type { Context, MiddlewareHandler } from 'hono';
import { gzipSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import { ancestorsWithDepth } from '../db/region-queries.ts';
import { routeKey } from './auth.ts';
import { asksForDraft } from './draft.ts';
import { turns } from './heavy.ts';
import type { Env } from './router.ts';
import type { Principal } from '../domain/roles.ts';

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
 * households and workers are (not names); `names`: a rename anywhere; `plan*`: bulk plan changes (auto-split, undo, imports);
 * `incidents`; `r<id>`: one region — its own details, children and coverage.
 */
type Domain = string;

/** The answers about one region: its own details, children and coverage. */
export const regionReads = ({ id }: { id: number | undefined }) => [`r${id}`, 'plan*'];
export const always = () => true;
export const never = () => false;

/** What a read answer depends on: the data it reads, and whether the clock is one of those things. */
export interface ReadSpec<Q = Record<string, unknown>> {
  reads: (args: { id: number | undefined; query: Q }) => Domain[];
  clock: (query: Q, now: number) => boolean;
  /** Answers that differ by who asks (e.g. with or without household locations): a key part per kind of caller. */
  vary?: (c: Context<Env>) => string;
  /** Computed in milliseconds and asked many at a time (vector tiles): computed as asked, not in the asker's turn (heavy.ts). */
  light?: boolean;
}

/**
 * A read route's answer, from the cache when it can be (`compute` makes it otherwise). The key is built from the
 * route and its validated parameters and query (so `/regions/0500` and `/regions/500` are one
 * answer, and parameters the route does not take make no new ones), and the versions of what the
 * answer reads.
 */
export async function cached<R>(c: Context<Env, any, any>, spec: ReadSpec<any>, compute: () => Promise<R>): Promise<R> {
  const cache = c.get('cache');
  // (only the computation waits its turn: kept and shared answers are served at once)
  const work = spec.light ? compute : () => turns(c, compute);
  return cache ? ((await cache.answer(c, spec, work as () => Promise<unknown> as () => Promise<Response>)) as R) : work();
}

/** Whether a window that runs to "now" (no `to`, or one still ahead) moves with the clock. */
export const ranToNow = (q: { to?: string | undefined }, now: number) => q.to === undefined || !(Date.parse(q.to) < now);

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
  body: string | Uint8Array;
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
  /** The app's clock, in ms: expiry and "now"-relative windows follow it (tests turn it). */
  readonly now: () => number;

  /**
   * `ttlMs`: how long an answer is served as it is when nothing it read has changed; `staleMs`:
   * how long an older one may still be served while a single request refreshes it. `soleWriter`:
   * no other process writes to the database (the embedded one, which its folder lock guarantees),
   * so only answers that depend on the clock expire.
   */
  constructor(options: { maxBytes?: number; ttlMs?: number; staleMs?: number; soleWriter?: boolean; now?: () => number } = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.soleWriter = options.soleWriter ?? false;
    this.now = options.now ?? Date.now;
    // Unused answers still leave after `staleMs`.
    this.lru = new LRUCache<string, Entry>({
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (e) => e.body.length + (e.gzip?.length ?? 0) + 64,
      ttl: Math.max(this.ttlMs, options.staleMs ?? 10 * 60_000),
      updateAgeOnGet: true,
      perf: { now: this.now },
    });
  }

  private readonly bumpListeners: ((domains: Domain[]) => void)[] = [];

  /** Retires every answer that read `domains`; `remote`: another process wrote them (it is not told again). */
  bump(domains: Domain[], remote = false): void {
    for (const d of domains) this.versions.set(d, (this.versions.get(d) ?? 0) + 1);
    if (!remote && domains.length > 0) for (const l of this.bumpListeners) l(domains);
    if (domains.length > 0) for (const l of this.changeListeners) l(domains);
  }

  private readonly changeListeners: ((domains: Domain[]) => void)[] = [];

  /** Hears every retirement, this process's writes and other processes' alike (a scheduled publish too). */
  onChange(listener: (domains: Domain[]) => void): void {
    this.changeListeners.push(listener);
  }

  /** Hears what this process's writes retired (to tell other processes: see peers.ts). */
  onBump(listener: (domains: Domain[]) => void): void {
    this.bumpListeners.push(listener);
  }

  /**
   * What a successful write changed. A region edit retires the regions it answered with, those
   * it removed, and their ancestors (whose counts and children changed); a rename only the region
   * and its parent, and leaves the layout alone. Other plan writes retire every region answer.
   */
  private async written(c: Context<Env>, key: string, named: { id: number; depth: number }[]): Promise<Domain[]> {
    // escalation moves dispatches up a level: no kept answer reads that
    if (key === 'POST /api/dispatches/escalate') return [];
    if (/^(POST|PATCH) \/api\/(incidents|dispatches|intake)/.test(key)) return ['incidents'];
    if (/\/api\/(users|screen-tokens|auth)/.test(key)) return [];
    // a household's head and phone are in no kept answer; its size is in the counts
    if (key === 'PATCH /api/households/:id') return 'size' in (await jsonObject(c)) ? ['plan', 'layout', 'plan*'] : [];
    // departments and categories name what incident answers show; a rules undo changes what passes
    if (/\/api\/settings\//.test(key)) return ['plan', 'plan*', 'incidents'];
    // An upload, a dry run or a dropped file changes nothing; a commit may change anything.
    if (/\/api\/imports/.test(key)) return key.endsWith('/commit') ? ['plan', 'layout', 'plan*', 'incidents'] : [];
    // undo and redo may take back an incident import, and re-file incidents under the grids they restore
    if (/\/api\/changes\/(undo|redo)$/.test(key)) return ['plan', 'layout', 'plan*', 'incidents'];
    if (!REGION_EDITS.test(key)) return ['plan', 'layout', 'plan*'];
    const body = (await c.res
      .clone()
      .json()
      .catch(() => null)) as { regions?: { features?: { id: number; properties: { parentId: number | null } }[] } } | null;
    const answered = (body?.regions?.features ?? []).flatMap((f) => [f.id, f.properties.parentId ?? f.id]);
    const sent = key.startsWith('PATCH') ? await jsonObject(c) : {};
    // A rename shows only in the region and its parent's list of children.
    const rename = key.startsWith('PATCH') && Object.keys(sent).every((k) => RENAMES.has(k));
    const ids = [...answered, ...named.filter((n) => !rename || n.depth <= 1).map((n) => n.id)];
    // (`names`: answers that name grids of regions far below, as a township's coverage report does)
    return ['plan', ...(rename ? ['names'] : ['layout']), ...new Set(ids.map((id) => `r${id}`))];
  }

  /** The regions a region edit names (its id, merged ids, a new region's parent) and their ancestors, with their depth above. */
  private async named(c: Context<Env>): Promise<{ id: number; depth: number }[]> {
    const sent = await jsonObject(c);
    // The middleware runs before the route's own parameters are parsed: the id as written, read as a number.
    const fromPath = /^\/api\/regions\/(\d+)/.exec(c.req.path)?.[1];
    const ids = [fromPath, ...(Array.isArray(sent.ids) ? sent.ids : []), sent.parentId].map(Number).filter((n) => Number.isInteger(n) && n > 0 && n < 2 ** 31);
    return ids.length === 0 ? [] : ancestorsWithDepth(c.get('db'), ids.slice(0, 200));
  }

  private serve(c: Context<Env>, entry: Entry, how: 'hit' | 'stale' | 'shared'): Response {
    c.header('x-cache', how);
    if (entry.gzip && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
      return c.body(entry.gzip as Uint8Array<ArrayBuffer>, 200, { 'content-type': entry.type, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
    }
    // With its length given, the compress middleware leaves a small answer alone (a stream compressor per request costs more than it saves).
    return c.body(entry.body as string | Uint8Array<ArrayBuffer>, 200, { 'content-type': entry.type, 'content-length': String(entry.bytes) });
  }

  /**
   * Writes retire what they changed, once they have succeeded (an authorised, committed write:
   * refusals answer 4xx). A streamed write (NDJSON progress) commits when its stream ends, so what
   * it changed is retired then. Reads, HEAD and OPTIONS retire nothing.
   */
  middleware(): MiddlewareHandler<Env> {
    return async (c, next) => {
      // a draft changes without the live plan: its answers are never kept, its writes retire nothing
      if (asksForDraft(c.req.url)) return next();
      c.set('cache', this);
      const key = WRITES.has(c.req.method) ? routeKey(c) : null;
      if (key === null) return next();
      // The regions a region edit names, with their ancestors, read before the write (a deleted or merged region is gone after it).
      const named = REGION_EDITS.test(key) ? await this.named(c) : [];
      await next();
      if (c.res.status >= 400) return;
      const domains = await this.written(c, key, named);
      const body = c.res.body;
      if (!(c.res.headers.get('content-type') ?? '').includes('ndjson') || !body) return this.bump(domains);
      // Retire again when the stream ends: answers computed while the write ran saw the old data.
      this.bump(domains);
      const done = new TransformStream<Uint8Array, Uint8Array>({ flush: () => this.bump(domains) });
      c.res = new Response(body.pipeThrough(done), c.res);
    };
  }

  /** A read answered from the cache, or computed once by `compute` and kept. */
  async answer(c: Context<Env>, spec: ReadSpec<any>, compute: () => Promise<Response>): Promise<Response> {
    const id = c.req.valid('param' as never) as { id?: number } | undefined;
    const query = (c.req.valid('query' as never) ?? {}) as Record<string, unknown>;
    const versions = spec
      .reads({ id: id?.id, query })
      .map((d) => `${d}${this.versions.get(d) ?? 0}`)
      .join(',');
    // Who asks is always part of the key: an answer filtered to a caller's scope (a township's centre, a
    // worker's grids, a department) is never served to another caller, nor a wider one to them.
    const p = c.get('principal') as Principal | undefined;
    const scope = p ? `${p.role}|${p.regionId ?? ''}|${p.departmentId ?? ''}|${p.role === 'worker' ? p.gridIds.join('.') : ''}` : '';
    const cacheKey = `${routeKey(c)}|${stableJson({ id, query, scope, vary: spec.vary?.(c) })}|${versions}`;
    const entry = this.lru.get(cacheKey);
    if (entry && this.now() < entry.freshUntil) return this.serve(c, entry, 'hit');
    const computing = this.computing.get(cacheKey);
    if (computing) {
      // Someone is already asking the database: an expired answer is served meanwhile (a
      // retired one never is: its key changed), else the computed one is shared.
      if (entry) return this.serve(c, entry, 'stale');
      const shared = await computing;
      if (shared) return this.serve(c, shared, 'shared');
    }
    c.header('x-cache', entry ? 'refresh' : 'miss');
    let done!: (e: Entry | null) => void;
    this.computing.set(cacheKey, new Promise((resolve) => (done = resolve)));
    let computed: Entry | null = null;
    try {
      const res = await compute();
      if (res.status === 200) {
        const type = res.headers.get('content-type') ?? 'application/json';
        // Text as text; anything else (vector tiles) as its bytes.
        const binary = !/json|text|ndjson/.test(type);
        const body = binary ? new Uint8Array(await res.clone().arrayBuffer()) : await res.clone().text();
        // Only a database other processes write to, or the clock, can change an answer behind our back.
        const expires = this.soleWriter && !spec.clock(query, this.now()) ? Infinity : this.ttlMs;
        const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
        computed = { freshUntil: this.now() + expires, body, bytes, type, gzip: bytes >= 1024 ? gzipSync(body, { level: 6 }) : null };
        this.lru.set(cacheKey, computed);
      }
      return res;
    } finally {
      this.computing.delete(cacheKey);
      done(computed);
    }
  }
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** JSON with keys sorted, so that one query is one key whatever order its parameters came in. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
