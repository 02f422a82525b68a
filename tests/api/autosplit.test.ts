import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitting } from '../../server/http/heavy.ts';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

for (const driver of DRIVERS) {
  describe(`auto-split (${driver})`, () => {
    let ctx: ApiContext;
    let db: Parameters<typeof apiContext>[0];
    let dispose: () => Promise<void>;
    /** The village with the most households, and its township. */
    let village: { id: number; name: string; households: number; grids: number; workers: number };
    let township: number;
    const user = { 'x-gridplan-user': 'planner-auto' };

    /** Gap, overlap and spill of a parent's children in m², and children that are not one polygon. */
    async function tiling(parentId: number) {
      const { rows } = await ctx.db.query<{ gap: number; overlap: number; outside: number; multipart: number }>(
        `WITH p AS (SELECT geom FROM region WHERE id = $1),
         c AS (SELECT ST_Union(geom, gp_grid()) AS u, sum(gp_area_m2(geom)) AS s, count(*) FILTER (WHERE ST_NumGeometries(geom) > 1) AS multipart
           FROM region WHERE parent_id = $1)
         SELECT gp_area_m2(gp_difference(p.geom, c.u)) AS gap, c.s - gp_area_m2(c.u) AS overlap, gp_area_m2(gp_difference(c.u, p.geom)) AS outside,
           c.multipart::int AS multipart
         FROM p, c`,
        [parentId],
      );
      return rows[0]!;
    }
    /** Households of a village by the grid they are filed under, and by the grids containing them. */
    async function householdsOf(villageId: number) {
      const { rows } = await ctx.db.query<{ filed: number; containing: number; total: number }>(
        `SELECT (SELECT count(*)::int FROM household h JOIN region g ON g.id = h.region_id WHERE g.parent_id = $1) AS filed,
                (SELECT count(*)::int FROM household h JOIN region g ON g.parent_id = $1 AND ST_Intersects(g.geom, h.geom)) AS containing,
                (SELECT count(*)::int FROM household h JOIN region v ON v.id = $1 AND ST_Intersects(v.geom, h.geom)) AS total`,
        [villageId],
      );
      return rows[0]!;
    }

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      db = t.db;
      ctx = await apiContext(t.db);
      const { rows } = await ctx.db.query<{ id: number; name: string; households: number; grids: number; workers: number; township: number }>(
        `SELECT v.id, v.name, v.household_count AS households, v.parent_id AS township,
                (SELECT count(*)::int FROM region g WHERE g.parent_id = v.id) AS grids,
                (SELECT count(worker_id)::int FROM region g WHERE g.parent_id = v.id) AS workers
         FROM region v WHERE v.level = 'village' AND v.grid_type IN ('rural', 'scattered') ORDER BY v.household_count DESC, v.code LIMIT 1`,
      );
      ({ township } = rows[0]!);
      village = rows[0]!;
    });
    afterAll(() => dispose());

    it('proposes grids that all hold 10–25 households, tile the village and write nothing', async () => {
      const before = await ctx.snapshot();
      const res = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, {});
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      const { summary, proposal } = res.body;
      expect(summary).toMatchObject({ villages: 1, households: village.households, withinRangeShare: 1, infeasible: [], barrierCrossings: 0 });
      expect(summary.grids).toBe(proposal.features.length);
      expect(summary.grids).toBeGreaterThanOrEqual(Math.ceil(village.households / 25));
      for (const f of proposal.features) {
        expect(f.properties).toMatchObject({ status: 'within', parts: 1, min: 10, max: 25 });
        expect(f.properties.compactness).toBeGreaterThan(0.05);
      }
      const areas = proposal.features.reduce((s: number, f: any) => s + f.properties.areaM2, 0);
      const { rows } = await ctx.db.query<{ a: number }>('SELECT gp_area_m2(geom) AS a FROM region WHERE id = $1', [village.id]);
      expect(Math.abs(areas - rows[0]!.a)).toBeLessThan(proposal.features.length); // rounding of each area to 1 m²
      expect(await ctx.snapshot()).toEqual(before);
    });

    it('gives the same proposal for the same input', async () => {
      const a = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { target: 15 });
      const b = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { target: 15 });
      expect(a.body.proposal).toEqual(b.body.proposal);
    });

    it('keeps every grid clear of a barrier drawn across the village', async () => {
      const { rows: lines } = await ctx.db.query<{ g: any }>(
        `SELECT ST_AsGeoJSON(ST_MakeLine(ST_Translate(c, -1, 0), ST_Translate(c, 1, 0)))::json AS g
         FROM (SELECT ST_PointOnSurface(geom) AS c FROM region WHERE id = $1) AS x`,
        [village.id],
      );
      const line = lines[0]!.g;
      const res = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, {
        barriers: { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: line }] },
      });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      const crossing = res.body.proposal.features.filter((f: any) => f.properties.crossesBarrier);
      expect(crossing.length).toBe(res.body.summary.barrierCrossings);
      // Grids that do not report a crossing lie on one side: the line does not run through their interior.
      const { rows } = await ctx.db.query<{ ord: number; crosses: boolean }>(
        `SELECT t.ord, ST_Length(ST_Intersection(ST_SetSRID(ST_GeomFromGeoJSON($2), 4326), ST_Buffer(ST_SetSRID(ST_GeomFromGeoJSON(t.g), 4326),
          -0.00001))) > 0 AS crosses
         FROM unnest($1::int[], $3::text[]) AS t(ord, g)`,
        [res.body.proposal.features.map((f: any) => f.id), JSON.stringify(line), res.body.proposal.features.map((f: any) => JSON.stringify(f.geometry))],
      );
      const reported = new Set(crossing.map((f: any) => f.id));
      expect(rows.filter((r) => r.crosses && !reported.has(r.ord))).toEqual([]);
      expect(res.body.summary.withinRangeShare).toBeGreaterThanOrEqual(0.99);
    });

    it('commits in one operation: exact tiling, every household in one grid, workers kept — and undo restores the old grids', async () => {
      const { rows: oldGrids } = await ctx.db.query<{ id: number }>('SELECT id FROM region WHERE parent_id = $1 ORDER BY id', [village.id]);
      // the roles every grid of the village is staffed with besides its worker (网格长, police officer…)
      const everyGridHas = async () =>
        (
          await ctx.db.query<{ role: string }>(
            `SELECT s.role FROM grid_staff s JOIN region g ON g.id = s.grid_id WHERE g.parent_id = $1
             GROUP BY s.role HAVING count(DISTINCT s.grid_id) = (SELECT count(*) FROM region WHERE parent_id = $1) ORDER BY s.role`,
            [village.id],
          )
        ).rows.map((r) => r.role);
      const staffRows = `SELECT s.grid_id, s.worker_id, s.role FROM grid_staff s JOIN region g ON g.id = s.grid_id WHERE g.parent_id = $1 ORDER BY 1, 2, 3`;
      const staffBefore = (await ctx.db.query(staffRows, [village.id])).rows;
      const rolesBefore = await everyGridHas();
      expect(rolesBefore.length).toBeGreaterThan(0);
      // a grid a planner named and noted (as the editor saves them)
      await ctx.db.query(`UPDATE region SET name = name || '（河东片）', notes = '含河东 3 户散居户' WHERE id = $1`, [oldGrids[0]!.id]);
      const res = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { commit: true }, user);
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      const { ids, op } = res.body.committed;
      expect(ids.length).toBe(res.body.summary.grids);
      const t = await tiling(village.id);
      expect(t.gap).toBeLessThan(1);
      expect(t.overlap).toBeLessThan(1);
      expect(t.outside).toBeLessThan(1);
      expect(t.multipart).toBe(0);
      expect(await householdsOf(village.id)).toEqual({ filed: village.households, containing: village.households, total: village.households });
      // Every incident in the village is filed under the (first) new grid it lies in.
      const {
        rows: [cases],
      } = await ctx.db.query<{ n: number; misfiled: number }>(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE i.grid_id IS DISTINCT FROM
           (SELECT min(g.id) FROM region g WHERE g.level = 'grid' AND g.geom && i.geom AND ST_Intersects(g.geom, i.geom)))::int AS misfiled
         FROM incident i JOIN region v ON v.id = $1 AND v.geom && i.geom AND ST_Intersects(v.geom, i.geom)`,
        [village.id],
      );
      expect(cases!.n).toBeGreaterThan(0);
      expect(cases!.misfiled).toBe(0);
      const {
        rows: [after],
      } = await ctx.db.query<{ workers: number; codes: string[]; out: number; n: number }>(
        `SELECT count(worker_id)::int AS workers, array_agg(code ORDER BY code) AS codes, count(*)::int AS n,
                count(*) FILTER (WHERE household_count NOT BETWEEN 10 AND 25)::int AS out
         FROM region WHERE parent_id = $1`,
        [village.id],
      );
      expect(after!.n).toBe(ids.length);
      expect(after!.out).toBe(0);
      expect(after!.workers).toBe(Math.min(village.workers, ids.length));
      // and the other people: each new grid keeps those of the old grid most of its households come from
      expect(await everyGridHas()).toEqual(rolesBefore);
      expect(after!.codes[0]).toMatch(/-0001$/);
      // the grid continuing it keeps that name and its notes; the others have their numbers' names and none (accepting had dropped them)
      const { rows: noted } = await ctx.db.query<{ name: string; notes: string }>(`SELECT name, notes FROM region WHERE parent_id = $1 AND notes <> ''`, [
        village.id,
      ]);
      expect(noted).toEqual([{ name: expect.stringMatching(/（河东片）$/), notes: '含河东 3 户散居户' }]);
      const { rows: log } = await ctx.db.query<{ n: number; action: string }>('SELECT count(*)::int AS n, min(action) AS action FROM change WHERE op = $1', [
        op,
      ]);
      expect(log[0]).toEqual({ n: oldGrids.length + ids.length, action: 'autosplit' });
      // The village's count and its township's still add up.
      const {
        rows: [sums],
      } = await ctx.db.query<{ v: number; g: number }>(
        'SELECT household_count AS v, (SELECT sum(household_count)::int FROM region WHERE parent_id = $1) AS g FROM region WHERE id = $1',
        [village.id],
      );
      expect(sums!.g).toBe(sums!.v);
      // Proposed again at once: the same division, and the proposal says so.
      const again = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, {}, user);
      expect(again.body.summary).toMatchObject({ unchanged: true, householdsMoved: 0 });
      // Other choices: a different division, and how many households it moves.
      const other = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { target: 12 }, user);
      expect(other.body.summary.unchanged).toBe(false);
      expect(other.body.summary.householdsMoved).toBeGreaterThan(0);
      expect(other.body.summary.householdsMoved).toBeLessThanOrEqual(village.households);

      const undo = await ctx.request('POST', '/api/changes/undo', undefined, user);
      expect(undo.status, JSON.stringify(undo.body).slice(0, 300)).toBe(200);
      expect(undo.body.action).toBe('autosplit');
      const { rows: restored } = await ctx.db.query<{ id: number }>('SELECT id FROM region WHERE parent_id = $1 ORDER BY id', [village.id]);
      expect(restored).toEqual(oldGrids);
      expect(await householdsOf(village.id)).toEqual({ filed: village.households, containing: village.households, total: village.households });
      expect((await ctx.db.query(staffRows, [village.id])).rows).toEqual(staffBefore);
    });

    it('keeps the grids it is told to keep and divides only the rest', async () => {
      const { rows: kept } = await ctx.db.query<{ id: number; version: number; wkb: string }>(
        `SELECT id, version, encode(ST_AsEWKB(geom), 'hex') AS wkb FROM region WHERE parent_id = $1 ORDER BY household_count DESC, id LIMIT 2`,
        [village.id],
      );
      const res = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { keep: kept.map((k) => k.id), commit: true }, user);
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      const { rows: now } = await ctx.db.query<{ id: number; version: number; wkb: string }>(
        `SELECT id, version, encode(ST_AsEWKB(geom), 'hex') AS wkb FROM region WHERE id = ANY($1::int[]) ORDER BY household_count DESC, id`,
        [kept.map((k) => k.id)],
      );
      expect(now).toEqual(kept);
      const t = await tiling(village.id);
      expect(Math.max(t.gap, t.overlap, t.outside)).toBeLessThan(1);
      expect((await householdsOf(village.id)).filed).toBe(village.households);
      await ctx.request('POST', '/api/changes/undo', undefined, user);
    });

    it('rebalances with minimal change: keeps the grids in range, divides only the one pushed over, and says how many households move', async () => {
      const { rows: grids } = await ctx.db.query<{ id: number; households: number; wkb: string }>(
        `SELECT id, household_count AS households, encode(ST_AsEWKB(geom), 'hex') AS wkb FROM region WHERE parent_id = $1 ORDER BY id`,
        [village.id],
      );
      const full = grids[0]!;
      // 20 new households inside one grid: it goes over 25, every other grid still meets the rule.
      const { rows: points } = await ctx.db.query<{ lon: number; lat: number }>(
        'SELECT ST_X(d.geom) AS lon, ST_Y(d.geom) AS lat FROM region r, ST_Dump(ST_GeneratePoints(r.geom, 20, 7)) d WHERE r.id = $1',
        [full.id],
      );
      const added = await ctx.request(
        'POST',
        '/api/households/import',
        {
          type: 'FeatureCollection',
          features: points.map((p, i) => ({
            type: 'Feature',
            properties: { size: 3, address: `新建小区${i + 1}号` },
            geometry: { type: 'Point', coordinates: [p.lon, p.lat] },
          })),
        },
        user,
      );
      expect(added.status, JSON.stringify(added.body).slice(0, 300)).toBe(201);
      const before = await ctx.snapshot();
      const res = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { rebalance: true }, user);
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      const { summary } = res.body;
      expect(await ctx.snapshot()).toEqual(before); // a "what if": nothing written
      expect(summary).toMatchObject({ kept: grids.length - 1, released: 0, withinRangeShare: 1, households: full.households + 20 });
      expect(summary.grids).toBeGreaterThanOrEqual(2);
      // Only households of the grid that went over (and the new ones) can change grid, and not all of them.
      expect(summary.householdsMoved).toBeGreaterThan(0);
      expect(summary.householdsMoved).toBeLessThan(full.households + 20);
      const committed = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { rebalance: true, commit: true }, user);
      expect(committed.status).toBe(200);
      const { rows: now } = await ctx.db.query<{ id: number; households: number; wkb: string }>(
        `SELECT id, household_count AS households, encode(ST_AsEWKB(geom), 'hex') AS wkb FROM region WHERE id = ANY($1::int[]) ORDER BY id`,
        [grids.slice(1).map((g) => g.id)],
      );
      expect(now).toEqual(grids.slice(1));
      const t = await tiling(village.id);
      expect(Math.max(t.gap, t.overlap, t.outside)).toBeLessThan(1);
      expect(t.multipart).toBe(0);
      expect((await householdsOf(village.id)).filed).toBe(village.households + 20);
      // Nothing left to rebalance: the same request now proposes no change.
      const again = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { rebalance: true }, user);
      expect(again.body.summary).toMatchObject({ grids: 0, householdsMoved: 0, kept: grids.length + committed.body.summary.grids - 1 });
      await ctx.request('POST', '/api/changes/undo', undefined, user);
      await ctx.request('POST', '/api/changes/undo', undefined, user);
      expect((await householdsOf(village.id)).filed).toBe(village.households);
    });

    it('rebalancing to a stricter rule releases a kept neighbour where the rest is too small to be a grid', async () => {
      const { rows } = await ctx.db.query<{ id: number; households: number }>(
        'SELECT id, household_count AS households FROM region WHERE parent_id = $1 ORDER BY household_count, id',
        [village.id],
      );
      const min = rows[0]!.households + 1; // the smallest grid now falls short
      const res = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, { rebalance: true, min, max: 40, target: Math.max(min, 20) }, user);
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      const { summary } = res.body;
      const short = rows.filter((r) => r.households < min).length;
      expect(summary.kept).toBe(rows.length - short - summary.released);
      expect(summary.released).toBeGreaterThan(0);
      expect(summary.withinRangeShare).toBe(1);
    });

    it('divides every village of a township and streams progress per village', async () => {
      const res = await ctx.app.request(`/api/regions/${township}/autosplit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson', ...(await ctx.cookie({ username: 'tester', role: 'admin' })) },
        body: JSON.stringify({}),
      });
      expect(res.status).toBe(200);
      const lines = (await res.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const {
        rows: [{ n }],
      } = (await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM region WHERE parent_id = $1 AND level = 'village'`, [township])) as any;
      expect(lines.filter((l) => l.progress).map((l) => l.progress.done)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      const { result } = lines.at(-1);
      expect(result.summary.villages).toBe(n);
      expect(new Set(result.proposal.features.map((f: any) => f.properties.villageId)).size).toBe(n);
      expect(result.summary.withinRangeShare).toBeGreaterThanOrEqual(0.99);
    });

    it('reports an area too small for the range per grid instead of failing', async () => {
      const res = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, {
        min: village.households + 1,
        max: village.households + 50,
        target: village.households + 10,
      });
      expect(res.status).toBe(200);
      expect(res.body.summary.grids).toBe(1);
      expect(res.body.summary.infeasible).toEqual([
        { ord: 1, villageId: village.id, village: village.name, reason: 'too_few_households', households: village.households },
      ]);
      expect(res.body.proposal.features[0].properties.status).toBe('under');
    });

    it('types a village nobody typed, without grids to show it, by its name — a 社区 as residential, a 村 as rural — and says so', async () => {
      const { rows } = await ctx.db.query<{ id: number }>(
        `SELECT v.id FROM region v WHERE v.level = 'village' AND v.id <> $1 AND v.household_count BETWEEN 30 AND 300 ORDER BY v.code LIMIT 1`,
        [village.id],
      );
      const id = rows[0]!.id;
      await ctx.db.query(`UPDATE region SET grid_type = NULL WHERE id = $1 OR (parent_id = $1 AND level = 'grid')`, [id]);
      for (const [name, type, said] of [
        ['试验社区', 'residential', { residential: 1, rural: 0 }],
        ['试验村', 'rural', { residential: 0, rural: 1 }],
      ] as const) {
        await ctx.db.query(`UPDATE region SET name = $2 WHERE id = $1`, [id, name]);
        const res = await ctx.request('POST', `/api/regions/${id}/autosplit`, {});
        expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
        expect(res.body.summary.typedByName).toEqual(said);
        expect(new Set(res.body.proposal.features.map((f: { properties: { gridType: string } }) => f.properties.gridType))).toEqual(new Set([type]));
      }
      // a type asked for is no guess
      const asked = await ctx.request('POST', `/api/regions/${id}/autosplit`, { gridType: 'scattered' });
      expect(asked.body.summary.typedByName).toEqual({ residential: 0, rural: 0 });
    });

    it('gives a village’s detached part without households to one of its grids, which the coverage check takes as whole', async () => {
      // A village with a detached empty part (飞地): a square of a neighbouring village of its township, away from
      // both villages' households and edges, handed over (cut from the neighbour and its grid).
      const { rows } = await ctx.db.query<{ a: number; b: number; square: string }>(
        `SELECT a.id AS a, b.id AS b, ST_AsEWKT(sq.g) AS square
         FROM region a JOIN region b ON b.parent_id = a.parent_id AND b.level = 'village' AND b.id <> a.id,
              LATERAL (SELECT ST_Expand(ST_PointOnSurface(b.geom), 0.0004) AS g) sq
         WHERE a.level = 'village' AND a.id <> $1 AND a.household_count BETWEEN 30 AND 300 AND ST_Touches(a.geom, b.geom)
           AND ST_Within(sq.g, b.geom) AND ST_Distance(sq.g, a.geom) > 0.001
           AND NOT EXISTS (SELECT 1 FROM household h WHERE h.geom && ST_Expand(sq.g, 0.0002))
           AND NOT EXISTS (SELECT 1 FROM region g WHERE g.parent_id = b.id AND ST_Intersects(g.geom, sq.g) AND NOT ST_Within(sq.g, g.geom))
         ORDER BY a.code, b.code LIMIT 1`,
        [village.id],
      );
      expect(rows).toHaveLength(1);
      const { a, b, square } = rows[0]!;
      await ctx.db.query(
        `UPDATE region SET geom = ST_Multi(gp_difference(geom, ST_GeomFromEWKT($2)))
         WHERE id = $1 OR (parent_id = $1 AND ST_Intersects(geom, ST_GeomFromEWKT($2)))`,
        [b, square],
      );
      await ctx.db.query(`UPDATE region SET geom = ST_Multi(ST_Union(geom, ST_GeomFromEWKT($2), gp_grid())) WHERE id = $1`, [a, square]);
      expect((await ctx.db.query<{ n: number }>('SELECT ST_NumGeometries(geom) AS n FROM region WHERE id = $1', [a])).rows[0]!.n).toBe(2);

      const res = await ctx.request('POST', `/api/regions/${a}/autosplit`, { commit: true }, user);
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      // no grid of its own for the empty part: it goes with a grid of the village, which holds its households in range
      expect(res.body.summary.infeasible).toEqual([]);
      expect(res.body.summary.withinRangeShare).toBe(1);
      // lying in both parts of the village crosses no line
      expect(res.body.summary.barrierCrossings).toBe(0);
      const t = await tiling(a);
      expect(t.gap).toBeLessThan(1);
      expect(t.overlap).toBeLessThan(1);
      expect(t.multipart).toBe(1);
      const coverage = await ctx.request('GET', `/api/regions/${a}/coverage`);
      expect(coverage.status).toBe(200);
      const kinds = coverage.body.issues.features.map((f: { properties: { kind: string } }) => f.properties.kind);
      expect(kinds.filter((k: string) => k === 'multipart_grid' || k === 'households_out_of_range' || k === 'gap')).toEqual([]);
      // a grid whose two pieces lie in one part of its village is still one piece too many
      const { rows: split } = await ctx.db.query<{ whole: boolean; twoInOne: boolean }>(
        `WITH v AS (SELECT ST_Multi(ST_Union(ST_MakeEnvelope(0, 0, 10, 10, 4326), ST_MakeEnvelope(20, 0, 30, 10, 4326))) AS g)
         SELECT gp_split_grid(ST_Multi(ST_Union(ST_MakeEnvelope(1, 1, 2, 2, 4326), ST_MakeEnvelope(21, 1, 22, 2, 4326))), v.g) AS whole,
                gp_split_grid(ST_Multi(ST_Union(ST_MakeEnvelope(1, 1, 2, 2, 4326), ST_MakeEnvelope(5, 5, 6, 6, 4326))), v.g) AS "twoInOne"
         FROM v`,
      );
      expect(split[0]).toEqual({ whole: false, twoInOne: true });
    });

    it('refuses a range that would make more grids than one auto-split makes, and a second split of one person while the first is worked out', async () => {
      const before = await ctx.snapshot();
      // (one household a grid over a district made 78,000 grids: a minute of a core and a 47 MB answer)
      const few = await apiContext(db, { limits: { splitGrids: 3 } });
      const res = await few.request('POST', `/api/regions/${village.id}/autosplit`, { target: 1, commit: true });
      expect([res.status, res.body.error?.code, res.body.error?.path]).toEqual([413, 'too_many_grids', 'target']);
      expect(res.body.error.message).toMatch(/about \d+ grids here, more than the 3/);
      // six previews of a township at once held every other request for tens of seconds: one a person
      // (the first is held here until the second has been answered, so that the two meet whatever the machine's speed)
      let release = () => {};
      const held = new Promise<void>((r) => (release = r));
      const me = { get: () => ({ username: 'tester' }) } as unknown as Parameters<typeof splitting>[0];
      const first = splitting(me, () => held);
      const second = await ctx.request('POST', `/api/regions/${village.id}/autosplit`, {});
      expect([second.status, second.body.error?.code]).toEqual([429, 'too_many_splits']);
      expect(await ctx.snapshot()).toEqual(before);
      // and once it is done, the next is taken
      release();
      await first;
      expect((await ctx.request('POST', `/api/regions/${village.id}/autosplit`, {})).status).toBe(200);
    });

    it('refuses bad input with a located error and writes nothing', async () => {
      const before = await ctx.snapshot();
      const {
        rows: [grid],
      } = await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'grid' AND parent_id <> $1 ORDER BY id LIMIT 1`, [village.id]);
      const cases: [string, unknown, number, string, string][] = [
        [`/api/regions/999999/autosplit`, {}, 404, 'not_found', 'id'],
        [`/api/regions/${grid!.id}/autosplit`, {}, 422, 'not_divisible', 'id'],
        [`/api/regions/${village.id}/autosplit`, { min: 'ten' }, 400, 'invalid_request', 'json.min'],
        [`/api/regions/${village.id}/autosplit`, { min: 30, max: 20, commit: true }, 422, 'invalid_range', 'min'],
        [`/api/regions/${village.id}/autosplit`, { target: 90, commit: true }, 422, 'invalid_range', 'target'],
        [`/api/regions/${village.id}/autosplit`, { gridType: 'castle' }, 400, 'invalid_request', 'json.gridType'],
        [`/api/regions/${village.id}/autosplit`, { keep: [grid!.id], commit: true }, 422, 'not_in_area', 'keep[0]'],
        [`/api/regions/${village.id}/autosplit`, { keep: [999999], commit: true }, 404, 'not_found', 'keep[0]'],
        [`/api/regions/${village.id}/autosplit`, { barriers: { type: 'Polygon', coordinates: [] }, commit: true }, 422, 'wrong_geometry_type', 'barriers.type'],
        [
          `/api/regions/${village.id}/autosplit`,
          {
            barriers: {
              type: 'LineString',
              coordinates: [
                [104, 25],
                [104, 95],
              ],
            },
            commit: true,
          },
          422,
          'coordinate_out_of_range',
          'barriers.coordinates[1][1]',
        ],
        [
          `/api/regions/${village.id}/autosplit`,
          {
            barriers: {
              type: 'FeatureCollection',
              features: [
                {
                  type: 'Feature',
                  geometry: {
                    type: 'LineString',
                    coordinates: [
                      [104, 25],
                      [104, 25],
                    ],
                  },
                },
              ],
            },
            commit: true,
          },
          422,
          'line_too_short',
          'barriers.features[0].geometry.coordinates',
        ],
      ];
      for (const [path, body, status, code, where] of cases) {
        const res = await ctx.request('POST', path, body, user);
        expect({ path, body, status: res.status, code: res.body.error?.code, where: res.body.error?.path }).toEqual({ path, body, status, code, where });
      }
      expect(await ctx.snapshot()).toEqual(before);
    });
  });
}
