import { gzipSync } from 'node:zlib';
import { LRUCache } from 'lru-cache';
import type { Queryable } from '../db/db.ts';
import { GRID_NAMES_ZOOM, tileBounds } from '../db/tiles.ts';

type Box = [number, number, number, number];

interface Entry {
  bytes: Uint8Array;
  gzip: Uint8Array | null;
  box: Box;
  /** Served as it is until then (PostgreSQL: another process may have written; see `sync`). */
  freshUntil: number;
}

interface Retirement {
  gen: number;
  /** the tile layer it changed */
  what: string;
  box: Box | null;
}

const crosses = (a: Box, b: Box) => a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
/** Whether a change of `what` (a tile layer, or 'grid-names': only names of grids) shows in a tile of `layer` at zoom `z`. */
const touches = (what: string, layer: string, z: number) => what === layer || (what === 'grid-names' && layer === 'grid' && z >= GRID_NAMES_ZOOM);

/** How many retirements are remembered for tiles being computed meanwhile; one older than these cannot be stored. */
const LOG = 2000;

/**
 * Vector tiles, kept until an edit touches them. The database leaves the box of every change in
 * `tile_dirty` (migration 029); after each write — and, at most every `pollMs`, before serving a
 * tile, for changes made by the server's own timers or by other processes — the cache reads the
 * new boxes and drops exactly the tiles they cross. A tile computed while a change was committed
 * is served but not kept, so a retired tile never comes back.
 */
export class TileCache {
  private readonly lru: LRUCache<string, Entry>;
  /** dirty rows already applied: rows may commit out of order, so a window below the newest is read again */
  private readonly seen = new Set<number>();
  private last = -1;
  /** the newest change when this cache began: everything up to it is in every tile it will compute */
  private floor = 0;
  private gen = 0;
  private readonly log: Retirement[] = [];
  private syncing: Promise<void> | null = null;
  private lastSync = 0;
  private syncs = 0;

  constructor(private readonly options: { maxBytes?: number; ttlMs?: number; pollMs?: number; now?: () => number } = {}) {
    this.lru = new LRUCache<string, Entry>({
      maxSize: options.maxBytes ?? 64 * 1024 * 1024,
      sizeCalculation: (e) => e.bytes.length + (e.gzip?.length ?? 0) + 96,
    });
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** The current generation: pass it back to `put` with the tile computed after it. */
  generation(): number {
    return this.gen;
  }

  get(key: string): Entry | null {
    const e = this.lru.get(key);
    return e && this.now() < e.freshUntil ? e : null;
  }

  /** Keeps a tile computed since generation `since`, unless a change since then crossed it. */
  put(key: string, layer: string, z: number, x: number, y: number, bytes: Uint8Array, since: number): Entry {
    const box = tileBounds(z, x, y);
    const entry: Entry = {
      bytes,
      gzip: bytes.length > 512 ? gzipSync(bytes, { level: 1 }) : null,
      box,
      freshUntil: this.now() + (this.options.ttlMs ?? Infinity),
    };
    const oldest = this.log[0]?.gen ?? this.gen + 1;
    const missed =
      since < this.gen && (since + 1 < oldest || this.log.some((r) => r.gen > since && touches(r.what, layer, z) && (r.box === null || crosses(r.box, box))));
    if (!missed) this.lru.set(key, entry);
    return entry;
  }

  private retire(what: Retirement['what'], box: Box | null): void {
    this.gen++;
    this.log.push({ gen: this.gen, what, box });
    if (this.log.length > LOG) this.log.shift();
    for (const [key, e] of this.lru.entries()) {
      const [layer, z] = key.split('/');
      if (touches(what, layer!, Number(z)) && (box === null || crosses(box, e.box))) this.lru.delete(key);
    }
  }

  /** Applies the changes committed since the last call (coalesced: callers meanwhile share one read). */
  sync(db: Queryable, force = true): Promise<void> {
    if (!force && this.now() - this.lastSync < (this.options.pollMs ?? 2000)) return Promise.resolve();
    this.syncing ??= this.read(db).finally(() => (this.syncing = null));
    return this.syncing;
  }

  private async read(db: Queryable): Promise<void> {
    this.lastSync = this.now();
    if (this.last < 0) {
      // nothing is cached yet: start from the newest change
      const { rows } = await db.query<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM tile_dirty');
      this.last = this.floor = Number(rows[0]?.seq ?? 0);
      return;
    }
    const { rows } = await db.query<{ seq: string; what: Retirement['what']; b: Box | null }>(
      `SELECT seq::text, what, CASE WHEN box IS NULL THEN NULL ELSE json_build_array(ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box)) END AS b
       FROM tile_dirty WHERE seq > $1 ORDER BY seq`,
      [Math.max(this.floor, this.last - 500)],
    );
    for (const r of rows) {
      const seq = Number(r.seq);
      if (this.seen.has(seq)) continue;
      this.seen.add(seq);
      this.last = Math.max(this.last, seq);
      this.retire(r.what, r.b);
    }
    for (const s of this.seen) if (s <= this.last - 500) this.seen.delete(s);
    // Old boxes are no use to anyone: every process has read them (or lets its tiles expire).
    if (++this.syncs % 200 === 0) await db.query(`DELETE FROM tile_dirty WHERE at < now() - interval '1 day'`);
  }
}
