import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { booleanIntersects, polygon } from '@turf/turf';
import { boxesMeet, boxOutline, fit, insetSpot, shapesMeetBox, type Box, type MultiPolygon } from '../../web/lib/print-geometry.ts';

// An A4 landscape sheet's map, and an inset a third of it, as PrintMap sizes them.
const map = { width: 273, height: 150 };
const size = { w: 93, h: 51 };
const label = (x: number, y: number): Box => ({ x: x - 8, y: y - 3, w: 16, h: 6 });
const hidden = (spot: Box, labels: Box[]) => labels.filter((l) => boxesMeet(l, spot)).length;

describe('where a printed map’s inset goes', () => {
  it('takes a full-size corner where nothing is written, the one the map’s own area fills least', () => {
    const spot = insetSpot(map, size, [], [], (b) => (b.x < 100 && b.y > 50 ? 0 : 50));
    expect(spot).toEqual({ x: 1.5, y: map.height - size.h - 11, ...size });
  });

  it('shrinks beside the map’s area rather than cover a corner of it (a full-size inset hid a village’s edge)', () => {
    // every full-size spot over a twentieth of the area; the bottom-right corner at 80% clear of it
    const spot = insetSpot(map, size, [], [], (b) => (b.w === size.w ? 5 : b.x > map.width / 2 && b.y > map.height / 2 ? 0 : 30));
    expect(spot).toEqual({
      x: map.width - Math.round(size.w * 0.8) - 1.5,
      y: map.height - Math.round(size.h * 0.8) - 1.5,
      w: Math.round(size.w * 0.8),
      h: Math.round(size.h * 0.8),
    });
  });

  it('moves to the middle of an edge when every corner holds a label', () => {
    const labels = [label(20, 10), label(250, 10), label(250, 40), label(20, 120), label(250, 140)];
    const spot = insetSpot(map, size, labels, [])!;
    expect(hidden(spot, labels)).toBe(0);
    expect(spot).toMatchObject(size);
    expect(spot.x).toBeCloseTo((map.width - size.w) / 2);
  });

  it('shrinks, rather than hide a label, when labels crowd every full-size spot', () => {
    // a label just inside each full-size spot's inner edge, clear of the smaller spots
    const labels: Box[] = [];
    for (let x = 10; x < map.width; x += 30) for (const y of [48, 102]) labels.push(label(x, y));
    for (const y of [20, 75, 130]) labels.push(label(93, y), label(map.width - 93, y));
    const spot = insetSpot(map, size, labels, [])!;
    expect(hidden(spot, labels)).toBe(0);
    expect(spot.w).toBeLessThan(size.w);
  });

  it('never covers what it enlarges, nor an inset placed before it', () => {
    const enlarged = { x: map.width - 60, y: map.height - 40, w: 20, h: 20 };
    const first = insetSpot(map, size, [], [enlarged])!;
    expect(boxesMeet(first, enlarged)).toBe(false);
    const second = insetSpot(map, size, [], [enlarged, first])!;
    expect(boxesMeet(second, first)).toBe(false);
    expect(insetSpot(map, size, [], [{ x: 0, y: 0, w: map.width, h: map.height }])).toBeNull();
  });

  it('hides no more labels than the plain bottom-right corner would, wherever the labels are', () => {
    const box = fc.record({ x: fc.double({ min: 0, max: 270, noNaN: true }), y: fc.double({ min: 0, max: 148, noNaN: true }) });
    fc.assert(
      fc.property(fc.array(box, { maxLength: 60 }), fc.array(box, { maxLength: 2 }), (points, avoided) => {
        const labels = points.map((p) => label(p.x, p.y));
        const avoid = avoided.map((p) => ({ x: p.x, y: p.y, w: 12, h: 12 }));
        const spot = insetSpot(map, size, labels, avoid);
        const corner = { x: map.width - size.w - 1.5, y: map.height - size.h - 1.5, ...size };
        if (spot === null) return;
        expect(avoid.some((a) => boxesMeet(a, spot))).toBe(false);
        if (!avoid.some((a) => boxesMeet(a, corner))) expect(hidden(spot, labels)).toBeLessThanOrEqual(hidden(corner, labels));
      }),
      { numRuns: 500 },
    );
  });
});

describe('the scale bar’s box against the area drawn', () => {
  // (the frame as drawn: millimetres straight through, y down as on the sheet)
  const flat = {
    project: (p: number[]) => [p[0]!, p[1]!] as [number, number],
    unproject: (x: number, y: number) => [x, y] as [number, number],
    metresPerMm: 1,
  };
  const rect = (b: Box) =>
    polygon([
      [
        [b.x, b.y],
        [b.x + b.w, b.y],
        [b.x + b.w, b.y + b.h],
        [b.x, b.y + b.h],
        [b.x, b.y],
      ],
    ]);
  it('agrees with turf’s booleanIntersects on random triangles and boxes', () => {
    // (corners on whole millimetres, the box's edges between them: no shape grazes a box by a rounding)
    const pt = fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }));
    fc.assert(
      fc.property(pt, pt, pt, pt, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), (a, b, c, at, w, h) => {
        fc.pre((b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1]) !== 0);
        const ring = [a, b, c, a];
        const box = { x: at[0] + 0.5, y: at[1] + 0.5, w, h };
        const shape: MultiPolygon = { type: 'MultiPolygon', coordinates: [[ring]] };
        expect(shapesMeetBox([shape], flat, box)).toBe(booleanIntersects(polygon([ring]), rect(box)));
      }),
      { numRuns: 3000 },
    );
  });

  it('brings a point on paper back to where it lies, and an inset’s box back to the same box', () => {
    const village: MultiPolygon = {
      type: 'MultiPolygon',
      coordinates: [
        [
          [
            [103.81, 25.6],
            [103.86, 25.6],
            [103.86, 25.64],
            [103.81, 25.6],
          ],
        ],
      ],
    };
    const f = fit([village], 180, 120, 4, 12);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 180, noNaN: true }), fc.double({ min: 0, max: 120, noNaN: true }), (x, y) => {
        const [px, py] = f.project(f.unproject(x, y));
        expect(Math.abs(px - x) + Math.abs(py - y)).toBeLessThan(1e-6);
      }),
    );
    const box = { x: 40, y: 30, w: 20, h: 12 };
    const ring = boxOutline(box, f).coordinates[0]![0]!.map((p) => f.project(p));
    expect(ring.map(([x, y]) => [x.toFixed(6), y.toFixed(6)])).toEqual(
      [
        [40, 30],
        [60, 30],
        [60, 42],
        [40, 42],
        [40, 30],
      ].map(([x, y]) => [x!.toFixed(6), y!.toFixed(6)]),
    );
  });

  it('fits a map above a bottom margin when asked', () => {
    const square: MultiPolygon = {
      type: 'MultiPolygon',
      coordinates: [
        [
          [
            [103, 25],
            [103.1, 25],
            [103.1, 25.1],
            [103, 25.1],
            [103, 25],
          ],
        ],
      ],
    };
    const f = fit([square], 200, 100, 4, 12);
    const ys = square.coordinates[0]![0]!.map((p) => f.project(p)[1]);
    expect(Math.min(...ys)).toBeCloseTo(4, 6);
    expect(Math.max(...ys)).toBeCloseTo(88, 6);
  });
});
