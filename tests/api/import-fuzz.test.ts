import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, type ApiContext } from '../support/db.ts';

const FILES = join(import.meta.dirname, '..', 'fixtures', 'import', 'files');

/** A file damaged the ways files get damaged: cut short, bytes overwritten, a block repeated or dropped. */
const damage = (bytes: Uint8Array) =>
  fc.oneof(
    fc.integer({ min: 0, max: bytes.length - 1 }).map((n) => bytes.slice(0, n)),
    fc.array(fc.tuple(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }).map((flips) => {
      const b = bytes.slice();
      for (const [i, v] of flips) b[i] = v;
      return b;
    }),
    fc.tuple(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 512 })).map(([at, n]) => {
      const b = new Uint8Array(bytes.length - Math.min(n, bytes.length - at));
      b.set(bytes.subarray(0, at));
      b.set(bytes.subarray(at + n), at);
      return b;
    }),
  );

describe('import of damaged files (pglite)', () => {
  let ctx: ApiContext;
  let dispose: () => Promise<void>;
  let dir: string;
  let cookie: string;

  beforeAll(async () => {
    const t = await cloneTestDb('pglite');
    dispose = t.dispose;
    dir = await mkdtemp(join(tmpdir(), 'gridplan-import-fuzz-'));
    ctx = await apiContext(t.db, { importDir: dir });
    cookie = (await ctx.cookie({ username: 'tester', role: 'admin' })).cookie;
  });
  afterAll(async () => {
    await dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('never answers a damaged Shapefile, Excel sheet, CSV or GeoJSON with a 5xx, and writes nothing', async () => {
    const names = (await readdir(FILES)).filter((f) => /\.(zip|xlsx|csv|geojson)$/.test(f));
    const districtId = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'district' ORDER BY id LIMIT 1`)).rows[0]!.id;
    const before = await ctx.snapshot();
    const statuses: Record<number, number> = {};
    for (const name of names) {
      const bytes = new Uint8Array(await readFile(join(FILES, name)));
      await fc.assert(
        fc.asyncProperty(damage(bytes), async (damaged) => {
          const res = await ctx.app.request('/api/imports', {
            method: 'POST',
            headers: { cookie, 'content-type': 'application/octet-stream', 'x-file-name': encodeURIComponent(name) },
            body: damaged as Uint8Array<ArrayBuffer>,
          });
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          const body = (await res.json()) as { id?: string; layers?: { name: string; kind: string }[]; error?: { code: string } };
          expect(res.status, JSON.stringify(body)).toBeLessThan(500);
          if (res.status !== 201) return;
          for (const layer of body.layers!) {
            const plan = await ctx.request('POST', `/api/imports/${body.id}/plan`, { layer: layer.name, kind: layer.kind, parentId: districtId, repair: true });
            statuses[plan.status] = (statuses[plan.status] ?? 0) + 1;
            expect(plan.status, JSON.stringify(plan.body)).toBeLessThan(500);
          }
        }),
        { numRuns: 15, seed: 20261130 },
      );
    }
    expect(await ctx.snapshot()).toEqual(before);
    // both sides were reached: files refused, and files read and checked
    expect(statuses[201]).toBeGreaterThan(0);
    expect(Object.keys(statuses).some((s) => Number(s) >= 400)).toBe(true);
  });
});
