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
/** An edge used once that is not one of the parent's own segments (lower end first; turn: +1 if run from it). */
interface Loose {
  ax: number;
  ay: number;
  bx: number;
  by: number;
  turn: number;
  owners: number[];
}
const grow = (b: Box | null, x0: number, y0: number, x1: number, y1: number): Box =>
  b
    ? [Math.min(b[0], x0, x1), Math.min(b[1], y0, y1), Math.max(b[2], x0, x1), Math.max(b[3], y0, y1)]
    : [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];

/** Within this (degrees, about 1 mm) a child's edge counts as lying on its parent's outline. */
const ON_OUTLINE = 1e-8;

/**
 * The undirected edges of a polygon set, each once: an open-addressing hash table keyed by the
 * bits of its four coordinates (lower end first), with how many children use it, the sum of
 * their directions (+1 from the lower end) and who they are. A city's half a million edges are
 * counted without building a string key or an object per edge.
 */
class EdgeTable {
  /** ax, ay, bx, by of edge i at 4i (lower end first). */
  readonly coords: Float64Array;
  readonly n: Int32Array;
  readonly turn: Int32Array;
  /** The first two users; more (only where polygons overlap) in `more`. */
  readonly first: Int32Array;
  readonly second: Int32Array;
  readonly more = new Map<number, number[]>();
  size = 0;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly bits = new Float64Array(4);
  private readonly words = new Uint32Array(this.bits.buffer);

  constructor(capacity: number) {
    this.coords = new Float64Array(4 * capacity);
    this.n = new Int32Array(capacity);
    this.turn = new Int32Array(capacity);
    this.first = new Int32Array(capacity);
    this.second = new Int32Array(capacity);
    let slots = 16;
    while (slots < 2 * capacity) slots *= 2;
    this.slots = new Int32Array(slots).fill(-1);
    this.mask = slots - 1;
  }

  private hash(ax: number, ay: number, bx: number, by: number): number {
    const b = this.bits;
    const w = this.words;
    // + 0 makes −0 and 0 one key, as they are one number
    b[0] = ax + 0;
    b[1] = ay + 0;
    b[2] = bx + 0;
    b[3] = by + 0;
    let h = 0x811c9dc5;
    for (let i = 0; i < 8; i++) {
      h = Math.imul(h ^ w[i]!, 0x01000193);
      h ^= h >>> 15;
    }
    return h;
  }

  /** The slot holding the edge (lower end first), or the empty slot where it would go. */
  private slotOf(ax: number, ay: number, bx: number, by: number): number {
    const c = this.coords;
    for (let s = this.hash(ax, ay, bx, by) & this.mask; ; s = (s + 1) & this.mask) {
      const i = this.slots[s]!;
      if (i < 0 || (c[4 * i] === ax && c[4 * i + 1] === ay && c[4 * i + 2] === bx && c[4 * i + 3] === by)) return s;
    }
  }

  /** The edge's index, or −1 (lower end first). */
  find(ax: number, ay: number, bx: number, by: number): number {
    return this.slots[this.slotOf(ax, ay, bx, by)]!;
  }

  /** Counts one use of the edge a→b by `owner`. */
  add(ax: number, ay: number, bx: number, by: number, owner: number): void {
    const dir = ax < bx || (ax === bx && ay < by) ? 1 : -1;
    if (dir === -1) [ax, ay, bx, by] = [bx, by, ax, ay];
    const s = this.slotOf(ax, ay, bx, by);
    let i = this.slots[s]!;
    if (i < 0) {
      i = this.size++;
      this.slots[s] = i;
      const c = this.coords;
      c[4 * i] = ax;
      c[4 * i + 1] = ay;
      c[4 * i + 2] = bx;
      c[4 * i + 3] = by;
      this.first[i] = owner;
    } else if (this.n[i] === 1) this.second[i] = owner;
    else {
      const list = this.more.get(i);
      if (list) list.push(owner);
      else this.more.set(i, [owner]);
    }
    this.n[i]! += 1;
    this.turn[i]! += dir;
  }

  owners(i: number): number[] {
    const n = this.n[i]!;
    return n === 1 ? [this.first[i]!] : [this.first[i]!, this.second[i]!, ...(n > 2 ? this.more.get(i)! : [])];
  }
}

/** How many edges a polygon set has at most (one per vertex of each ring, the closing one not counted). */
function edgeCount(polygons: FlatPolygon[]): number {
  let n = 0;
  for (const rings of polygons) for (const ring of rings) n += Math.max(0, ring.length / 2 - 1);
  return n;
}

/**
 * Every edge of a polygon set with rings oriented one way (outer rings counter-clockwise, holes
 * clockwise: the interior always on the left), repeated vertices skipped.
 */
function eachEdge(polygons: FlatPolygon[], fn: (ax: number, ay: number, bx: number, by: number) => void): void {
  for (const rings of polygons) {
    for (let r = 0; r < rings.length; r++) {
      const ring = rings[r]!;
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
    }
  }
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
  const edges = new EdgeTable(children.reduce((n, c) => n + edgeCount(c.polygons), 0));
  const boxes = new Map<number, Box>();
  for (const child of children) {
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    eachEdge(child.polygons, (ax, ay, bx, by) => {
      // (b is the next edge's a: the box of the a ends and the last b is the box of every end)
      if (ax < x0) x0 = ax;
      if (ax > x1) x1 = ax;
      if (ay < y0) y0 = ay;
      if (ay > y1) y1 = ay;
      if (bx < x0) x0 = bx;
      if (bx > x1) x1 = bx;
      if (by < y0) y0 = by;
      if (by > y1) y1 = by;
      edges.add(ax, ay, bx, by, child.id);
    });
    if (x0 <= x1) boxes.set(child.id, [x0, y0, x1, y1]);
  }
  // the parent's segments: which way each runs (+1 from the lower end), and the child edge it is, if any
  const segments: number[] = [];
  const outlineDir: number[] = [];
  const outlineOf = new Map<number, number>();
  eachEdge(parent, (ax, ay, bx, by) => {
    const dir = ax < bx || (ax === bx && ay < by) ? 1 : -1;
    const e = dir === 1 ? edges.find(ax, ay, bx, by) : edges.find(bx, by, ax, ay);
    // a segment repeated in the outline: the last one counts (as a keyed map would have it)
    if (e >= 0) outlineOf.set(e, segments.length / 4);
    outlineDir.push(dir);
    segments.push(ax, ay, bx, by);
  });

  const flagged = new Set<number>();
  const loose: Loose[] = [];
  // How much of each of the parent's segments the children's lone edges run along, and whose they
  // are: exactly its length once in an exact tiling; more where two layers both run along it.
  const count = segments.length / 4;
  const covered = new Float64Array(count);
  const alongBy: number[][] = Array.from({ length: count }, () => []);
  const c = edges.coords;
  for (let e = 0; e < edges.size; e++) {
    const n = edges.n[e]!;
    const turn = edges.turn[e]!;
    if (n === 2 && turn === 0) continue;
    if (n === 1) {
      const at = outlineOf.get(e);
      if (at !== undefined && outlineDir[at] === turn) {
        covered[at]! += Math.hypot(c[4 * e + 2]! - c[4 * e]!, c[4 * e + 3]! - c[4 * e + 1]!);
        alongBy[at]!.push(edges.first[e]!);
        continue;
      }
      if (at === undefined) {
        loose.push({ ax: c[4 * e]!, ay: c[4 * e + 1]!, bx: c[4 * e + 2]!, by: c[4 * e + 3]!, turn, owners: [edges.first[e]!] });
        continue;
      }
    }
    for (const id of edges.owners(e)) flagged.add(id);
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
