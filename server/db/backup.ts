/**
 * Backups of everything GridPlan keeps — the plan, staff, incidents, photos (stored in the
 * database), accounts and the change log — and their restore into an empty database.
 *
 *   embedded (PGlite):  the data folder as a gzipped tarball (PGlite's own dump), taken between
 *                       transactions while the server runs; restored with PGlite's loadDataDir
 *   PostgreSQL:         pg_dump's custom format (a consistent snapshot while others write);
 *                       restored with pg_restore
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import pg from 'pg';
import type { Db } from './db.ts';

/** Whether a daily backup is due, its newest `ageMs` old: in the night's quiet hours past half a day, else past 26 hours. */
export function backupDue(ageMs: number, now: Date): boolean {
  const hour = Number(new Intl.DateTimeFormat('en', { hour: 'numeric', hourCycle: 'h23', timeZone: 'Asia/Shanghai' }).format(now));
  return ageMs >= 26 * 3_600_000 || (ageMs >= 12 * 3_600_000 && hour >= 2 && hour < 5);
}

export const PGLITE_SUFFIX = '.pglite.tar.gz';
export const PG_SUFFIX = '.pgdump';

export interface BackupFile {
  file: string;
  bytes: number;
  at: string;
}

/** The name's mark of a backup the server made on its own (each night). */
const DAILY = 'daily-';
const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .replace('T', '-');

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (err += b));
    child.on('error', (e) => reject(new Error(`${command} could not start (${e.message}); install the PostgreSQL client tools`)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} failed (${code}): ${err.trim().slice(0, 500)}`))));
  });
}

/** Writes a backup of the running database into `dir` (written to a temporary name, then renamed: never half a file). */
export async function backup(db: Db, dir: string, now = new Date(), kind: 'daily' | 'manual' = 'manual'): Promise<BackupFile> {
  // (the whole database, names and phone numbers among it: the server's alone)
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const name = `gridplan-${kind === 'daily' ? DAILY : ''}${stamp(now)}${db.driver === 'pglite' ? PGLITE_SUFFIX : PG_SUFFIX}`;
  const file = join(dir, name);
  const partial = `${file}.partial`;
  if (db.driver === 'pglite') {
    if (!db.dump) throw new Error('this database cannot dump its data folder');
    await writeFile(partial, await db.dump(), { mode: 0o600 });
  } else {
    if (!db.url) throw new Error('no PostgreSQL URL to back up');
    await run('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${partial}`, db.url]);
  }
  await chmod(partial, 0o600);
  await rename(partial, file);
  return { file, bytes: (await stat(file)).size, at: now.toISOString() };
}

/** The backups in `dir`, newest first. */
export async function listBackups(dir: string): Promise<BackupFile[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const files = await Promise.all(
    names
      .filter((n) => n.startsWith('gridplan-') && (n.endsWith(PGLITE_SUFFIX) || n.endsWith(PG_SUFFIX)))
      .map(async (n) => {
        const s = await stat(join(dir, n));
        return { file: join(dir, n), bytes: s.size, at: s.mtime.toISOString() };
      }),
  );
  // newest first by the time in the name, daily and made by hand alike
  const when = (f: string) => basename(f).replace(`gridplan-${DAILY}`, 'gridplan-');
  return files.sort((a, b) => when(b.file).localeCompare(when(a.file)));
}

/**
 * Keeps the newest `keep` daily backups and the newest `keep` made by hand (`npm run backup`, the
 * API) in `dir`; removes the rest. Counted apart, so a week of nights never takes away the copy
 * someone made before a risky change.
 */
export async function pruneBackups(dir: string, keep: number): Promise<string[]> {
  const all = await listBackups(dir);
  const daily = (b: BackupFile) => basename(b.file).startsWith(`gridplan-${DAILY}`);
  const old = [...all.filter(daily).slice(Math.max(1, keep)), ...all.filter((b) => !daily(b)).slice(Math.max(1, keep))];
  for (const b of old) await rm(b.file, { force: true });
  return old.map((b) => b.file);
}

/**
 * Restores a backup into an empty database: a PGlite data folder that does not exist or is
 * empty, or a PostgreSQL database without GridPlan's tables. Refuses anything else, so a restore
 * never mixes into a live plan.
 */
export async function restore(file: string, target: { dataDir: string } | { databaseUrl: string }): Promise<void> {
  if (file.endsWith(PGLITE_SUFFIX)) {
    if (!('dataDir' in target)) throw new Error(`${file} is an embedded-database backup: restore it into a data folder (GRIDPLAN_DATA_DIR), not PostgreSQL`);
    const existing = await readdir(target.dataDir).catch(() => [] as string[]);
    if (existing.length > 0) throw new Error(`${target.dataDir} is not empty: restore into a new folder (or move this one away first)`);
    const { PGlite } = await import('@electric-sql/pglite');
    const { postgisExtension } = await import('./postgis-bundle.ts');
    const loadDataDir = new Blob([await readFile(file)]);
    const restored = await PGlite.create({ dataDir: target.dataDir, loadDataDir, extensions: { postgis: postgisExtension() } });
    await restored.query('SELECT 1 FROM region LIMIT 1');
    await restored.close();
    // The running server's lock and control files came along in the dump: they are not this folder's.
    for (const f of ['gridplan.lock', 'gridplan.control']) await rm(join(target.dataDir, f), { force: true });
    return;
  }
  if (!file.endsWith(PG_SUFFIX)) throw new Error(`${file} is not a GridPlan backup (${PGLITE_SUFFIX} or ${PG_SUFFIX})`);
  if (!('databaseUrl' in target)) throw new Error(`${file} is a PostgreSQL backup: restore it into a database (DATABASE_URL)`);
  const client = new pg.Client({ connectionString: target.databaseUrl });
  await client.connect();
  let hasPostgis: boolean;
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
        AND table_name <> 'spatial_ref_sys'`,
    );
    if (rows[0]!.n > 0) throw new Error('the target database is not empty: restore into a new database (CREATE DATABASE …)');
    hasPostgis = (await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'postgis'`)).rows.length > 0;
  } finally {
    await client.end();
  }
  // The dump creates PostGIS itself; where the database has it already, that entry is left out.
  const list = await run('pg_restore', ['--list', file]);
  const entries = list.split('\n').filter((line) => !(hasPostgis && / EXTENSION - postgis\b|COMMENT - EXTENSION postgis\b/.test(line)));
  const listFile = `${file}.${process.pid}.list`;
  await writeFile(listFile, entries.join('\n'));
  try {
    await run('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', `--use-list=${listFile}`, `--dbname=${target.databaseUrl}`, file]);
  } finally {
    await rm(listFile, { force: true });
  }
}
