/** In the embedded database's folder while `npm start` runs: its port and the control token for `npm run backup`. */
export const CONTROL_FILE = 'gridplan.control';

/** Configuration from the environment, read once at start-up. */
export interface Config {
  port: number;
  databaseUrl: string | undefined;
  dataDir: string;
  /** Optional external basemap: an XYZ raster template or a MapLibre style URL. */
  basemapUrl: string | undefined;
  /** An offline basemap: a PMTiles archive (vector or raster) the server serves to its maps. */
  basemapPmtiles: string | undefined;
  /** A Tianditu key: its vector map and labels go under our layers. */
  tiandituToken: string | undefined;
  /** Server processes behind the one port (GRIDPLAN_WORKERS, PostgreSQL only; default 1). */
  workers: number;
  /** Seed the demo district into an empty database at start-up. */
  seedDemo: boolean;
  /** The first start's admin password (else one is generated and printed once). */
  adminPassword: string | undefined;
  /** The demo accounts' password (else generated and printed once). */
  demoPassword: string | undefined;
  /** Cache read answers until the data they read changes (GRIDPLAN_CACHE=0 turns it off). */
  cache: boolean;
  /** Run the embedded database in its own thread (GRIDPLAN_DB_THREAD=0 keeps it on the server's). */
  dbThread: boolean;
  /** Most vertices of a drawn or edited shape, and of one imported feature. */
  limits: { drawnVertices?: number; importVertices?: number; importRows?: number; splitGrids?: number };
  /** Longest one SQL statement may run on PostgreSQL, ms (0: no limit). */
  statementTimeoutMs: number;
  /** Where backups go, and how many daily ones the server keeps (0: none). */
  backupDir: string;
  backupKeep: number;
  /** Webhooks may call this machine (GRIDPLAN_WEBHOOK_LOOPBACK=1, for a gateway on the same server). */
  webhookLoopback: boolean;
}

const positive = (v: string | undefined) => (v && Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : undefined);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: Number(env.PORT ?? 8787),
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.GRIDPLAN_DATA_DIR || '.gridplan-data',
    basemapUrl: env.GRIDPLAN_BASEMAP_URL || undefined,
    basemapPmtiles: env.GRIDPLAN_BASEMAP_PMTILES || undefined,
    tiandituToken: env.GRIDPLAN_TIANDITU_TOKEN || undefined,
    seedDemo: env.GRIDPLAN_SEED_DEMO !== '0',
    workers: positive(env.GRIDPLAN_WORKERS) ?? 1,
    adminPassword: env.GRIDPLAN_ADMIN_PASSWORD || undefined,
    demoPassword: env.GRIDPLAN_DEMO_PASSWORD || undefined,
    cache: env.GRIDPLAN_CACHE !== '0',
    dbThread: env.GRIDPLAN_DB_THREAD !== '0',
    webhookLoopback: env.GRIDPLAN_WEBHOOK_LOOPBACK === '1',
    limits: {
      ...(positive(env.GRIDPLAN_MAX_DRAWN_VERTICES) ? { drawnVertices: positive(env.GRIDPLAN_MAX_DRAWN_VERTICES)! } : {}),
      ...(positive(env.GRIDPLAN_MAX_IMPORT_VERTICES) ? { importVertices: positive(env.GRIDPLAN_MAX_IMPORT_VERTICES)! } : {}),
      ...(positive(env.GRIDPLAN_MAX_IMPORT_ROWS) ? { importRows: positive(env.GRIDPLAN_MAX_IMPORT_ROWS)! } : {}),
      ...(positive(env.GRIDPLAN_MAX_SPLIT_GRIDS) ? { splitGrids: positive(env.GRIDPLAN_MAX_SPLIT_GRIDS)! } : {}),
    },
    statementTimeoutMs: env.GRIDPLAN_STATEMENT_TIMEOUT_MS === '0' ? 0 : (positive(env.GRIDPLAN_STATEMENT_TIMEOUT_MS) ?? 60_000),
    backupDir: env.GRIDPLAN_BACKUP_DIR || (env.DATABASE_URL ? 'backups' : `${env.GRIDPLAN_DATA_DIR || '.gridplan-data'}-backups`),
    backupKeep: env.GRIDPLAN_BACKUP_KEEP === '0' ? 0 : (positive(env.GRIDPLAN_BACKUP_KEEP) ?? 7),
  };
}
