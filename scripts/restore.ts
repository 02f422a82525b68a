/**
 * npm run restore -- <backup file> — brings a backup back into an empty database:
 *   - `…pglite.tar.gz` into the embedded database's folder (GRIDPLAN_DATA_DIR, default
 *     `.gridplan-data`), which must not exist or be empty: move the old one away first;
 *   - `….pgdump` into DATABASE_URL, which must have no GridPlan tables (CREATE DATABASE a new one).
 * Then `npm start` serves it (migrations newer than the backup are applied at start).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { restore } from '../server/db/backup.ts';
import { loadConfig } from '../server/config.ts';

const { positionals } = parseArgs({ allowPositionals: true });
const file = positionals[0];
if (!file) {
  console.error('usage: npm run restore -- <backup file>   (see npm run backup)');
  process.exit(2);
}
const config = loadConfig();
const target = config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: resolve(config.dataDir) };
try {
  await restore(resolve(file), target);
  console.log(`restored ${file} into ${'dataDir' in target ? target.dataDir : 'DATABASE_URL'}`);
} catch (err) {
  console.error(`restore refused: ${(err as Error).message}`);
  process.exit(1);
}
