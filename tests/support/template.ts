import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { openDb } from '../../server/db/db.ts';
import { migrate } from '../../server/db/migrate.ts';
import { DEMO, seedDistrict, type SeedOptions } from '../../server/seed/seed-district.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const TEST_DATA = join(ROOT, '.test-data');
export const PGLITE_TEMPLATE = join(TEST_DATA, 'template');
export const PG_TEMPLATE_DB = 'gridplan_test_template';

/** The small demo every database test starts from: the real 沾益区 boundary, ~3,900 households. */
export const TEST_SEED: SeedOptions = { ...DEMO, scale: 0.03 };

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Changes whenever the schema or the seed generator changes, so stale templates are rebuilt. */
function templateHash(): string {
  const h = createHash('sha256');
  for (const f of [
    ...filesUnder(join(ROOT, 'server', 'db')),
    ...filesUnder(join(ROOT, 'server', 'seed')),
    ...filesUnder(join(ROOT, 'server', 'domain')),
  ].sort()) {
    h.update(f).update(readFileSync(f));
  }
  h.update(JSON.stringify({ ...TEST_SEED, onProgress: null }));
  return h.digest('hex').slice(0, 16);
}

export async function buildPgliteTemplate(): Promise<void> {
  const stamp = join(TEST_DATA, 'template.hash');
  const hash = templateHash();
  if (existsSync(stamp) && (await readFile(stamp, 'utf8')) === hash && existsSync(PGLITE_TEMPLATE)) return;
  await rm(PGLITE_TEMPLATE, { recursive: true, force: true });
  await mkdir(TEST_DATA, { recursive: true });
  const db = await openDb({ dataDir: PGLITE_TEMPLATE });
  await migrate(db);
  await seedDistrict(db, TEST_SEED);
  await db.close();
  await writeFile(stamp, hash);
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A seeded PostgreSQL database that each test file clones with CREATE DATABASE … TEMPLATE. */
export async function buildPgTemplate(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${PG_TEMPLATE_DB}`);
    await admin.query(`CREATE DATABASE ${PG_TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  const db = await openDb({ databaseUrl: withDatabase(url, PG_TEMPLATE_DB) });
  await migrate(db);
  await seedDistrict(db, TEST_SEED);
  await db.close();
}

export const isDirectory = (p: string) => existsSync(p) && statSync(p).isDirectory();
