import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../server/db/db.ts';
import { cloneTestDb, DRIVERS } from '../support/db.ts';

/**
 * The seeded hierarchy's invariants, checked in PostGIS: each level tiles its parent
 * (no gap, no overlap, nothing outside), every household sits in exactly one grid.
 */
for (const driver of DRIVERS) {
  describe(`seeded demo district (${driver})`, () => {
    let db: Db;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ db, dispose } = await cloneTestDb(driver));
    });
    afterAll(() => dispose());

    it('has about 8–11 townships, villages under each, and grids under every village', async () => {
      const { rows } = await db.query<{ level: string; n: number }>('SELECT level, count(*)::int AS n FROM region GROUP BY level');
      const n = Object.fromEntries(rows.map((r) => [r.level, r.n]));
      expect(n.district).toBe(1);
      expect(n.township).toBeGreaterThanOrEqual(8);
      expect(n.township).toBeLessThanOrEqual(11);
      expect(n.village).toBeGreaterThanOrEqual(n.township! * 2);
      const empty = await db.query(`SELECT v.code FROM region v WHERE v.level = 'village' AND NOT EXISTS (SELECT 1 FROM region g WHERE g.parent_id = v.id)`);
      expect(empty.rows).toEqual([]);
    });

    it('tiles every parent with its children: no gap, no overlap, nothing outside (tolerance 1 m²)', async () => {
      // Planar area identities, converted to m² at the parent's latitude. Not geography areas: those
      // treat long edges as geodesics, so one planar tiling measured with different vertex sets
      // differs by thousands of m². Not ST_Difference: PGlite's PostGIS 3.6.2 silently drops the row
      // when it gets two equal polygons whose rings start at different vertices.
      const { rows } = await db.query<{ code: string; gap: number; outside: number; overlap: number }>(
        `WITH parent AS (
           SELECT id, code, geom, 111320.0 * 110574.0 * cos(radians(ST_Y(ST_Centroid(geom)))) AS m2_per_deg2
           FROM region WHERE level <> 'grid'),
         cover AS (
           SELECT p.id, ST_Union(c.geom, gp_grid()) AS geom, sum(ST_Area(c.geom)) AS children_area
           FROM parent p JOIN region c ON c.parent_id = p.id GROUP BY p.id)
         SELECT p.code,
                (ST_Area(p.geom) - ST_Area(ST_Intersection(p.geom, c.geom, gp_grid()))) * p.m2_per_deg2 AS gap,
                (ST_Area(c.geom) - ST_Area(ST_Intersection(p.geom, c.geom, gp_grid()))) * p.m2_per_deg2 AS outside,
                (c.children_area - ST_Area(c.geom)) * p.m2_per_deg2 AS overlap
         FROM parent p JOIN cover c ON c.id = p.id`,
      );
      expect(rows.length).toBeGreaterThan(10);
      const bad = rows.filter((r) => r.gap > 1 || r.outside > 1 || r.overlap > 1);
      expect(bad).toEqual([]);
    });

    it('makes every grid one polygon with a code that follows its parent', async () => {
      const { rows } = await db.query<{ code: string }>(
        `SELECT c.code FROM region c JOIN region p ON p.id = c.parent_id
         WHERE ST_NumGeometries(c.geom) <> 1 OR NOT ST_IsValid(c.geom) OR c.code NOT LIKE p.code || '-%'`,
      );
      expect(rows).toEqual([]);
    });

    it("names each dispatched case's department as the department it was dispatched to (承办部门 in exports)", async () => {
      const { rows } = await db.query<{ n: number; wrong: number }>(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE i.department IS DISTINCT FROM dep.zh)::int AS wrong
         FROM incident i JOIN dispatch d ON d.incident_id = i.id JOIN department dep ON dep.id = d.department_id`,
      );
      expect(rows[0]!.n).toBeGreaterThan(0);
      expect(rows[0]!.wrong).toBe(0);
    });

    it('puts every household in exactly one grid, and counts them', async () => {
      const { rows } = await db.query<{ unassigned: number; wrong: number; total: number; counted: number }>(
        `SELECT (SELECT count(*)::int FROM household h LEFT JOIN region r ON r.id = h.region_id WHERE r.level IS DISTINCT FROM 'grid') AS unassigned,
                (SELECT count(*)::int FROM household h JOIN region r ON r.id = h.region_id WHERE NOT ST_Intersects(r.geom, h.geom)) AS wrong,
                (SELECT count(*)::int FROM household) AS total,
                (SELECT household_count FROM region WHERE level = 'district') AS counted`,
      );
      expect(rows[0]).toMatchObject({ unassigned: 0, wrong: 0 });
      expect(rows[0]!.counted).toBe(rows[0]!.total);
    });

    it('staffs every grid: its full-time worker, leader, police officer and instructor', async () => {
      const { rows } = await db.query<{ grids: number; unstaffed: number; short: number }>(
        `SELECT count(*)::int AS grids, count(*) FILTER (WHERE worker_id IS NULL)::int AS unstaffed,
                count(*) FILTER (WHERE (SELECT count(DISTINCT s.role) FROM grid_staff s WHERE s.grid_id = g.id AND s.role IN ('grid_leader', 'police',
                  'instructor')) < 3)::int AS short
         FROM region g WHERE level = 'grid'`,
      );
      expect(rows[0]!.grids).toBeGreaterThan(100);
      expect(rows[0]).toMatchObject({ unstaffed: 0, short: 0 });
    });

    it('gives households a size and an address in their township and village', async () => {
      const { rows } = await db.query<{ address: string; township: string; village: string; size: number }>(
        `SELECT h.address, t.name AS township, v.name AS village, h.size FROM household h
         JOIN region g ON g.id = h.region_id JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id
         ORDER BY h.id LIMIT 50`,
      );
      for (const r of rows) {
        expect(r.address.startsWith(r.township + r.village)).toBe(true);
        expect(r.size).toBeGreaterThanOrEqual(1);
      }
    });
  });
}
