import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

const fixtureText = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'import', name), 'utf8');
const CSV = { 'content-type': 'text/csv' };

for (const driver of DRIVERS) {
  describe(`POST /api/households/import (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let before: Record<string, number>;
    let squareId: number;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      // A square test district with four townships (one with a hole), no villages or grids.
      const d = await ctx.request('POST', '/api/regions/import', {
        parentId: null,
        level: 'district',
        features: JSON.parse(fixtureText('district-square.geojson')),
      });
      squareId = d.body.created[0].id;
      await ctx.request('POST', '/api/regions/import', { parentId: squareId, level: 'township', features: JSON.parse(fixtureText('townships.geojson')) });
    });
    afterAll(() => dispose());
    beforeEach(async () => {
      before = await ctx.snapshot();
    });

    async function rejects(body: string, headers: Record<string, string>, status: number, code: string, query = '') {
      const res = await ctx.request('POST', `/api/households/import${query}`, body, headers);
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(await ctx.snapshot()).toEqual(before);
      return res.body.error;
    }

    it('imports CSV, assigns each household to the finest region containing it, and reports points outside', async () => {
      const res = await ctx.request('POST', '/api/households/import', fixtureText('households.csv'), CSV);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.imported).toBe(4);
      expect(res.body.outside).toEqual({ count: 1, indexes: [4] });
      const { rows } = await ctx.db.query<{ address: string; name: string }>(
        `SELECT h.address, r.name FROM household h JOIN region r ON r.id = h.region_id WHERE h.address LIKE '%号' AND r.code LIKE '999001%' ORDER BY h.id`,
      );
      // The point in the west township's hole belongs to 湖心街道, not 西镇.
      expect(rows).toEqual([
        { address: '湖心街道1号', name: '湖心街道' },
        { address: '西镇1号', name: '西镇' },
        { address: '东乡1号', name: '东乡' },
        { address: '东乡2号', name: '东乡' },
      ]);
      const district = await ctx.request('GET', `/api/regions/${squareId}`);
      expect(district.body.properties.households).toBe(4);
      // every region's count as a recount from scratch would have it (only the regions the list went into were recounted)
      const { rows: off } = await ctx.db.query(
        `WITH RECURSIVE under AS (SELECT r.id AS top, r.id FROM region r UNION ALL SELECT u.top, c.id FROM under u JOIN region c ON c.parent_id = u.id)
         SELECT r.id, r.household_count, (SELECT count(*)::int FROM household h JOIN under u ON u.id = h.region_id WHERE u.top = r.id) AS n
         FROM region r WHERE r.household_count <> (SELECT count(*) FROM household h JOIN under u ON u.id = h.region_id WHERE u.top = r.id)`,
      );
      expect(off).toEqual([]);
    });

    it('assigns households in the seeded district to grids', async () => {
      const grid = await ctx.db.query<{ id: number; x: number; y: number; n: number }>(
        `SELECT id, ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y, household_count AS n FROM region WHERE level = 'grid'
          ORDER BY code LIMIT 1`,
      );
      const g = grid.rows[0]!;
      const csv = `lon,lat,size,address\n${g.x},${g.y},3,新户1号\n${g.x},${g.y},2,新户2号\n`;
      const res = await ctx.request('POST', '/api/households/import', csv, CSV);
      expect(res.status).toBe(201);
      const after = await ctx.request('GET', `/api/regions/${g.id}`);
      expect(after.body.properties.households).toBe(g.n + 2);
    });

    it('imports GeoJSON points', async () => {
      const fc = {
        type: 'FeatureCollection',
        features: [{ type: 'Feature', geometry: { type: 'Point', coordinates: [100.15, 30.1] }, properties: { size: 2, address: '中村1号' } }],
      };
      const res = await ctx.request('POST', '/api/households/import', JSON.stringify(fc), { 'content-type': 'application/geo+json' });
      expect(res.status).toBe(201);
      expect(res.body.imported).toBe(1);
    });

    it('streams progress as NDJSON when asked, ending with the result', async () => {
      const rows = Array.from({ length: 12_000 }, (_, i) => `${100.01 + (i % 100) * 0.0005},${30.01 + Math.floor(i / 100) * 0.0005},2,批量${i}号`);
      const res = await ctx.request('POST', '/api/households/import', `lon,lat,size,address\n${rows.join('\n')}\n`, { ...CSV, accept: 'application/x-ndjson' });
      expect(res.status).toBe(201);
      const lines = String(res.body)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.filter((l) => l.progress).map((l) => l.progress.stage)).toEqual(expect.arrayContaining(['locating', 'saving']));
      expect(lines.at(-1).result.imported).toBe(12_000);
    });

    it('refuses a file with a bad row, naming the line and column, and writes nothing', async () => {
      const error = await rejects('lon,lat,size,address\n100.05,30.05,3,好\n100.06,abc,3,坏\n', CSV, 422, 'invalid_rows');
      expect(error.details).toEqual([expect.objectContaining({ index: 1, code: 'not_a_number', path: 'line 3, column lat' })]);
      const range = await rejects('lon,lat,size,address\n200,30.05,3,坏\n', CSV, 422, 'invalid_rows');
      expect(range.details[0].code).toBe('coordinate_out_of_range');
      const size = await rejects('lon,lat,size,address\n100.05,30.05,0,坏\n', CSV, 422, 'invalid_rows');
      expect(size.details[0]).toMatchObject({ code: 'invalid_size', path: 'line 2, column size' });
    });

    it('imports the good rows of a file with bad ones when partial', async () => {
      const res = await ctx.request('POST', '/api/households/import?partial=true', 'lon,lat,size,address\n100.05,30.05,3,好\n100.06,abc,3,坏\n', CSV);
      expect(res.status).toBe(201);
      expect(res.body.imported).toBe(1);
      expect(res.body.errors).toHaveLength(1);
    });

    it('refuses an empty file, a wrong media type, broken JSON and a wrong geometry type', async () => {
      await rejects('lon,lat,size,address\n', CSV, 422, 'empty_collection');
      await rejects('lon,lat\n1,2', { 'content-type': 'application/xml' }, 415, 'unsupported_media_type');
      await rejects('{"type": "FeatureCollection", ', { 'content-type': 'application/geo+json' }, 400, 'invalid_json');
      const line = JSON.stringify({
        type: 'FeatureCollection',
        features: [
          {
            type: 'Feature',
            geometry: {
              type: 'LineString',
              coordinates: [
                [100, 30],
                [100.1, 30],
              ],
            },
            properties: { size: 1 },
          },
        ],
      });
      const error = await rejects(line, { 'content-type': 'application/geo+json' }, 422, 'invalid_rows');
      expect(error.details[0]).toMatchObject({ code: 'wrong_geometry_type', path: 'features[0].geometry.type' });
    });
  });
}
