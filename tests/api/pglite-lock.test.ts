import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../server/db/db.ts';
import { PGLITE_TEMPLATE, TEST_DATA } from '../support/template.ts';

describe('the embedded database folder', () => {
  it('refuses a second opener while in use, and takes over a lock left by a dead process', async () => {
    const dir = join(TEST_DATA, `lock_${process.pid}_${Date.now().toString(36)}`);
    await cp(PGLITE_TEMPLATE, dir, { recursive: true });
    try {
      const db = await openDb({ dataDir: dir });
      expect(await readFile(join(dir, 'gridplan.lock'), 'utf8')).toBe(String(process.pid));
      await expect(openDb({ dataDir: dir })).rejects.toThrow(`in use by process ${process.pid}`);
      expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n).toBe(1);
      await db.close();
      // A crash leaves the lock behind: a pid that no longer runs does not keep the folder.
      await writeFile(join(dir, 'gridplan.lock'), '2147483646');
      const again = await openDb({ dataDir: dir });
      expect((await again.query<{ n: number }>(`SELECT count(*)::int AS n FROM region WHERE level = 'district'`)).rows[0]!.n).toBe(1);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
