import Flatbush from 'flatbush';

/** A polygon's rings, each as flat [x0, y0, x1, y1, …] (closed: the last point repeats the first). */
export type FlatPolygon = Float64Array[];

export interface TilingScreen {
  /** Whether the children may fail to tile the parent exactly: then it needs the full, locating check. */
  suspect: boolean;
  /** Children with an edge no sibling and no stretch of the parent's outline accounts for. */
  flagged: number[];
  /**
   * Where every gap, overlap and spill of a suspect parent lies: the box around the flagged
   * children and the stretches of outline no child's edge matches exactly — each problem is
   * bounded by such edges. Null when the screen cannot say (nothing flagged): look everywhere.
   */
  window: [number, number, number, number] | null;
}

type Box = [number, number, number, number];
const grow = (b: Box | null, x0: number, y0: number, x1: number, y1: number): Box =>
  b
    ? [Math.min(b[0], x0, x1), Math.min(b[1], y0, y1), Math.max(b[2], x0, x1), Math.max(b[3], y0, y1)]
    : [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];

/** Within this (degrees, about 1 mm) a child's edge counts as lying on its parent's outline. */
const ON_OUTLINE = 1e-8;

interface Edge {
  ax: number;
  ay: number;
  bx: number;
  by: number;
  /** How many children use the edge, and the sum of their directions (+1 from the lower end). */
  n: number;
  turn: number;
  owners: number[];
}

/**
 * Every edge of a polygon set with rings oriented one way (outer rings counter-clockwise, holes
 * clockwise: the interior always on the left), repeated vertices skipped.
 */
function eachEdge(polygons: FlatPolygon[], fn: (ax: number, ay: number, bx: number, by: number) => void): void {
  for (const rings of polygons) {
    rings.forEach((ring, r) => {
      const n = ring.length / 2;
      // Twice the signed area, about the first vertex so that tiny rings far from 0° keep their sign.
      const x0 = ring[0]!;
      const y0 = ring[1]!;
      let area2 = 0;
      for (let i = 0; i < n - 1; i++) area2 += (ring[2 * i]! - x0) * (ring[2 * i + 3]! - y0) - (ring[2 * i + 2]! - x0) * (ring[2 * i + 1]! - y0);
      const reverse = r === 0 ? area2 < 0 : area2 > 0;
      for (let i = 0; i < n - 1; i++) {
        const ax = ring[2 * i]!;
        const ay = ring[2 * i + 1]!;
        const bx = ring[2 * i + 2]!;
        const by = ring[2 * i + 3]!;
        if (ax === bx && ay === by) continue;
        if (reverse) fn(bx, by, ax, ay);
        else fn(ax, ay, bx, by);
      }
    });
  }
}

/** The edge's key with its lower end first, and which way it was run (+1 from the lower end). */
function keyOf(ax: number, ay: number, bx: number, by: number): [string, 1 | -1] {
  return ax < bx || (ax === bx && ay < by) ? [`${ax},${ay},${bx},${by}`, 1] : [`${bx},${by},${ax},${ay}`, -1];
}

/** Planar area of polygons (holes subtract), whichever way their rings run. */
function area(polygons: FlatPolygon[]): number {
  let total = 0;
  for (const rings of polygons) {
    rings.forEach((ring, r) => {
      const x0 = ring[0]!;
      const y0 = ring[1]!;
      let a2 = 0;
      for (let i = 0; i < ring.length / 2 - 1; i++) a2 += (ring[2 * i]! - x0) * (ring[2 * i + 3]! - y0) - (ring[2 * i + 2]! - x0) * (ring[2 * i + 1]! - y0);
      total += (r === 0 ? 1 : -1) * Math.abs(a2 / 2);
    });
  }
  return total;
}

function distanceToSegment(px: number, py: number, x1: number, y1: number, x2: number, y2: number): number {
  const dx = x2 - x1;
  const dy = y2 - y1;
  const t = Math.max(0, Math.min(1, ((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - x1 - t * dx, py - y1 - t * dy);
}

/**
 * A screen for an exact tiling, by counting edges. Where children tile their parent exactly, every
 * interior edge is used by two children in opposite directions, and the edges used once lie on
 * the parent's outline, run its way, and add up to its perimeter. A parent passing this needs no
 * union and no pairwise test. Shared vertices must be identical (as GridPlan's editor and splitter
 * make them); where they are not (a T-junction, a vertex missing on one side) the parent is only
 * suspect, and the full check decides.
 *
 *       a ──▶ b        interior edge: once a→b, once b→a  → matched
 *       ▲  A  │  B
 *       └─────┘        border edge: once, along the parent's outline, the same way
 */
export function screenTiling(parent: FlatPolygon[], children: { id: number; polygons: FlatPolygon[] }[]): TilingScreen {
  const edges = new Map<string, Edge>();
  const boxes = new Map<number, Box>();
  for (const child of children) {
    let box: Box | null = null;
    eachEdge(child.polygons, (ax, ay, bx, by) => {
      box = grow(box, ax, ay, bx, by);
      const [key, dir] = keyOf(ax, ay, bx, by);
      const e = edges.get(key);
      if (e) {
        e.n += 1;
        e.turn += dir;
        e.owners.push(child.id);
      } else {
        edges.set(
          key,
          dir === 1 ? { ax, ay, bx, by, n: 1, turn: 1, owners: [child.id] } : { ax: bx, ay: by, bx: ax, by: ay, n: 1, turn: -1, owners: [child.id] },
        );
      }
    });
    if (box) boxes.set(child.id, box);
  }
  // the parent's segments by key: which way it runs, and where in `segments`
  const outline = new Map<string, { dir: 1 | -1; at: number }>();
  const segments: number[] = [];
  eachEdge(parent, (ax, ay, bx, by) => {
    const [key, dir] = keyOf(ax, ay, bx, by);
    outline.set(key, { dir, at: segments.length / 4 });
    segments.push(ax, ay, bx, by);
  });

  const flagged = new Set<number>();
  const loose: Edge[] = [];
  // How much of each of the parent's segments the children's lone edges run along, and whose they
  // are: exactly its length once in an exact tiling; more where two layers both run along it.
  const count = segments.length / 4;
  const covered = new Float64Array(count);
  const alongBy: number[][] = Array.from({ length: count }, () => []);
  for (const [key, e] of edges) {
    if (e.n === 2 && e.turn === 0) continue;
    if (e.n === 1) {
      const along = outline.get(key);
      if (along?.dir === e.turn) {
        covered[along.at]! += Math.hypot(e.bx - e.ax, e.by - e.ay);
        alongBy[along.at]!.push(...e.owners);
        continue;
      }
      if (along === undefined) {
        loose.push(e);
        continue;
      }
    }
    for (const id of e.owners) flagged.add(id);
  }

  // Edges used once but not one of the parent's own segments: on the outline within a millimetre
  // (both ends and the middle), running its way — else they bound a gap, an overlap or a spill.
  if (loose.length > 0) {
    const index = new Flatbush(count);
    for (let i = 0; i < count; i++) {
      const [x1, y1, x2, y2] = segments.slice(4 * i, 4 * i + 4) as [number, number, number, number];
      index.add(Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2));
    }
    index.finish();
    const nearest = (px: number, py: number): number => {
      let best = -1;
      let bestD = ON_OUTLINE;
      for (const i of index.search(px - ON_OUTLINE, py - ON_OUTLINE, px + ON_OUTLINE, py + ON_OUTLINE)) {
        const d = distanceToSegment(px, py, segments[4 * i]!, segments[4 * i + 1]!, segments[4 * i + 2]!, segments[4 * i + 3]!);
        if (d <= bestD) [best, bestD] = [i, d];
      }
      return best;
    };
    for (const e of loose) {
      // the edge as its child ran it
      const [ax, ay, bx, by] = e.turn === 1 ? [e.ax, e.ay, e.bx, e.by] : [e.bx, e.by, e.ax, e.ay];
      const mid = nearest((ax + bx) / 2, (ay + by) / 2);
      const sameWay = mid >= 0 && (bx - ax) * (segments[4 * mid + 2]! - segments[4 * mid]!) + (by - ay) * (segments[4 * mid + 3]! - segments[4 * mid + 1]!) > 0;
      if (!(sameWay && nearest(ax, ay) >= 0 && nearest(bx, by) >= 0)) {
        for (const id of e.owners) flagged.add(id);
        continue;
      }
      // shared out over the segments it runs along (more than one where the parent has a vertex in a straight stretch)
      for (const i of index.search(
        Math.min(ax, bx) - ON_OUTLINE,
        Math.min(ay, by) - ON_OUTLINE,
        Math.max(ax, bx) + ON_OUTLINE,
        Math.max(ay, by) + ON_OUTLINE,
      )) {
        const [x1, y1, x2, y2] = [segments[4 * i]!, segments[4 * i + 1]!, segments[4 * i + 2]!, segments[4 * i + 3]!];
        const len = Math.hypot(x2 - x1, y2 - y1);
        const [ux, uy] = [(x2 - x1) / len, (y2 - y1) / len];
        // only a segment on the same line: both ends of the edge within a millimetre of it
        if (Math.abs((ax - x1) * uy - (ay - y1) * ux) > ON_OUTLINE || Math.abs((bx - x1) * uy - (by - y1) * ux) > ON_OUTLINE) continue;
        const ta = (ax - x1) * ux + (ay - y1) * uy;
        const tb = (bx - x1) * ux + (by - y1) * uy;
        const overlap = Math.min(Math.max(ta, tb), len) - Math.max(Math.min(ta, tb), 0);
        if (overlap > 0) {
          covered[i]! += overlap;
          alongBy[i]!.push(...e.owners);
        }
      }
    }
  }
  // Each segment run along exactly once: less leaves part of the outline open (a gap there), more
  // means two children lie along it (an overlap: its owners are paired with their siblings).
  const open: number[] = [];
  for (let i = 0; i < count; i++) {
    const len = Math.hypot(segments[4 * i + 2]! - segments[4 * i]!, segments[4 * i + 3]! - segments[4 * i + 1]!);
    const excess = covered[i]! - len;
    if (excess > 1e-7 * len) for (const id of alongBy[i]!) flagged.add(id);
    else if (excess < -1e-7 * len) open.push(i);
  }
  // The children's area must add up to the parent's too: a last guard for what edges cannot see.
  const childArea = children.reduce((sum, c) => sum + area(c.polygons), 0);
  const parentArea = area(parent);
  // (children's border vertices may lie up to ON_OUTLINE off the outline: that much area along it)
  let perimeter = 0;
  for (let i = 0; i < count; i++) perimeter += Math.hypot(segments[4 * i + 2]! - segments[4 * i]!, segments[4 * i + 3]! - segments[4 * i + 1]!);
  const areaOff = Math.abs(childArea - parentArea) > perimeter * ON_OUTLINE;
  const suspect = flagged.size > 0 || open.length > 0 || areaOff;
  if (!suspect) return { suspect, flagged: [], window: null };
  // Suspect with no edge to blame: any child may overlap any other, and a gap may be anywhere.
  if (flagged.size === 0 && (areaOff || open.length === 0)) return { suspect, flagged: children.map((c) => c.id), window: null };
  let window: Box | null = null;
  for (const id of flagged) {
    const b = boxes.get(id)!;
    window = grow(window, b[0], b[1], b[2], b[3]);
  }
  for (const i of open) window = grow(window, segments[4 * i]!, segments[4 * i + 1]!, segments[4 * i + 2]!, segments[4 * i + 3]!);
  return { suspect, flagged: [...flagged], window };
}
