/**
 * Polygons made of unit cells on an integer lattice, for generated coverage layers: any set of cells
 * becomes a MultiPolygon (holes, enclaves, pieces touching at a corner), and every two polygons
 * built on one lattice share their vertices exactly — as GridPlan's own editor makes them.
 *
 *   ┌─┬─┐        cells {(0,0),(1,0),(1,1)}  →  one ring, interior on the left:
 *   │ │█│        (0,0)→(1,0)→(2,0)→(2,1)→(2,2)→(1,2)→(1,1)→(0,1)→(0,0)
 *   ├─┼─┤
 *   │█│█│
 *   └─┴─┘
 */
export type Cell = readonly [number, number];
type Pt = [number, number];

/** The rings bounding a set of cells, interior on the left: counter-clockwise outer rings, clockwise holes. */
function rings(cells: Iterable<Cell>): Pt[][] {
  const edges = new Map<string, [Pt, Pt]>();
  const key = (a: Pt, b: Pt) => `${a[0]},${a[1]}>${b[0]},${b[1]}`;
  for (const [i, j] of cells) {
    const corners: Pt[] = [
      [i, j],
      [i + 1, j],
      [i + 1, j + 1],
      [i, j + 1],
    ];
    for (let k = 0; k < 4; k++) {
      const a = corners[k]!;
      const b = corners[(k + 1) % 4]!;
      // an edge shared by two cells of the set is inside it
      if (edges.has(key(b, a))) edges.delete(key(b, a));
      else edges.set(key(a, b), [a, b]);
    }
  }
  const outgoing = new Map<string, [Pt, Pt][]>();
  for (const e of edges.values()) {
    const k = `${e[0][0]},${e[0][1]}`;
    outgoing.set(k, [...(outgoing.get(k) ?? []), e]);
  }
  const used = new Set<string>();
  const out: Pt[][] = [];
  for (const start of edges.values()) {
    if (used.has(key(...start))) continue;
    const ring: Pt[] = [start[0]];
    let e = start;
    for (;;) {
      used.add(key(...e));
      ring.push(e[1]);
      const [dx, dy] = [e[1][0] - e[0][0], e[1][1] - e[0][1]];
      const next = (outgoing.get(`${e[1][0]},${e[1][1]}`) ?? []).filter((n) => !used.has(key(...n)));
      if (next.length === 0) break;
      // At a corner where two faces touch, turn as far left as possible: each face keeps its own ring.
      const turn = (n: [Pt, Pt]) => {
        const [ex, ey] = [n[1][0] - n[0][0], n[1][1] - n[0][1]];
        const cross = dx * ey - dy * ex;
        return cross > 0 ? 0 : cross === 0 ? 1 : 2;
      };
      e = next.sort((a, b) => turn(a) - turn(b))[0]!;
    }
    out.push(ring);
  }
  return out;
}

const signedArea = (r: Pt[]) => r.slice(0, -1).reduce((s, p, i) => s + p[0] * r[i + 1]![1] - r[i + 1]![0] * p[1], 0) / 2;

function inside(p: Pt, ring: Pt[]): boolean {
  let c = false;
  for (let i = 0, j = ring.length - 2; i < ring.length - 1; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

/** The cells as MultiPolygon coordinates in lattice units (empty for no cells). */
export function cellsToMultiPolygon(cells: Iterable<Cell>): Pt[][][] {
  const all = rings(cells);
  const outers = all.filter((r) => signedArea(r) > 0);
  const polygons: Pt[][][] = outers.map((r) => [r]);
  for (const hole of all.filter((r) => signedArea(r) < 0)) {
    // a point of the polygon's own area, just left of the hole's first edge
    const [a, b] = [hole[0]!, hole[1]!];
    const p: Pt = [(a[0] + b[0]) / 2 - (b[1] - a[1]) * 0.25, (a[1] + b[1]) / 2 + (b[0] - a[0]) * 0.25];
    let best = -1;
    outers.forEach((o, i) => {
      if (inside(p, o) && (best < 0 || signedArea(o) < signedArea(outers[best]!))) best = i;
    });
    if (best >= 0) polygons[best]!.push(hole);
  }
  return polygons;
}

/** Lattice units to degrees: `size` degrees per cell from the corner `origin`. */
export function toDegrees(mp: Pt[][][], origin: Pt, size: number): Pt[][][] {
  return mp.map((poly) => poly.map((ring) => ring.map(([x, y]) => [origin[0] + x * size, origin[1] + y * size] as Pt)));
}

/** The same polygons without their collinear vertices (a neighbour keeping them then meets a T-junction). */
export function dropCollinear(mp: Pt[][][]): Pt[][][] {
  return mp.map((poly) =>
    poly.map((ring) => {
      const open = ring.slice(0, -1);
      const kept = open.filter((p, i) => {
        const a = open[(i - 1 + open.length) % open.length]!;
        const b = open[(i + 1) % open.length]!;
        return (p[0] - a[0]) * (b[1] - p[1]) - (p[1] - a[1]) * (b[0] - p[0]) !== 0;
      });
      return [...kept, kept[0]!];
    }),
  );
}
