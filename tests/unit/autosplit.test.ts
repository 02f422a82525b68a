import * as turf from '@turf/turf';
import type { MultiPolygon, Polygon } from 'geojson';
import { describe, expect, it } from 'vitest';
import { gridCount, lastRepair, pointInRing, splitBlock, type Atom, type SplitGroup, type XY } from '../../server/domain/autosplit.ts';
import { Random } from '../../server/seed/random.ts';

const RURAL = { min: 10, max: 25, target: 18 };
const square = (s: number): XY[] => [
  [0, 0],
  [s, 0],
  [s, s],
  [0, s],
  [0, 0],
];
/** A U: two arms 1,000 m apart joined by a base at the bottom. */
const U: XY[] = [
  [0, 0],
  [3000, 0],
  [3000, 4000],
  [2000, 4000],
  [2000, 1000],
  [1000, 1000],
  [1000, 4000],
  [0, 4000],
  [0, 0],
];

function scatter(seed: number, n: number, inside: (p: XY) => boolean, box: [number, number, number, number]): Atom[] {
  const r = new Random(seed);
  const atoms: Atom[] = [];
  while (atoms.length < n) {
    const p: XY = [box[0] + r.next() * (box[2] - box[0]), box[1] + r.next() * (box[3] - box[1])];
    if (inside(p)) atoms.push({ x: p[0], y: p[1], weight: r.next() < 0.1 ? 2 : 1 });
  }
  return atoms;
}

/** Area of a planar (multi)polygon, in the coordinates' own unit squared. */
function planarArea(g: Polygon | MultiPolygon): number {
  const ring = (r: number[][]) => Math.abs(r.reduce((s, p, i) => (i ? s + r[i - 1]![0]! * p[1]! - p[0]! * r[i - 1]![1]! : 0), 0)) / 2;
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
  return polys.reduce((s, poly) => s + poly.reduce((t, r, i) => t + (i ? -1 : 1) * ring(r), 0), 0);
}

const inPolygon = (p: XY, poly: XY[][]) => pointInRing(p, poly[0]!) && !poly.slice(1).some((h) => pointInRing(p, h));
const total = (atoms: Atom[]) => atoms.reduce((s, a) => s + a.weight, 0);

/** Every atom in exactly one group, inside that group's outline and no other's. */
function expectPartition(atoms: Atom[], groups: SplitGroup[]) {
  const owner = new Map<number, number>();
  groups.forEach((g, gi) =>
    g.atoms.forEach((a) => {
      expect(owner.has(a), `atom ${a} in two groups`).toBe(false);
      owner.set(a, gi);
    }),
  );
  expect(owner.size).toBe(atoms.length);
  atoms.forEach((a, i) => {
    const holders = groups.map((g, gi) => (g.polygons.some((poly) => inPolygon([a.x, a.y], poly)) ? gi : -1)).filter((gi) => gi >= 0);
    expect(holders, `atom ${i}`).toEqual([owner.get(i)]);
  });
  for (const g of groups) expect(g.households).toBe(g.atoms.reduce((s, a) => s + atoms[a]!.weight, 0));
}

/** Pieces of each group's outline inside `block` that hold one of its households. */
function piecesWithHouseholds(atoms: Atom[], g: SplitGroup, block: XY[][]): number {
  const clipped = turf.intersect(turf.featureCollection<Polygon | MultiPolygon>([turf.multiPolygon(g.polygons), turf.polygon(block)]));
  if (!clipped) return 0;
  const parts = clipped.geometry.type === 'Polygon' ? [clipped.geometry.coordinates] : clipped.geometry.coordinates;
  return parts.filter((part) => g.atoms.some((a) => inPolygon([atoms[a]!.x, atoms[a]!.y], part as XY[][]))).length;
}

describe('grid count', () => {
  it('is the count nearest the target that keeps every grid in range', () => {
    expect(gridCount(36, RURAL)).toBe(2);
    expect(gridCount(100, RURAL)).toBe(6);
    expect(gridCount(26, RURAL)).toBe(2); // 13 + 13, though 26 / 18 rounds to 1
    expect(gridCount(24, RURAL)).toBe(1);
  });
  it('is 1 when no count works (fewer households than the minimum)', () => {
    expect(gridCount(4, RURAL)).toBe(1);
    expect(gridCount(0, RURAL)).toBe(1);
  });
});

describe('splitting a block', () => {
  it('divides 600 addresses in a square into grids all within 10–25 households', () => {
    const atoms = scatter(1, 600, () => true, [0, 0, 2000, 2000]);
    const groups = splitBlock(atoms, [square(2000)], RURAL);
    expectPartition(atoms, groups);
    expect(groups.every((g) => g.households >= 10 && g.households <= 25 && g.reason === null)).toBe(true);
    expect(groups.length).toBe(gridCount(total(atoms), RURAL));
    expect(groups.every((g) => g.polygons.length === 1)).toBe(true);
  });

  it('gives the same groups for the same input and leaves the input alone', () => {
    const atoms = scatter(2, 300, () => true, [0, 0, 1500, 1500]);
    const copy = structuredClone(atoms);
    const a = splitBlock(atoms, [square(1500)], RURAL);
    const b = splitBlock(atoms, [square(1500)], RURAL);
    expect(a).toEqual(b);
    expect(atoms).toEqual(copy);
  });

  it('never joins the two arms of a U across the notch: every grid is one piece inside the U', () => {
    const inU = ([x, y]: XY) => pointInRing([x, y], U);
    const atoms = scatter(3, 500, inU, [0, 0, 3000, 4000]);
    const groups = splitBlock(atoms, [U], RURAL);
    expectPartition(atoms, groups);
    for (const g of groups) expect(piecesWithHouseholds(atoms, g, [U])).toBe(1);
    expect(groups.filter((g) => g.reason !== null)).toEqual([]);
  });

  it('splits a block with a hole (a lake) into grids that stay whole around it', () => {
    const hole: XY[] = [
      [800, 800],
      [800, 1200],
      [1200, 1200],
      [1200, 800],
      [800, 800],
    ];
    const block = [square(2000), hole];
    const atoms = scatter(4, 400, (p) => !pointInRing(p, hole), [0, 0, 2000, 2000]);
    const groups = splitBlock(atoms, block, RURAL);
    expectPartition(atoms, groups);
    for (const g of groups) expect(piecesWithHouseholds(atoms, g, block)).toBe(1);
  });

  it('reports too few households instead of failing', () => {
    const atoms = scatter(5, 6, () => true, [0, 0, 500, 500]).map((a) => ({ ...a, weight: 1 }));
    const groups = splitBlock(atoms, [square(500)], RURAL);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ households: 6, reason: 'too_few_households' });
  });

  it('gives a building above the maximum a grid of its own and divides the rest normally', () => {
    const atoms: Atom[] = [{ x: 1000, y: 1000, weight: 60 }, ...scatter(6, 120, () => true, [0, 0, 2000, 2000]).map((a) => ({ ...a, weight: 1 }))];
    const groups = splitBlock(atoms, [square(2000)], RURAL);
    expectPartition(atoms, groups);
    const big = groups.find((g) => g.atoms.includes(0))!;
    expect(big).toMatchObject({ reason: 'location_exceeds_max' });
    expect(big.households).toBeGreaterThanOrEqual(60);
    expect(groups.filter((g) => g !== big).every((g) => g.reason === null && g.households >= 10 && g.households <= 25)).toBe(true);
  });

  it('handles a single address and addresses on one line', () => {
    expect(splitBlock([{ x: 5, y: 5, weight: 12 }], [square(10)], RURAL)).toMatchObject([{ atoms: [0], households: 12, reason: null }]);
    const line = Array.from({ length: 40 }, (_, i) => ({ x: i * 10, y: 0, weight: 1 }));
    const groups = splitBlock(line, [], RURAL);
    expectPartition(line, groups);
    expect(groups.map((g) => g.households)).toEqual([20, 20]);
  });

  it('draws straight, compact borders where every count stays in range: convex cells that tile the block', () => {
    const atoms = scatter(11, 900, () => true, [0, 0, 3000, 3000]);
    const groups = splitBlock(atoms, [square(3000)], RURAL);
    expectPartition(atoms, groups);
    expect(groups.every((g) => g.straight)).toBe(true);
    const block = turf.polygon([square(3000)]);
    let area = 0;
    let pp = 0;
    for (const g of groups) {
      expect(g.polygons.length).toBe(1);
      expect(g.households).toBeGreaterThanOrEqual(10);
      expect(g.households).toBeLessThanOrEqual(25);
      const cell = turf.intersect(turf.featureCollection<Polygon | MultiPolygon>([turf.polygon(g.polygons[0]!), block]))!;
      expect(cell.geometry.type).toBe('Polygon'); // convex ∩ square: one piece
      const ring = (cell.geometry as Polygon).coordinates[0]!;
      expect(ring.length - 1).toBeLessThanOrEqual(12); // a handful of straight sides, not a zig-zag between houses
      const a = Math.abs(ring.reduce((s, p, i) => (i ? s + ring[i - 1]![0]! * p[1]! - p[0]! * ring[i - 1]![1]! : 0), 0)) / 2;
      const perimeter = ring.reduce((s, p, i) => (i ? s + Math.hypot(p[0]! - ring[i - 1]![0]!, p[1]! - ring[i - 1]![1]!) : 0), 0);
      area += a;
      pp += (4 * Math.PI * a) / perimeter ** 2;
    }
    expect(Math.abs(area - 3000 * 3000)).toBeLessThan(1); // no gap, no overlap
    expect(pp / groups.length).toBeGreaterThan(0.75);
    // The engine before, for the same households: zig-zag outlines between the houses.
    const old = splitBlock(atoms, [square(3000)], RURAL, { straight: false });
    expect(old.every((g) => !g.straight)).toBe(true);
    expect(old.reduce((s, g) => s + g.polygons[0]![0]!.length, 0) / old.length).toBeGreaterThan(20);
  });

  it('divides again, with their neighbours, the few straight cells lumpy hamlets leave out of range: the rest stays straight, all tiles', () => {
    // 120 hamlets of a few to 30 addresses, some of them blocks of flats: balancing the weights
    // leaves a few cells out of range (before this, the whole block fell back to outlines between the houses).
    const r = new Random(29);
    const atoms: Atom[] = [];
    for (let h = 0; h < 120; h++) {
      const [cx, cy] = [200 + r.next() * 3600, 200 + r.next() * 3600];
      const m = 3 + Math.floor(r.next() * 30);
      for (let i = 0; i < m; i++)
        atoms.push({ x: cx + (r.next() - 0.5) * 150, y: cy + (r.next() - 0.5) * 150, weight: r.next() < 0.04 ? 3 + Math.floor(r.next() * 4) : 1 });
    }
    const groups = splitBlock(atoms, [square(4000)], RURAL);
    expect(lastRepair.cells).toBeGreaterThan(0);
    expect(lastRepair.cells).toBeLessThan(groups.length / 5);
    expectPartition(atoms, groups);
    expect(groups.every((g) => g.straight)).toBe(true);
    let area = 0;
    const block = turf.polygon([square(4000)]);
    for (const g of groups) {
      expect(g.households).toBeGreaterThanOrEqual(RURAL.min);
      expect(g.households).toBeLessThanOrEqual(RURAL.max);
      const inside = turf.intersect(turf.featureCollection<Polygon | MultiPolygon>([turf.multiPolygon(g.polygons), block]));
      area += inside ? planarArea(inside.geometry) : 0;
    }
    expect(Math.abs(area - 4000 * 4000)).toBeLessThan(1); // no gap, no overlap
  });

  it('divides addresses on one line (a street of houses) into strips in range, each house inside its own', () => {
    const line = Array.from({ length: 40 }, (_, i) => ({ x: i * 10, y: 0, weight: 1 }));
    const groups = splitBlock(line, [], RURAL);
    expect(groups.map((g) => g.households).reduce((a, b) => a + b, 0)).toBe(40);
    for (const g of groups) {
      expect(g.households).toBeGreaterThanOrEqual(RURAL.min);
      expect(g.households).toBeLessThanOrEqual(RURAL.max);
      for (const a of g.atoms) expect(g.polygons.some((p) => pointInRing([line[a]!.x, line[a]!.y], p[0]!))).toBe(true);
    }
  });

  it('returns nothing for no addresses and refuses a rule whose target is out of its range', () => {
    expect(splitBlock([], [square(10)], RURAL)).toEqual([]);
    expect(() => splitBlock([{ x: 0, y: 0, weight: 1 }], [], { min: 10, max: 25, target: 30 })).toThrow(/10–25 \(target 30\)/);
  });
});

describe('splitBlock balancing the workload', () => {
  // 400 households in a square; the east third has busy addresses (markets, a school): 3 incidents-worth of work each.
  const atoms = scatter(11, 400, () => true, [0, 0, 3000, 3000]);
  const busy = atoms.map((a) => ({ ...a, load: a.weight * (a.x > 2000 ? 3 : 1) }));
  const loadOf = (groups: SplitGroup[]) => groups.map((g) => g.atoms.reduce((s, i) => s + busy[i]!.load, 0));
  const cv = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length) / mean;
  };

  for (const straight of [false, true]) {
    it(`spreads the work more evenly than households alone, every count still in range (${straight ? 'straight' : 'between the houses'})`, () => {
      const plain = splitBlock(atoms, [square(3000)], RURAL, { straight });
      const balanced = splitBlock(busy, [square(3000)], RURAL, { straight });
      for (const groups of [plain, balanced]) {
        expect(groups.every((g) => g.households >= RURAL.min && g.households <= RURAL.max)).toBe(true);
        expect(new Set(groups.flatMap((g) => g.atoms)).size).toBe(atoms.length);
      }
      expect(cv(loadOf(balanced))).toBeLessThan(0.8 * cv(loadOf(plain)));
      // The busy east gets smaller grids (by households) than the quiet west.
      const mean = (gs: SplitGroup[]) => gs.reduce((s, g) => s + g.households, 0) / gs.length;
      const east = balanced.filter((g) => g.atoms.every((i) => atoms[i]!.x > 2000));
      const west = balanced.filter((g) => g.atoms.every((i) => atoms[i]!.x < 2000));
      expect(mean(east)).toBeLessThan(mean(west));
    });
  }

  it('balances nothing away when every address weighs its households', () => {
    const same = atoms.map((a) => ({ ...a, load: a.weight }));
    expect(
      splitBlock(same, [square(3000)], RURAL)
        .map((g) => g.households)
        .sort(),
    ).toEqual(
      splitBlock(atoms, [square(3000)], RURAL)
        .map((g) => g.households)
        .sort(),
    );
  });
});

describe('splitBlock with a walking-distance limit', () => {
  // Two hamlets 3 km apart, 12 households each: one grid of 24 by count, too wide to walk.
  const hamlet = (cx: number, seed: number) => scatter(seed, 12, () => true, [cx - 100, -100, cx + 100, 100]).map((a) => ({ ...a, weight: 1 }));
  const atoms = [...hamlet(0, 21), ...hamlet(3000, 22)];
  const walls = [
    [
      [-500, -500],
      [3500, -500],
      [3500, 500],
      [-500, 500],
      [-500, -500],
    ] as XY[],
  ];
  const spread = (g: SplitGroup) => {
    const xs = g.atoms.map((i) => atoms[i]!.x);
    return Math.max(...xs) - Math.min(...xs);
  };

  it('keeps the two hamlets in one grid without a limit, and gives each its own grid with one', () => {
    expect(splitBlock(atoms, walls, RURAL)).toHaveLength(1);
    const limited = splitBlock(atoms, walls, RURAL, { maxWidth: 1500 });
    expect(limited).toHaveLength(2);
    for (const g of limited) {
      expect(g.households).toBe(12);
      expect(spread(g)).toBeLessThan(1500);
    }
  });

  it('does not break the range for it: too few households for two grids stay one', () => {
    const few = [...hamlet(0, 23).slice(0, 8), ...hamlet(3000, 24).slice(0, 8)];
    expect(splitBlock(few, walls, RURAL, { maxWidth: 1500 })).toHaveLength(1);
  });
});
