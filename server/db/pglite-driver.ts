import { PGlite, types } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './db.ts';

const parsers = {
  [types.INT8]: (v: string) => Number(v),
  [types.NUMERIC]: (v: string) => Number(v),
};

/** Whether a statement always answers with a row description (even with no rows). */
export function expectsRows(sql: string): boolean {
  // The main statement's verb: the first verb outside parentheses and quotes (after a WITH list).
  let depth = 0;
  let quoted = false;
  for (const token of sql.replace(/--[^\n]*/g, ' ').match(/'|\(|\)|\b[A-Za-z]+\b/g) ?? []) {
    if (token === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (token === '(') depth++;
    else if (token === ')') depth--;
    else if (depth === 0) {
      const word = token.toUpperCase();
      if (word === 'SELECT' || word === 'VALUES' || word === 'TABLE') return true;
      if (word === 'INSERT' || word === 'UPDATE' || word === 'DELETE') return /\bRETURNING\b[^()]*$/i.test(sql);
      if (['CREATE', 'DROP', 'ALTER', 'BEGIN', 'COMMIT', 'ROLLBACK', 'TRUNCATE', 'SET'].includes(word)) return false;
    }
  }
  return false;
}

/**
 * GEOS in PGlite's WebAssembly build can abort a query without an error: the result then has no
 * row description. A query that should describe its rows and does not is a failure, not an empty answer.
 */
function checked<T extends { fields: unknown[] }>(sql: string, result: T): T {
  if (result.fields.length === 0 && expectsRows(sql)) {
    throw new Error(`PGlite returned no result for a query that must describe its rows (a PostGIS/GEOS operation failed silently): ${sql.slice(0, 120)}`);
  }
  return result;
}

/**
 * PGlite has no postmaster to keep a second process out of its folder, and two processes writing
 * one folder corrupt it (`npm run seed` while `npm start` runs). A lock file naming the owner's pid
 * refuses the second opener; a lock left by a process that no longer runs is taken over.
 */
function lockFolder(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, 'gridplan.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lock, 'utf8'));
      if (alive(owner)) {
        throw new Error(`the database folder ${dataDir} is in use by process ${owner}; stop it first (two processes would corrupt it)`);
      }
      rmSync(lock, { force: true });
    }
  }
  throw new Error(`could not lock the database folder ${dataDir}`);
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function openPglite(dataDir: string): Promise<Db> {
  const unlock = dataDir === 'memory://' ? () => {} : lockFolder(dataDir);
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({
    dataDir: dataDir === 'memory://' ? undefined : dataDir,
    extensions: { postgis },
    parsers,
    });
  } catch (err) {
    unlock();
    throw err;
  }
  // PGlite runs one statement at a time; a transaction holds it exclusively,
  // so concurrent requests queue behind it instead of interleaving.
  return {
    driver: 'pglite',
    query: async (sql, params) => checked(sql, await pglite.query(sql, params)) as never,
    async exec(sql) {
      await pglite.exec(sql);
    },
    transaction: (fn) =>
      pglite.transaction((tx) =>
        fn({ query: async (sql, params) => checked(sql, await tx.query(sql, params)) as never, exec: async (sql) => void (await tx.exec(sql)) }),
      ),
    close: async () => {
      await pglite.close();
      unlock();
    },
  };
}
