import { describe, expect, it } from 'vitest';
import { pointInRing, splitBlock, type Atom, type XY } from '../../server/domain/autosplit.ts';
import { LocalFrame } from '../../server/domain/local-frame.ts';
import { expectFixture, fixtureCases, style } from '../support/fixtures.ts';

const COLORS = ['#1971c2', '#2f9e44', '#e8590c', '#9c36b5', '#c2255c', '#0c8599', '#66a80f', '#f08c00', '#5f3dc4', '#d9480f'];

describe('splitBlock on fixtures (tests/fixtures/split-block)', () => {
  for (const c of fixtureCases('split-block')) {
    it(`splits ${c.name} into groups within range, every household in exactly one`, () => {
      const block = c.input.features.find((f) => f.properties?.role === 'block')!;
      const rule = { min: block.properties!.min as number, max: block.properties!.max as number, target: block.properties!.target as number };
      const households = c.input.features.filter((f) => f.properties?.role === 'household');
      const outline = block.geometry as GeoJSON.MultiPolygon;
      const frame = new LocalFrame(outline.coordinates[0]![0]![0] as [number, number]);
      const atoms: Atom[] = households.map((f) => {
        const [x, y] = frame.toXY((f.geometry as GeoJSON.Point).coordinates as [number, number]);
        return { x, y, weight: f.properties!.weight as number };
      });
      // every ring of the block is a wall: the outline of each piece and each hole
      const walls: XY[][] = outline.coordinates.flatMap((poly) => poly.map((ring) => ring.map((p) => frame.toXY(p as [number, number]))));
      const groups = splitBlock(atoms, walls, rule);
      const seen = new Set<number>();
      for (const g of groups) {
        for (const a of g.atoms) {
          expect(seen.has(a), `household ${a} in two groups`).toBe(false);
          seen.add(a);
        }
      }
      expect(seen.size).toBe(atoms.length);
      for (const g of groups) {
        if (g.reason === null) expect(g.households).toBeGreaterThanOrEqual(rule.min);
        if (g.reason === null) expect(g.households).toBeLessThanOrEqual(rule.max);
        for (const a of g.atoms) expect(g.polygons.some((p) => pointInRing([atoms[a]!.x, atoms[a]!.y], p[0]!))).toBe(true);
      }
      const color = (i: number) => COLORS[i % COLORS.length]!;
      const toLonLat = (ring: XY[]) => ring.map((p) => frame.toLonLat(p));
      expectFixture(c, {
        type: 'FeatureCollection',
        features: [
          { ...block, properties: { role: 'block', ...rule, ...style('#000000') } },
          ...groups.map((g, i): GeoJSON.Feature => ({
            type: 'Feature',
            properties: { role: 'group', households: g.households, reason: g.reason, ...style(color(i), color(i), 0.25) },
            geometry: { type: 'MultiPolygon', coordinates: g.polygons.map((p) => p.map(toLonLat)) },
          })),
          ...groups.flatMap((g, i) =>
            g.atoms.map((a): GeoJSON.Feature => ({
              ...households[a]!,
              properties: { role: 'household', group: i, weight: atoms[a]!.weight, 'marker-color': color(i) },
            })),
          ),
        ],
      });
    });
  }
});
