import booleanPointInPolygon from '@turf/boolean-point-in-polygon';
import Flatbush from 'flatbush';
import type { FlatPolygon } from './tiling.ts';

export interface LocatorRegion {
  id: number;
  level: string;
  /** Its polygons as read from WKB, bit for bit as the database holds them. */
  polygons: FlatPolygon[];
}

/** The order in which regions claim a point: a grid first, then village, township, and the rest (district, city). */
const RANK: Record<string, number> = { grid: 0, village: 1, township: 2 };

/**
 * Finds the finest region holding each point, as the database's locating query does — grid first
 * (the lowest id where a point lies on a shared border), else village, township, district — but in
 * memory: 130,000 points against a county's regions take a fraction of a second here, against about
 * five seconds of index probes and `ST_Intersects` calls in the database.
 *
 * A point on a border counts as inside, as `ST_Intersects` has it. The test (`point-in-polygon-hao`,
 * through turf) decides sides with exact orientation (`robust-predicates`) on coordinate differences
 * that are themselves exact where point and vertex are within a factor of two of each other (Sterbenz)
 * — always so within a county — so a point on an edge is found there exactly. A differential test
 * holds it to PostGIS.
 */
export class PointLocator {
  private readonly index: Flatbush | null = null;
  private readonly regions: { id: number; geometry: GeoJSON.MultiPolygon }[];

  constructor(regions: LocatorRegion[]) {
    // a point's candidates are tried in this order, so the first that holds it wins
    const sorted = [...regions].sort((a, b) => (RANK[a.level] ?? 3) - (RANK[b.level] ?? 3) || a.id - b.id);
    this.regions = sorted.map((r) => ({
      id: r.id,
      geometry: {
        type: 'MultiPolygon',
        coordinates: r.polygons.map((rings) =>
          rings.map((flat) => {
            const ring: [number, number][] = [];
            for (let i = 0; i < flat.length; i += 2) ring.push([flat[i]!, flat[i + 1]!]);
            return ring;
          }),
        ),
      },
    }));
    if (sorted.length === 0) return;
    this.index = new Flatbush(sorted.length);
    for (const r of sorted) {
      let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
      for (const rings of r.polygons) {
        const outer = rings[0]!;
        for (let i = 0; i < outer.length; i += 2) {
          const x = outer[i]!;
          const y = outer[i + 1]!;
          if (x < x0) x0 = x;
          if (y < y0) y0 = y;
          if (x > x1) x1 = x;
          if (y > y1) y1 = y;
        }
      }
      this.index.add(x0, y0, x1, y1);
    }
    this.index.finish();
  }

  /** The id of the finest region holding the point, or null when none does. */
  locate(lon: number, lat: number): number | null {
    if (!this.index) return null;
    const hits = this.index.search(lon, lat, lon, lat).sort((a, b) => a - b);
    for (const i of hits) {
      const r = this.regions[i]!;
      if (booleanPointInPolygon([lon, lat], r.geometry, { ignoreBoundary: false })) return r.id;
    }
    return null;
  }
}
