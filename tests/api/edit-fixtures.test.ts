import { afterAll, beforeAll, describe, it } from 'vitest';
import { insertRegions } from '../../server/db/regions.ts';
import { apiContext, cloneTestDb, type ApiContext } from '../support/db.ts';
import { expectFixture, fixtureCases, style } from '../support/fixtures.ts';

const COLORS = ['#1971c2', '#2f9e44', '#e8590c', '#9c36b5', '#c2255c', '#0c8599'];

/**
 * Split, merge and reshape on fixtures you can open (tests/fixtures/edits): holes, enclaves and
 * multipolygons. Each case is a village with its grids and one operation; the output is the grids
 * after it (or the refusal), drawn beside the operation.
 */
describe('split, merge and reshape on fixtures (tests/fixtures/edits)', () => {
  let ctx: ApiContext;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    const t = await cloneTestDb('pglite');
    dispose = t.dispose;
    ctx = await apiContext(t.db);
  });
  afterAll(() => dispose());

  fixtureCases('edits').forEach((c, n) => {
    it(`${c.name}`, async () => {
      const features = c.input.features;
      const village = features.find((f) => f.properties?.role === 'village')!;
      const grids = features.filter((f) => f.properties?.role === 'grid');
      const op = features.find((f) => f.properties?.role === 'op')!;
      const code = String(680000 + n);
      const coords = (f: GeoJSON.Feature) => (f.geometry as GeoJSON.MultiPolygon).coordinates as [number, number][][][];
      const villageId = await ctx.db.transaction(async (tx) => {
        const [d] = await insertRegions(tx, [{ parentId: null, level: 'district', code, name: c.name, coordinates: coords(village) }]);
        const [t] = await insertRegions(tx, [{ parentId: d!, level: 'township', code: `${code}-001`, name: '镇', coordinates: coords(village) }]);
        const [v] = await insertRegions(tx, [{ parentId: t!, level: 'village', code: `${code}-001-001`, name: '村', coordinates: coords(village) }]);
        await insertRegions(
          tx,
          grids.map((g, i) => ({
            parentId: v!,
            level: 'grid' as const,
            code: `${code}-001-001-${String(i + 1).padStart(4, '0')}`,
            name: g.properties!.name as string,
            coordinates: coords(g),
          })),
        );
        return v!;
      });
      const children = async () => (await ctx.request('GET', `/api/regions/${villageId}/children`)).body.features as any[];
      const byName = (list: any[], name: string) => list.find((f) => f.properties.name === name)!;
      const before = await children();
      const p = op.properties!;
      let res: { status: number; body: any };
      if (p.op === 'split') {
        const g = byName(before, p.target);
        res = await ctx.request('POST', `/api/regions/${g.id}/split`, { version: g.properties.version, line: op.geometry });
      } else if (p.op === 'merge') {
        const gs = (p.targets as string[]).map((t) => byName(before, t));
        res = await ctx.request('POST', '/api/regions/merge', { ids: gs.map((g) => g.id), versions: gs.map((g) => g.properties.version) });
      } else {
        const g = byName(before, p.target);
        res = await ctx.request('PATCH', `/api/regions/${g.id}`, { version: g.properties.version, geometry: op.geometry });
      }
      const after = (await children()).sort((a, b) => a.properties.name.localeCompare(b.properties.name) || a.id - b.id);
      expectFixture(c, {
        type: 'FeatureCollection',
        features: [
          { ...village, properties: { role: 'village', status: res.status, code: res.body.error?.code ?? null, ...style('#000000') } },
          ...after.map((g, i) => ({
            type: 'Feature' as const,
            properties: {
              role: 'grid',
              name: g.properties.name,
              areaM2: Math.round(g.properties.areaM2),
              ...style(COLORS[i % COLORS.length]!, COLORS[i % COLORS.length]!),
            },
            geometry: g.geometry,
          })),
          ...(op.geometry ? [{ ...op, properties: { ...op.properties, ...style('#c92a2a') } }] : []),
        ],
      });
    });
  });
});
