import type { ReadCache } from './cache.ts';
import type { TileCache } from './tile-cache.ts';
import type { EventBus, LiveStreams, StreamLimits } from './events.ts';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Db } from '../db/db.ts';
import type { DraftRow } from '../db/drafts.ts';
import type { Basemap } from '../files/basemap.ts';
import type { Principal } from '../domain/roles.ts';
import { fromZod } from './errors.ts';

export interface AppOptions {
  db: Db;
  basemapUrl?: string | undefined;
  /** An offline PMTiles basemap (opened at start-up), served at /api/basemap.pmtiles. */
  basemap?: Basemap | undefined;
  /** A Tianditu key: its vector map and labels under our layers. */
  tiandituToken?: string | undefined;
  /** Largest JSON body accepted, in bytes (household files have their own, larger limit). */
  maxJsonBytes?: number;
  maxUploadBytes?: number;
  /** Live events (new and changed incidents); one per app when not given. */
  events?: EventBus;
  /** Cache of read answers (one per app when not given); `false` turns it off. */
  cache?: ReadCache | false;
  /** Vector tiles kept until an edit touches them (one per app when not given); `false` turns it off. */
  tiles?: TileCache | false;
  /**
   * Most vertices one geometry may have: drawn or edited (`drawnVertices`), one feature of an import
   * (`importVertices`); most rows of one imported layer (`importRows`); most grids one auto-split
   * proposes (`splitGrids`).
   */
  limits?: { drawnVertices?: number; importVertices?: number; importRows?: number; splitGrids?: number };
  /** Where backups go and how many the server keeps (absent: no backups through the API). */
  backups?: { dir: string; keep: number };
  /**
   * A secret the server shares with `npm run backup` on the same machine (written into the data
   * folder, readable by its owner only): it lets that command ask the running server for a backup.
   */
  controlToken?: string;
  /** Caps on live event streams (per session, in all). */
  streamLimits?: StreamLimits;
  /** Where uploaded files wait to be imported (default: a folder in the system's temporary folder). */
  importDir?: string;
  /** The clock of deadlines and escalation (tests run a fake one). */
  clock?: () => Date;
  /**
   * Webhooks may call this machine itself (loopback): off by default, so a hook cannot reach the
   * server's own database or admin ports; on for a gateway on the same machine, and in tests.
   */
  webhookLoopback?: boolean;
}

export type Env = {
  Variables: {
    db: Db;
    options: AppOptions;
    events: EventBus;
    principal: Principal | null;
    apiClient: string | null;
    /** The region a hotline key places its orders in (null: the whole plan). */
    apiRegion: number | null;
    cache: ReadCache;
    tiles: TileCache | null;
    streams: LiveStreams;
    draft: DraftRow | null;
  };
};

/** The app's clock: the real one, or the one a test gives. */
export const nowOf = (c: { get(key: 'options'): AppOptions }): Date => c.get('options').clock?.() ?? new Date();

/** A router whose validation failures all take the `{error:{code,message,path}}` shape. */
export function router() {
  return new OpenAPIHono<Env>({
    defaultHook: (result) => {
      if (!result.success) throw fromZod(result.error, result.target);
    },
  });
}
