/** One database interface, two drivers: PostgreSQL through `pg`, or embedded PGlite. */
export interface Queryable {
  query<R = Record<string, any>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

export interface Tx extends Queryable {
  /** Runs several statements separated by semicolons, without parameters. */
  exec(sql: string): Promise<void>;
}

export interface Db extends Tx {
  readonly driver: 'pg' | 'pglite';
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** PGlite: its data folder as a gzipped tarball, taken consistently while it runs (see backup.ts). */
  dump?: () => Promise<Uint8Array>;
  /** PostgreSQL: where it is, for pg_dump. */
  readonly url?: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** `postgres://…` — use PostgreSQL + PostGIS. */
  databaseUrl?: string | undefined;
  /** Folder for the embedded database; `memory://` keeps it in memory. */
  dataDir?: string | undefined;
  /**
   * Run the embedded database in its own thread, so the caller's thread never waits for a query
   * (the server does; scripts and tests need not).
   */
  thread?: boolean | undefined;
  /**
   * PostgreSQL: the longest one statement may run (ms; 0 or absent: no limit). The server sets it;
   * migrations and seeding run without. PGlite has no way to interrupt a statement.
   */
  statementTimeoutMs?: number | undefined;
}

export async function openDb(options: OpenOptions): Promise<Db> {
  if (options.databaseUrl) {
    const { openPg } = await import('./pg-driver.ts');
    return openPg(options.databaseUrl, options.statementTimeoutMs ?? 0);
  }
  const { openPglite, openPgliteThread } = await import('./pglite-driver.ts');
  return (options.thread ? openPgliteThread : openPglite)(options.dataDir ?? '.gridplan-data');
}

/**
 * Housekeeping PostgreSQL's autovacuum does by itself and PGlite never does: VACUUM marks pages
 * all-visible (without it every index-only scan still reads the table) and ANALYZE refreshes the
 * planner's statistics. Run after bulk loads and once a day; outside any transaction. On PostgreSQL
 * the statistics are refreshed too: autovacuum may be off, and is a minute late at best — a seeded
 * plan whose patrol visits had never been analysed took 30 s for a month's 考核 (a scan of every
 * visit per grid), 1 s once they were.
 */
export async function maintain(db: Db): Promise<void> {
  await db.exec(db.driver === 'pglite' ? 'VACUUM ANALYZE' : 'ANALYZE');
}
