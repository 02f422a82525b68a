import { PGlite, types } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';
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

export async function openPglite(dataDir: string): Promise<Db> {
  const pglite = await PGlite.create({
    dataDir: dataDir === 'memory://' ? undefined : dataDir,
    extensions: { postgis },
    parsers,
  });
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
    close: () => pglite.close(),
  };
}
