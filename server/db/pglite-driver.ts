import { PGlite, types } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';
import type { Db } from './db.ts';

const parsers = {
  [types.INT8]: (v: string) => Number(v),
  [types.NUMERIC]: (v: string) => Number(v),
};

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
    query: (sql, params) => pglite.query(sql, params) as never,
    async exec(sql) {
      await pglite.exec(sql);
    },
    transaction: (fn) =>
      pglite.transaction((tx) =>
        fn({ query: (sql, params) => tx.query(sql, params) as never, exec: async (sql) => void (await tx.exec(sql)) }),
      ),
    close: () => pglite.close(),
  };
}
