import { describe, expect, it } from 'vitest';
import { screenTiling, type FlatPolygon } from '../../server/domain/tiling.ts';
import { readPolygonRun, multiPolygonEwkb } from '../../server/db/ewkb.ts';

type Pt = [number, number];
/** A polygon from rings of points (closed here). */
const poly = (...rings: Pt[][]): FlatPolygon => rings.map((r) => Float64Array.from([...r, r[0]!].flat()));
const box = (x0: number, y0: number, x1: number, y1: number): Pt[] => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
];
const child = (id: number, ...polygons: FlatPolygon[]) => ({ id, polygons });

// A parent 2 × 1 at 104°E, 25°N (real magnitudes, so float keys are not trivially small).
const X = 104.5;
const Y = 25.25;
const parent = [poly(box(X, Y, X + 0.02, Y + 0.01))];
const left = poly(box(X, Y, X + 0.01, Y + 0.01));
const right = poly(box(X + 0.01, Y, X + 0.02, Y + 0.01));

describe('screenTiling: an exact tiling passes, anything else is suspect', () => {
  it('passes two halves that tile the parent, whichever way their rings run and with repeated vertices', () => {
    expect(screenTiling(parent, [child(1, left), child(2, right)])).toEqual({ suspect: false, flagged: [], window: null });
    const clockwise = poly([...box(X + 0.01, Y, X + 0.02, Y + 0.01)].reverse());
    const repeated = poly([
      [X, Y],
      [X, Y],
      [X + 0.01, Y],
      [X + 0.01, Y + 0.01],
      [X + 0.01, Y + 0.01],
      [X, Y + 0.01],
    ]);
    expect(screenTiling(parent, [child(1, repeated), child(2, clockwise)])).toEqual({ suspect: false, flagged: [], window: null });
  });

  it('passes children whose border edges split the parent’s segments (vertices added by a split)', () => {
    // The parent's bottom and top edges are single segments; the children add the midpoints.
    expect(screenTiling(parent, [child(1, left), child(2, right)]).suspect).toBe(false);
    const coarse = [
      poly([
        [X, Y],
        [X + 0.02, Y],
        [X + 0.02, Y + 0.01],
        [X, Y + 0.01],
      ]),
    ];
    expect(screenTiling(coarse, [child(1, left), child(2, right)])).toEqual({ suspect: false, flagged: [], window: null });
  });

  it('passes a parent with a hole and a child with an enclave', () => {
    const holed = [poly(box(X, Y, X + 0.02, Y + 0.01), [...box(X + 0.004, Y + 0.004, X + 0.006, Y + 0.006)].reverse())];
    const leftHoled = poly(box(X, Y, X + 0.01, Y + 0.01), box(X + 0.004, Y + 0.004, X + 0.006, Y + 0.006));
    expect(screenTiling(holed, [child(1, leftHoled), child(2, right)])).toEqual({ suspect: false, flagged: [], window: null });
    const outer = poly(box(X, Y, X + 0.01, Y + 0.01), box(X + 0.004, Y + 0.004, X + 0.006, Y + 0.006));
    const enclave = poly(box(X + 0.004, Y + 0.004, X + 0.006, Y + 0.006));
    expect(screenTiling(parent, [child(1, outer), child(2, enclave), child(3, right)])).toEqual({ suspect: false, flagged: [], window: null });
  });

  it('flags a gap: the children beside it, and the parent is suspect', () => {
    const narrow = poly(box(X + 0.011, Y, X + 0.02, Y + 0.01));
    const s = screenTiling(parent, [child(1, left), child(2, narrow)]);
    expect(s.suspect).toBe(true);
    expect(s.flagged.sort()).toEqual([1, 2]);
  });

  it('flags an overlap, including a child wholly inside a sibling', () => {
    const wide = poly(box(X, Y, X + 0.012, Y + 0.01));
    expect(screenTiling(parent, [child(1, wide), child(2, right)]).flagged.sort()).toEqual([1, 2]);
    const inside = poly(box(X + 0.002, Y + 0.002, X + 0.004, Y + 0.004));
    expect(screenTiling(parent, [child(1, left), child(2, right), child(3, inside)])).toMatchObject({ suspect: true, flagged: [3] });
    // a duplicate: the shared edge is then used three times, so its neighbour is flagged too
    expect(screenTiling(parent, [child(1, left), child(2, right), child(3, right)]).flagged.sort()).toEqual([1, 2, 3]);
  });

  it('flags a spill beyond the parent, even along its outline', () => {
    const spill = poly(box(X + 0.01, Y - 0.001, X + 0.02, Y + 0.01));
    // its edge with the left half is longer than the left half's: both flagged
    expect(screenTiling(parent, [child(1, left), child(2, spill)])).toMatchObject({ suspect: true, flagged: [1, 2] });
    // A third child outside, sharing the parent's bottom edge: that edge is then used twice.
    const below = poly(box(X, Y - 0.01, X + 0.01, Y));
    expect(screenTiling(parent, [child(1, left), child(2, right), child(3, below)])).toMatchObject({ suspect: true, flagged: [3] });
  });

  it('bounds every problem by a window: the flagged children and the outline no child runs along', () => {
    // Four quarters of the parent, the north-east one missing: a gap in the corner.
    const q = (i: number, j: number) => poly(box(X + 0.01 * i, Y + 0.005 * j, X + 0.01 * (i + 1), Y + 0.005 * (j + 1)));
    const outline = [
      poly([
        [X, Y],
        [X + 0.01, Y],
        [X + 0.02, Y],
        [X + 0.02, Y + 0.005],
        [X + 0.02, Y + 0.01],
        [X + 0.01, Y + 0.01],
        [X, Y + 0.01],
        [X, Y + 0.005],
      ]),
    ];
    expect(screenTiling(outline, [child(1, q(0, 0)), child(2, q(1, 0)), child(3, q(0, 1)), child(4, q(1, 1))]).suspect).toBe(false);
    const s = screenTiling(outline, [child(1, q(0, 0)), child(2, q(1, 0)), child(3, q(0, 1))]);
    expect(s.flagged.sort()).toEqual([2, 3]);
    const [x0, y0, x1, y1] = s.window!;
    // the missing quarter [X+0.01, Y+0.005, X+0.02, Y+0.01] lies inside: its outline stretch is unmatched
    expect(x0).toBeLessThanOrEqual(X + 0.01);
    expect(y0).toBeLessThanOrEqual(Y + 0.005);
    expect(x1).toBeGreaterThanOrEqual(X + 0.02);
    expect(y1).toBeGreaterThanOrEqual(Y + 0.01);
    // A strip of four, the last missing: the window is the third and the last, not the first two.
    const col = (i: number) => poly(box(X + 0.005 * i, Y, X + 0.005 * (i + 1), Y + 0.01));
    const strip = [poly([0, 1, 2, 3, 4].map((i): Pt => [X + 0.005 * i, Y]).concat([4, 3, 2, 1, 0].map((i): Pt => [X + 0.005 * i, Y + 0.01])))];
    const w = screenTiling(strip, [child(1, col(0)), child(2, col(1)), child(3, col(2))]);
    expect(w.flagged).toEqual([3]);
    expect(w.window).toEqual([X + 0.01, Y, X + 0.02, Y + 0.01]);
  });

  it('is only suspect at a T-junction (a vertex on one side only): the full check decides', () => {
    const upper = poly(box(X + 0.01, Y + 0.005, X + 0.02, Y + 0.01));
    const lower = poly(box(X + 0.01, Y, X + 0.02, Y + 0.005));
    expect(screenTiling(parent, [child(1, left), child(2, upper), child(3, lower)]).suspect).toBe(true);
  });

  it('takes an edge within a millimetre of the outline as on it, and one 10 cm off as bounding a gap', () => {
    const off = (dy: number) =>
      poly([
        [X + 0.01, Y + dy],
        [X + 0.02, Y + dy],
        [X + 0.02, Y + 0.01],
        [X + 0.01, Y + 0.01],
      ]);
    expect(screenTiling(parent, [child(1, left), child(2, off(1e-6))]).suspect).toBe(true);
    // 0.1 mm: the bottom edge no longer meets the left half's corner, so that vertex is unmatched too
    const s = screenTiling(parent, [child(1, left), child(2, off(1e-9))]);
    expect(s.flagged.sort()).toEqual([1, 2]);
  });
});

describe('readPolygonRun', () => {
  it('reads back geometries laid end to end, bit for bit', () => {
    const a: Pt[][] = [
      [
        [X + 1 / 3, Y],
        [X + 0.1, Y],
        [X + 0.1, Y + Math.PI / 100],
        [X + 1 / 3, Y],
      ],
    ];
    const b: Pt[][] = [
      [
        [X, Y],
        [X + 1e-9, Y],
        [X, Y + 1e-9],
        [X, Y],
      ],
    ];
    const run = Buffer.concat([Buffer.from(multiPolygonEwkb([a]), 'hex'), Buffer.from(multiPolygonEwkb([b, a]), 'hex')]);
    const geometries = readPolygonRun(run);
    expect(geometries.map((g) => g.map((p) => p.map((ring) => Array.from(ring))))).toEqual([[[a[0]!.flat()]], [[b[0]!.flat()], [a[0]!.flat()]]]);
  });
});
