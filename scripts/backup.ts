/**
 * npm run backup — a consistent copy of the whole database, into GRIDPLAN_BACKUP_DIR
 * (default `.gridplan-data-backups/`, or `backups/` with DATABASE_URL), while the server runs.
 *   - PostgreSQL (DATABASE_URL): pg_dump, which takes a consistent snapshot while others write.
 *   - the embedded database: if `npm start` holds its folder, the running server writes the backup
 *     (asked through the control token it keeps in the folder); otherwise this opens it and does.
 *   npm run backup [-- --dir <folder>]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { backup } from '../server/db/backup.ts';
import { openDb } from '../server/db/db.ts';
import { CONTROL_FILE, loadConfig } from '../server/config.ts';

const { values } = parseArgs({ options: { dir: { type: 'string' } } });
const config = loadConfig();
const dir = resolve(values.dir ?? config.backupDir);

async function viaServer(): Promise<boolean> {
  const file = join(config.dataDir, CONTROL_FILE);
  if (config.databaseUrl || !existsSync(file)) return false;
  const { pid, port, token } = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; port: number; token: string };
  try {
    process.kill(pid, 0);
  } catch {
    return false; // a file left by a server that is gone
  }
  if (values.dir) throw new Error('the running server writes into its own backup folder (GRIDPLAN_BACKUP_DIR); --dir works only while it is stopped');
  const res = await fetch(`http://127.0.0.1:${port}/api/backups`, { method: 'POST', headers: { 'x-gridplan-control': token } });
  const body = (await res.json()) as { file?: string; bytes?: number; error?: { message: string } };
  if (!res.ok) throw new Error(body.error?.message ?? `the server answered ${res.status}`);
  console.log(`backup written by the running server: ${join(config.backupDir, body.file!)} (${(body.bytes! / 1e6).toFixed(1)} MB)`);
  return true;
}

if (!(await viaServer())) {
  const db = await openDb(config);
  try {
    const written = await backup(db, dir);
    console.log(`backup written: ${written.file} (${(written.bytes / 1e6).toFixed(1)} MB)`);
  } finally {
    await db.close();
  }
}
