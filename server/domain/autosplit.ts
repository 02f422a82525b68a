import Delaunator from 'delaunator';
import Flatbush from 'flatbush';
import FlatQueue from 'flatqueue';
import { featureCollection, intersect, multiPolygon, polygon, union } from '@turf/turf';
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import { cellNeighbours, lastRefusal, near, powerCells, ringBox, type PowerCells } from './power-cells.ts';

/** Household range of a grid type: every grid should hold between `min` and `max`, about `target`. */
export interface SplitRule {
  min: number;
  max: number;
  target: number;
}

/** One address (the households living at one location), in a planar frame in metres. */
export interface Atom {
  x: number;
  y: number;
  weight: number;
  /** The work the address asks (households plus weighted incidents): given, the bisection balances it while the counts keep to the range. */
  load?: number;
}

export type XY = [number, number];
/** Outer ring first, then holes; rings closed (last point = first). */
export type PlanarPolygon = XY[][];

/** Why a grid could not be brought into its range: reported per grid instead of failing. */
export type InfeasibleReason = 'too_few_households' | 'location_exceeds_max' | 'no_balanced_cut';

export interface SplitGroup {
  /** Indices into the block's atoms. */
  atoms: number[];
  households: number;
  reason: InfeasibleReason | null;
  /** The group only holds together through an edge that leaves the block or is not a Gabriel edge. */
  bridged: boolean;
  /** The union of the group's Voronoi cells, or its straight power cell (not yet clipped to the block). */
  polygons: PlanarPolygon[];
  /** Whether its borders are straight (a power cell) rather than between the houses. */
  straight: boolean;
}

/**
 * How many grids a number of households should make: the nearest to `target` per grid that
 * keeps every grid within range; 1 when no count does (then the grid reports why).
 */
export function gridCount(households: number, rule: SplitRule): number {
  const fewest = Math.max(1, Math.ceil(households / rule.max));
  const most = rule.min > 0 ? Math.floor(households / rule.min) : Number.MAX_SAFE_INTEGER;
  if (most < fewest) return fewest;
  return Math.min(most, Math.max(fewest, Math.round(households / rule.target)));
}

/**
 * Divides one block (a piece of territory no barrier crosses) into groups of households whose
 * Voronoi cells make compact, contiguous grids with household counts in range.
 *
 *   addresses ─► Delaunay (+ far frame) ─► Gabriel edges inside the block ─► graph
 *   graph ─► recursive bisection: grow a connected half along the principal axis until it
 *            holds its share of households; the rest's small pieces join the half
 *   groups ─► their cells' outer edges, chained by triangle ─► one polygon per group
 *
 * Why Gabriel edges whose segment stays inside the block: the segment a–b then runs through the
 * cells of a and b only, so a group connected by such edges stays one piece once clipped to the
 * block. Deterministic: the same atoms in the same order give the same groups.
 */
export function splitBlock(
  atoms: readonly Atom[],
  walls: readonly XY[][],
  rule: SplitRule,
  options: { straight?: boolean; maxWidth?: number | undefined; repair?: boolean } = {},
): SplitGroup[] {
  if (rule.min > rule.max || rule.target < rule.min || rule.target > rule.max) {
    throw new RangeError(`rule ${rule.min}–${rule.max} (target ${rule.target}) is not a range around its target`);
  }
  if (atoms.length === 0) return [];
  // Atoms at one place are one address (a triangulation keeps only one of them): merged here,
  // given back as they came in the groups.
  const { places, members } = mergeSamePlace(atoms);
  const n = places.length;
  const mesh = triangulate(places, walls);
  const graph = new BlockGraph(places, mesh, walls, rule, options.maxWidth ?? Infinity);
  const groups = graph.partition();
  const groupOf = new Int32Array(n + 4).fill(-1);
  groups.forEach((g, i) => g.atoms.forEach((a) => (groupOf[a] = i)));
  const traced = () => traceGroups(mesh, groupOf, groups.length);
  const between = (polygons: PlanarPolygon[][]) =>
    groups.map((g, i) => ({ ...g, atoms: g.atoms.flatMap((a) => members[a]!).sort((a, b) => a - b), polygons: polygons[i]!, straight: false }));
  if (options.straight === false || groups.some((g) => g.reason !== null)) return between(traced());
  // Straight borders where they keep every count in range (and no grid falls apart in a concave block).
  const blocks = blockPolygons(walls);
  // A few cells out of range (lumpy addresses a straight border cannot share out) are divided again
  // with the cells around them, within those cells' outline: the rest of the block stays straight.
  const allowBad = options.repair === false ? 0 : Math.max(1, Math.floor(groups.length * REPAIRABLE));
  const whole = straightCells(places, groups, rule, walls, blocks.length ? [blocks] : [], walls, allowBad);
  if (!whole) return between(traced());
  if (whole.bad.size > 0) snapShared(whole.polygons);
  const repaired = whole.bad.size > 0 ? repairCells(places, whole, rule, blocks, options) : { cells: new Set<number>(), groups: [], lots: 0, lotsBetween: 0 };
  if (options.repair !== false)
    Object.assign(lastRepair, { cells: repaired?.cells.size ?? 0, lots: repaired?.lots ?? 0, lotsBetween: repaired?.lotsBetween ?? 0 });
  if (!repaired) return between(traced());
  const inCell: number[][] = groups.map(() => []);
  for (let p = 0; p < n; p++) inCell[whole.cellOf[p]!]!.push(p);
  const group = (m: number[], polygons: PlanarPolygon[], straight: boolean): SplitGroup => ({
    atoms: m.flatMap((a) => members[a]!).sort((a, b) => a - b),
    households: m.reduce((sum, a) => sum + places[a]!.weight, 0),
    reason: null,
    bridged: false,
    straight,
    polygons,
  });
  return [
    ...inCell.flatMap((m, i) => (repaired.cells.has(i) ? [] : [group(m, [whole.polygons[i]!], true)])),
    ...repaired.groups.map((g) => group(g.places, g.polygons, g.straight)),
  ];
}

/**
 * How many cells the last block divided again (out of range, and their neighbours), in how many
 * lots, and how many of those between the houses: for the tests' and benchmark's eyes.
 */
export const lastRepair = { cells: 0, lots: 0, lotsBetween: 0 };

/** At most this share of a block's cells may miss the range and be divided again with their neighbours. */
const REPAIRABLE = 0.05;

/**
 * The cells out of range and the cells around them, each connected lot divided again on its own
 * (straight where that settles, else between the houses), cut to the lot's outline: the cells'
 * union, within the block. Null where a lot cannot be divided within the range.
 */
function repairCells(
  places: readonly Atom[],
  whole: PowerCells,
  rule: SplitRule,
  blocks: PlanarPolygon[],
  options: { straight?: boolean; maxWidth?: number | undefined },
): { cells: Set<number>; groups: { places: number[]; polygons: PlanarPolygon[]; straight: boolean }[]; lots: number; lotsBetween: number } | null {
  const cells = new Set(whole.bad);
  for (const across of cellNeighbours(whole, whole.bad).values()) for (const c of across) cells.add(c);
  const around = cellNeighbours(whole, cells);
  const inCell = new Map<number, number[]>([...cells].map((c) => [c, []]));
  whole.cellOf.forEach((c, p) => inCell.get(c)?.push(p));
  // connected lots: cells joined through shared borders
  const lots: number[][] = [];
  const seen = new Set<number>();
  for (const start of cells) {
    if (seen.has(start)) continue;
    const lot = [start];
    seen.add(start);
    for (let i = 0; i < lot.length; i++)
      for (const c of around.get(lot[i]!)!)
        if (cells.has(c) && !seen.has(c)) {
          seen.add(c);
          lot.push(c);
        }
    lots.push(lot);
  }
  const groups: { places: number[]; polygons: PlanarPolygon[]; straight: boolean }[] = [];
  let lotsBetween = 0;
  for (const lot of lots) {
    const mine = lot.flatMap((c) => inCell.get(c)!).sort((a, b) => a - b);
    if (mine.length === 0) continue; // empty cells only: their neighbours' cells cover them
    const outline = outlineOf(
      lot.map((c) => whole.polygons[c]!).filter((c) => c[0]!.length >= 4),
      blocks,
    );
    if (!outline) return null;
    const sub = splitBlock(
      mine.map((p) => places[p]!),
      outline.inBlock.flatMap((poly) => poly),
      rule,
      { ...options, repair: false },
    );
    if (sub.length === 0 || sub.some((g) => g.reason !== null)) return null;
    if (!sub[0]!.straight) lotsBetween++;
    // cut to the cells' union only: the block cuts these as it cuts the kept cells, later and alike
    for (const g of sub) {
      const polygons = cut(g.polygons, outline.union);
      if (!polygons) return null;
      groups.push({ places: g.atoms.map((a) => mine[a]!), polygons, straight: g.straight });
    }
  }
  // Where a new border meets the lots' outline, its corner lies on a kept cell's edge: the kept cell
  // takes that corner too, so both sides are snapped alike (else slivers open along the edge).
  const corners = groups.flatMap((g) => g.polygons.flatMap((poly) => poly.flatMap((ring) => ring)));
  const kept = new Set([...around.values()].flatMap((across) => [...across].filter((c) => !cells.has(c))));
  for (const c of kept) whole.polygons[c] = whole.polygons[c]!.map((ring) => withCornersOn(ring, corners));
  return { cells, groups, lots: lots.length, lotsBetween };
}

/** A ring with every point lying on one of its edges (within `TOLERANCE`, not at its ends) inserted there, in order along it. */
function withCornersOn(ring: XY[], points: readonly XY[]): XY[] {
  if (ring.length < 4) return ring;
  const out: XY[] = [];
  for (let e = 0; e + 1 < ring.length; e++) {
    const [a, b] = [ring[e]!, ring[e + 1]!];
    out.push(a);
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    const len2 = dx * dx + dy * dy;
    if (len2 === 0) continue;
    const [x0, x1] = [Math.min(a[0], b[0]) - TOLERANCE, Math.max(a[0], b[0]) + TOLERANCE];
    const [y0, y1] = [Math.min(a[1], b[1]) - TOLERANCE, Math.max(a[1], b[1]) + TOLERANCE];
    const on: { t: number; p: XY }[] = [];
    for (const p of points) {
      if (p[0] < x0 || p[0] > x1 || p[1] < y0 || p[1] > y1) continue;
      const t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2;
      const off = Math.abs((p[0] - a[0]) * dy - (p[1] - a[1]) * dx) / Math.sqrt(len2);
      if (off <= TOLERANCE && t * Math.sqrt(len2) > TOLERANCE && (1 - t) * Math.sqrt(len2) > TOLERANCE) on.push({ t, p });
    }
    on.sort((u, v) => u.t - v.t);
    for (const { p } of on) if (out.at(-1)![0] !== p[0] || out.at(-1)![1] !== p[1]) out.push(p);
  }
  out.push(ring.at(-1)!);
  return out;
}

/**
 * Corners of neighbouring cells that should be one point but were computed apart (each cell in its
 * own site's frame) made one, so the cells' union sees shared borders as shared. Moves no corner
 * further than `TOLERANCE` (far less than a household's distance from its border).
 */
function snapShared(polygons: PlanarPolygon[]): void {
  const size = TOLERANCE * 4;
  const buckets = new Map<string, XY[]>();
  const snap = ([x, y]: XY): XY => {
    const [i, j] = [Math.floor(x / size), Math.floor(y / size)];
    for (let di = -1; di <= 1; di++)
      for (let dj = -1; dj <= 1; dj++)
        for (const q of buckets.get(`${i + di}:${j + dj}`) ?? []) if (Math.abs(q[0] - x) <= TOLERANCE && Math.abs(q[1] - y) <= TOLERANCE) return q;
    const key = `${i}:${j}`;
    const p: XY = [x, y];
    const list = buckets.get(key);
    if (list) list.push(p);
    else buckets.set(key, [p]);
    return p;
  };
  for (const poly of polygons)
    for (let r = 0; r < poly.length; r++) {
      const ring = poly[r]!.map(snap).filter((p, i, all) => i === 0 || p !== all[i - 1]);
      poly[r] = ring.length >= 4 ? ring : poly[r]!.length >= 4 ? poly[r]! : [];
    }
}

/** How far (metres) two corners may lie apart and still be one. */
const TOLERANCE = 1e-5;

/**
 * The union of convex cells, and its part within the block (its polygons; none: no block); null
 * where the clipping library gives up.
 */
function outlineOf(cells: PlanarPolygon[], blocks: PlanarPolygon[]): { union: PlanarPolygon[]; inBlock: PlanarPolygon[] } | null {
  if (cells.length === 0) return null;
  try {
    const whole = cells.length === 1 ? polygon(cells[0]!) : union(featureCollection(cells.map((c) => polygon(c))));
    if (!whole) return null;
    if (blocks.length === 0) return { union: parts(whole), inBlock: parts(whole) };
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const c of cells) {
      const [a, b, d, e] = ringBox(c[0]!, 1);
      [x0, y0, x1, y1] = [Math.min(x0, a), Math.min(y0, b), Math.max(x1, d), Math.max(y1, e)];
    }
    const block = near(blocks, [x0, y0, x1, y1]);
    const inside = block && intersect(featureCollection<Polygon | MultiPolygon>([whole, block]));
    return inside ? { union: parts(whole), inBlock: parts(inside) } : null;
  } catch {
    return null;
  }
}

/** Polygons cut to an outline, or null where nothing is left or the clipping library gives up. */
function cut(polygons: PlanarPolygon[], outline: PlanarPolygon[]): PlanarPolygon[] | null {
  try {
    const inside = intersect(featureCollection<Polygon | MultiPolygon>([multiPolygon(polygons), multiPolygon(outline)]));
    return inside ? parts(inside) : null;
  } catch {
    return null;
  }
}

function parts(f: Feature<Polygon | MultiPolygon>): PlanarPolygon[] {
  return (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates) as PlanarPolygon[];
}

/** Power cells for groups within an area (its polygons and its rings, which the cells must reach past), or null. */
function straightCells(
  places: readonly Atom[],
  groups: readonly { atoms: readonly number[] }[],
  rule: SplitRule,
  rings: readonly XY[][],
  areas: PlanarPolygon[][],
  extent: readonly XY[][],
  allowBad = 0,
) {
  const walled = wallIndex(rings);
  const crosses = (ax: number, ay: number, bx: number, by: number) => {
    if (!walled) return false;
    const s = walled.segs;
    return walled.index
      .search(Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by))
      .some((i) => segmentsCross(ax, ay, bx, by, s[4 * i]!, s[4 * i + 1]!, s[4 * i + 2]!, s[4 * i + 3]!));
  };
  // Sites pulled to their members' middle make the roundest cells; where that leaves a site outside a
  // bend of the block (the cells are refused), sites on their medoid household.
  // (Not in a block of hundreds of grids whose weights could not balance the counts at all: there
  // the medoids rarely fare better, at the same cost again.)
  // A few cells out of range are repaired by the caller, but cells all in range are better still.
  const pulled = powerCells(places, groups, rule, walled, crosses, extent, areas, 1, allowBad);
  if (process.env.GRIDPLAN_PROFILE && groups.length > 500)
    console.log(`straight (${groups.length} cells): ${pulled ? `${pulled.bad.size} to repair` : `refused: ${lastRefusal.reason}`}`);
  if (pulled?.bad.size === 0 || (groups.length > 500 && (pulled || lastRefusal.reason.startsWith('counts out of range after')))) return pulled;
  const onMedoids = powerCells(places, groups, rule, walled, crosses, extent, areas, 0, allowBad);
  return onMedoids && (onMedoids.bad.size === 0 || !pulled) ? onMedoids : pulled;
}

/** Atoms at identical coordinates as one, with their weights added; `members[i]`: the atoms place `i` stands for. */
function mergeSamePlace(atoms: readonly Atom[]): { places: Atom[]; members: number[][] } {
  const at = new Map<string, number>();
  const places: Atom[] = [];
  const members: number[][] = [];
  atoms.forEach((a, i) => {
    const key = `${a.x},${a.y}`;
    const p = at.get(key);
    if (p === undefined) {
      at.set(key, places.length);
      places.push({ ...a });
      members.push([i]);
    } else {
      places[p]!.weight += a.weight;
      if (a.load !== undefined) places[p]!.load = (places[p]!.load ?? 0) + a.load;
      members[p]!.push(i);
    }
  });
  return { places, members };
}

interface Mesh {
  n: number;
  coords: Float64Array;
  triangles: Uint32Array;
  halfedges: Int32Array;
  circumcentres: Float64Array;
}

const nextHalfedge = (e: number) => (e % 3 === 2 ? e - 2 : e + 1);
const prevHalfedge = (e: number) => (e % 3 === 0 ? e + 2 : e - 1);

/** Delaunay triangulation of the atoms plus four far frame points, so every atom's cell is bounded. */
function triangulate(atoms: readonly Atom[], walls: readonly XY[][]): Mesh {
  const n = atoms.length;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  const extend = (x: number, y: number) => {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  };
  for (const a of atoms) extend(a.x, a.y);
  for (const ring of walls) for (const [x, y] of ring) extend(x, y);
  const size = Math.max(x1 - x0, y1 - y0, 100);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const coords = new Float64Array(2 * (n + 4));
  atoms.forEach((a, i) => {
    coords[2 * i] = a.x;
    coords[2 * i + 1] = a.y;
  });
  // Far enough that every point of the block is nearer to some atom than to any frame point.
  const far = 50 * size;
  [
    [-far, -far],
    [far, -far],
    [far, far],
    [-far, far],
  ].forEach(([dx, dy], i) => {
    coords[2 * (n + i)] = cx + dx!;
    coords[2 * (n + i) + 1] = cy + dy!;
  });
  const d = new Delaunator(coords);
  const triangles = d.triangles;
  const circumcentres = new Float64Array((triangles.length / 3) * 2);
  for (let t = 0; t < triangles.length / 3; t++) {
    const [a, b, c] = [triangles[3 * t]!, triangles[3 * t + 1]!, triangles[3 * t + 2]!];
    const ax = coords[2 * a]!,
      ay = coords[2 * a + 1]!;
    const bx = coords[2 * b]! - ax,
      by = coords[2 * b + 1]! - ay;
    const qx = coords[2 * c]! - ax,
      qy = coords[2 * c + 1]! - ay;
    const bl = bx * bx + by * by;
    const ql = qx * qx + qy * qy;
    const det = 2 * (bx * qy - by * qx);
    circumcentres[2 * t] = ax + (qy * bl - by * ql) / det;
    circumcentres[2 * t + 1] = ay + (bx * ql - qx * bl) / det;
  }
  return { n, coords, triangles, halfedges: d.halfedges, circumcentres };
}

/** Wall segments (block borders) in a static spatial index. */
function wallIndex(walls: readonly XY[][]): { index: Flatbush; segs: Float64Array } | null {
  const segs: number[] = [];
  for (const ring of walls) {
    for (let i = 0; i + 1 < ring.length; i++) segs.push(ring[i]![0], ring[i]![1], ring[i + 1]![0], ring[i + 1]![1]);
  }
  const count = segs.length / 4;
  if (count === 0) return null;
  const index = new Flatbush(count);
  for (let i = 0; i < count; i++) {
    const [ax, ay, bx, by] = segs.slice(4 * i, 4 * i + 4) as [number, number, number, number];
    index.add(Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by));
  }
  index.finish();
  return { index, segs: Float64Array.from(segs) };
}

const orient = (ax: number, ay: number, bx: number, by: number, cx: number, cy: number) => (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);

/** Whether segments p–q and r–s cross properly (through each other, not only touching). */
function segmentsCross(px: number, py: number, qx: number, qy: number, rx: number, ry: number, sx: number, sy: number): boolean {
  const d1 = orient(px, py, qx, qy, rx, ry);
  const d2 = orient(px, py, qx, qy, sx, sy);
  const d3 = orient(rx, ry, sx, sy, px, py);
  const d4 = orient(rx, ry, sx, sy, qx, qy);
  return d1 * d2 < 0 && d3 * d4 < 0;
}

/** Whether segments p–q and r–s touch or cross. */
function segmentsMeet(px: number, py: number, qx: number, qy: number, rx: number, ry: number, sx: number, sy: number): boolean {
  const d1 = orient(px, py, qx, qy, rx, ry);
  const d2 = orient(px, py, qx, qy, sx, sy);
  const d3 = orient(rx, ry, sx, sy, px, py);
  const d4 = orient(rx, ry, sx, sy, qx, qy);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  const on = (ax: number, ay: number, bx: number, by: number, cx: number, cy: number) =>
    Math.min(ax, bx) <= cx && cx <= Math.max(ax, bx) && Math.min(ay, by) <= cy && cy <= Math.max(ay, by);
  return (
    (d1 === 0 && on(px, py, qx, qy, rx, ry)) ||
    (d2 === 0 && on(px, py, qx, qy, sx, sy)) ||
    (d3 === 0 && on(rx, ry, sx, sy, px, py)) ||
    (d4 === 0 && on(rx, ry, sx, sy, qx, qy))
  );
}

/** What the workload-balancing bisection aims at: a share of the load, with households between lo and hi. */
interface Balance {
  goal: number;
  lo: number;
  hi: number;
}

/**
 * The direction of a block's sides when they keep to two square directions (a street block, a
 * walled compound): the length-weighted mean of the edges' angles taken four-fold, so that sides at
 * right angles agree. Null when the sides point every way (a village's winding outline).
 */
export function frameOf(walls: readonly XY[][], strength = FRAME_STRENGTH): number | null {
  let c = 0;
  let s = 0;
  let total = 0;
  for (const ring of walls) {
    for (let i = 1; i < ring.length; i++) {
      const dx = ring[i]![0] - ring[i - 1]![0];
      const dy = ring[i]![1] - ring[i - 1]![1];
      const len = Math.hypot(dx, dy);
      if (len === 0) continue;
      const a = 4 * Math.atan2(dy, dx);
      c += len * Math.cos(a);
      s += len * Math.sin(a);
      total += len;
    }
  }
  if (total === 0 || Math.hypot(c, s) < strength * total) return null;
  return Math.atan2(s, c) / 4;
}

/** How strongly a block's sides must agree on two square directions for cuts to follow them (1: a perfect rectangle). */
const FRAME_STRENGTH = 0.8;

interface Draft {
  atoms: number[];
  households: number;
  reason: InfeasibleReason | null;
  bridged: boolean;
}

/** The adjacency of a block's atoms and the recursive bisection over it. */
class BlockGraph {
  private readonly n: number;
  private readonly weight: Float64Array;
  /** The block's own square frame (a street block's sides), when its walls have one: cuts run along it. */
  private readonly frame: number | null;
  /** Workload per atom, when the split balances it (else null: households alone). */
  private readonly load: Float64Array | null;
  /** Gabriel edges inside the block (CSR). */
  private readonly start: Uint32Array;
  private readonly adj: Uint32Array;
  /** Every Delaunay edge between atoms, for bridging pieces the good edges leave apart. */
  private readonly allStart: Uint32Array;
  private readonly allAdj: Uint32Array;
  private readonly set: Int32Array;
  private readonly mark: Int32Array;
  private token = 0;
  private readonly groups: Draft[] = [];
  private readonly bridged = new Set<number>();

  constructor(
    private readonly atoms: readonly Atom[],
    private readonly mesh: Mesh,
    walls: readonly XY[][],
    private readonly rule: SplitRule,
    /** How far apart (m) a grid's households may lie: a wider group with households enough for two grids is cut again. */
    private readonly maxWidth = Infinity,
  ) {
    const n = (this.n = atoms.length);
    this.frame = frameOf(walls);
    this.weight = Float64Array.from(atoms, (a) => a.weight);
    this.load = atoms.some((a) => a.load !== undefined) ? Float64Array.from(atoms, (a) => a.load ?? a.weight) : null;
    const { coords, triangles, halfedges } = mesh;
    const walled = wallIndex(walls);
    const good: number[] = [];
    const all: number[] = [];
    for (let e = 0; e < triangles.length; e++) {
      const twin = halfedges[e]!;
      if (twin !== -1 && twin < e) continue;
      const a = triangles[e]!;
      const b = triangles[nextHalfedge(e)]!;
      if (a >= n || b >= n) continue;
      all.push(a, b);
      const ax = coords[2 * a]!,
        ay = coords[2 * a + 1]!,
        bx = coords[2 * b]!,
        by = coords[2 * b + 1]!;
      // Gabriel: the opposite corners see a–b under an acute angle (strictly: the dual edge has length).
      const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
      const acute = (c: number) => {
        const cx = coords[2 * c]!,
          cy = coords[2 * c + 1]!;
        return (ax - cx) * (bx - cx) + (ay - cy) * (by - cy) > 1e-9 * len2;
      };
      if (!acute(triangles[prevHalfedge(e)]!) || (twin !== -1 && !acute(triangles[prevHalfedge(twin)]!))) continue;
      if (walled) {
        const hits = walled.index.search(Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by));
        const s = walled.segs;
        if (hits.some((i) => segmentsMeet(ax, ay, bx, by, s[4 * i]!, s[4 * i + 1]!, s[4 * i + 2]!, s[4 * i + 3]!))) continue;
      }
      good.push(a, b);
    }
    [this.start, this.adj] = csr(n, good);
    [this.allStart, this.allAdj] = csr(n, all);
    this.set = new Int32Array(n);
    this.mark = new Int32Array(n);
  }

  partition(): Draft[] {
    const all = Array.from({ length: this.n }, (_, i) => i);
    for (const piece of this.bridgeSmallPieces(this.connected(all, () => false))) this.splitPiece(piece);
    return this.groups;
  }

  private sum(nodes: readonly number[]): number {
    let w = 0;
    for (const i of nodes) w += this.weight[i]!;
    return w;
  }

  /**
   * Pieces too small for a grid of their own (a few houses behind a bend of the border) join the
   * nearest other piece through the shortest Delaunay edge; their grids are marked bridged.
   */
  private bridgeSmallPieces(pieces: number[][]): number[][] {
    const { coords } = this.mesh;
    for (;;) {
      const small = pieces.findIndex((p) => this.sum(p) < this.rule.min);
      if (small < 0 || pieces.length === 1) return pieces;
      const owner = new Int32Array(this.n);
      pieces.forEach((p, k) => p.forEach((i) => (owner[i] = k)));
      let bridge: [number, number, number] | null = null;
      for (const u of pieces[small]!) {
        for (let j = this.allStart[u]!; j < this.allStart[u + 1]!; j++) {
          const v = this.allAdj[j]!;
          if (owner[v] === small) continue;
          const d = (coords[2 * u]! - coords[2 * v]!) ** 2 + (coords[2 * u + 1]! - coords[2 * v + 1]!) ** 2;
          if (!bridge || d < bridge[2]) bridge = [u, v, d];
        }
      }
      const [piece] = pieces.splice(small, 1);
      if (!bridge) {
        // Not even a Delaunay neighbour outside it: it stays a grid of its own.
        this.emit(piece!);
        continue;
      }
      const [u, v] = bridge;
      this.addEdge(u, v);
      for (const i of piece!) this.bridged.add(i);
      const host = pieces.findIndex((p) => p.includes(v));
      pieces[host] = [...pieces[host]!, ...piece!];
    }
  }

  /** Edges beyond the good ones: bridges, and links from small pieces to the big address they join. */
  private readonly extraEdges = new Map<number, number[]>();
  private addEdge(a: number, b: number): void {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const list = this.extraEdges.get(x);
      if (list) list.push(y);
      else this.extraEdges.set(x, [y]);
    }
  }

  private neighbours(u: number, visit: (v: number) => void): void {
    for (let j = this.start[u]!; j < this.start[u + 1]!; j++) visit(this.adj[j]!);
    const extra = this.extraEdges.get(u);
    if (extra) for (const v of extra) visit(v);
  }

  private emit(atoms: number[], reason?: InfeasibleReason): void {
    const households = this.sum(atoms);
    const r = reason ?? (households < this.rule.min ? 'too_few_households' : households > this.rule.max ? 'no_balanced_cut' : null);
    this.groups.push({ atoms, households, reason: r, bridged: atoms.some((a) => this.bridged.has(a)) });
  }

  /** A connected piece: addresses above the maximum become grids of their own, the rest is bisected. */
  private splitPiece(piece: number[]): void {
    const heavy = piece.filter((i) => this.weight[i]! > this.rule.max);
    if (heavy.length === 0) return this.bisect(piece);
    const heavyGroups = heavy.map((h) => {
      this.emit([h], 'location_exceeds_max');
      return this.groups[this.groups.length - 1]!;
    });
    const isHeavy = new Set(heavy);
    for (const rest of this.connected(piece, (i) => isHeavy.has(i))) {
      if (this.sum(rest) >= this.rule.min) {
        this.bisect(rest);
        continue;
      }
      // Too few to stand alone: they join a big address next to them.
      let host: Draft | undefined;
      for (const u of rest) this.neighbours(u, (v) => (host ??= isHeavy.has(v) ? heavyGroups[heavy.indexOf(v)] : undefined));
      if (!host) this.emit(rest);
      else {
        host.atoms.push(...rest);
        host.households += this.sum(rest);
      }
    }
  }

  /** Connected pieces of `nodes` (less `exclude`) over good and extra edges, in order of their first atom. */
  private connected(nodes: readonly number[], exclude: (i: number) => boolean): number[][] {
    const token = ++this.token;
    for (const i of nodes) if (!exclude(i)) this.set[i] = token;
    const seen = ++this.token;
    const pieces: number[][] = [];
    for (const s of nodes) {
      if (this.set[s] !== token || this.mark[s] === seen) continue;
      const piece = [s];
      this.mark[s] = seen;
      for (let k = 0; k < piece.length; k++) {
        this.neighbours(piece[k]!, (v) => {
          if (this.set[v] === token && this.mark[v] !== seen) {
            this.mark[v] = seen;
            piece.push(v);
          }
        });
      }
      pieces.push(piece);
    }
    return pieces;
  }

  /** Recursive bisection of a connected set of atoms (an explicit stack: no recursion depth limit). */
  private bisect(first: number[]): void {
    // Balancing the workload, a part keeps the number of grids its share of the work was cut for
    // (while its households allow it): recounting from households would undo the balance.
    const stack: { nodes: number[]; k?: number }[] = [{ nodes: first }];
    while (stack.length > 0) {
      const { nodes, k: planned } = stack.pop()!;
      const total = this.sum(nodes);
      let k = planned !== undefined && total >= this.rule.min * planned && total <= this.rule.max * planned ? planned : gridCount(total, this.rule);
      // Too wide to walk: cut once more where the households allow two grids in range.
      if (k <= 1 && total >= 2 * this.rule.min && nodes.length > 1 && this.width(nodes) > this.maxWidth) k = 2;
      if (k <= 1 || nodes.length === 1) {
        this.emit(nodes);
        continue;
      }
      const goal = (total * Math.floor(k / 2)) / k;
      const cut = this.cut(nodes, goal, this.load ? this.balance(nodes, total, k) : null);
      if (!cut) {
        this.emit(nodes, 'no_balanced_cut');
        continue;
      }
      const k1 = Math.floor(k / 2);
      const parts = cut.map((p, i) => (this.load && cut.length === 2 ? { nodes: p, k: i === 0 ? k1 : k - k1 } : { nodes: p }));
      // Pushed in reverse so the pieces come off the stack in sweep order.
      for (let i = parts.length - 1; i >= 0; i--) stack.push(parts[i]!);
    }
  }

  /**
   * Grows a connected part from the far end of the principal axis until it holds `goal`
   * households; the rest's pieces too small for a grid join it. Tries the axis both ways, then
   * the cross axis; null when every sweep swallows everything.
   */
  /** The diagonal of the box around some atoms (m): how far apart their households lie, at most. */
  private width(nodes: readonly number[]): number {
    if (this.maxWidth === Infinity) return 0;
    const { coords } = this.mesh;
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const i of nodes) {
      const x = coords[2 * i]!;
      const y = coords[2 * i + 1]!;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    return Math.hypot(x1 - x0, y1 - y0);
  }

  /** An axis turned to the nearest side of the block's frame (within 45° there always is one), or left as it is without a frame. */
  private squared(angle: number): number {
    if (this.frame === null) return angle;
    const quarter = Math.PI / 2;
    return this.frame + Math.round((angle - this.frame) / quarter) * quarter;
  }

  /**
   * Balancing the workload: the first part aims at its share of the load, holding between `lo` and
   * `hi` households so that both parts can still make grids in range.
   */
  private balance(nodes: readonly number[], total: number, k: number): Balance {
    let load = 0;
    for (const i of nodes) load += this.load![i]!;
    const k1 = Math.floor(k / 2);
    const k2 = k - k1;
    const lo = Math.max(this.rule.min * k1, total - this.rule.max * k2, this.rule.min);
    const hi = Math.min(this.rule.max * k1, total - this.rule.min * k2);
    return { goal: (load * k1) / k, lo, hi: Math.max(lo, hi) };
  }

  private cut(nodes: readonly number[], goal: number, balance: Balance | null): number[][] | null {
    const { coords } = this.mesh;
    let mx = 0,
      my = 0,
      w = 0;
    for (const i of nodes) {
      const wi = this.weight[i]!;
      mx += wi * coords[2 * i]!;
      my += wi * coords[2 * i + 1]!;
      w += wi;
    }
    mx /= w;
    my /= w;
    let sxx = 0,
      sxy = 0,
      syy = 0;
    for (const i of nodes) {
      const dx = coords[2 * i]! - mx,
        dy = coords[2 * i + 1]! - my,
        wi = this.weight[i]!;
      sxx += wi * dx * dx;
      sxy += wi * dx * dy;
      syy += wi * dy * dy;
    }
    const angle = this.squared(0.5 * Math.atan2(2 * sxy, sxx - syy));
    const axes: XY[] = [
      [Math.cos(angle), Math.sin(angle)],
      [-Math.cos(angle), -Math.sin(angle)],
      [-Math.sin(angle), Math.cos(angle)],
      [Math.sin(angle), -Math.cos(angle)],
    ];
    for (const [ux, uy] of axes) {
      const part = balance ? this.growBalanced(nodes, ux, uy, balance) : this.grow(nodes, ux, uy, goal);
      const inPart = new Set(part);
      const pieces = this.connected(nodes, (i) => inPart.has(i));
      const kept: number[][] = [];
      for (const p of pieces) {
        if (this.sum(p) >= this.rule.min) kept.push(p);
        else part.push(...p);
      }
      if (kept.length > 0) return [part, ...kept];
    }
    return null;
  }

  private grow(nodes: readonly number[], ux: number, uy: number, goal: number): number[] {
    const { coords } = this.mesh;
    const token = ++this.token;
    let first = nodes[0]!;
    let low = Infinity;
    for (const i of nodes) {
      this.set[i] = token;
      const p = coords[2 * i]! * ux + coords[2 * i + 1]! * uy;
      if (p < low) [low, first] = [p, i];
    }
    const queued = ++this.token;
    const queue = new FlatQueue<number>();
    queue.push(first, low);
    this.mark[first] = queued;
    const part: number[] = [];
    let held = 0;
    while (queue.length > 0) {
      const u = queue.peek()!;
      const wu = this.weight[u]!;
      // Stop where the part comes closest to its goal, never below a grid's minimum.
      if (held >= this.rule.min && held + wu > goal && held + wu - goal > goal - held) break;
      queue.pop();
      part.push(u);
      held += wu;
      if (held >= goal) break;
      this.neighbours(u, (v) => {
        if (this.set[v] === token && this.mark[v] !== queued) {
          this.mark[v] = queued;
          queue.push(v, coords[2 * v]! * ux + coords[2 * v + 1]! * uy);
        }
      });
    }
    return part;
  }

  /** As `grow`, aiming at a share of the workload while the households stay within [lo, hi]. */
  private growBalanced(nodes: readonly number[], ux: number, uy: number, { goal, lo, hi }: Balance): number[] {
    const { coords } = this.mesh;
    const load = this.load!;
    const token = ++this.token;
    let first = nodes[0]!;
    let low = Infinity;
    for (const i of nodes) {
      this.set[i] = token;
      const p = coords[2 * i]! * ux + coords[2 * i + 1]! * uy;
      if (p < low) [low, first] = [p, i];
    }
    const queued = ++this.token;
    const queue = new FlatQueue<number>();
    queue.push(first, low);
    this.mark[first] = queued;
    const part: number[] = [];
    let held = 0;
    let work = 0;
    while (queue.length > 0) {
      const u = queue.peek()!;
      const wu = this.weight[u]!;
      const lu = load[u]!;
      if (held >= lo && (held + wu > hi || (work + lu > goal && work + lu - goal > goal - work))) break;
      queue.pop();
      part.push(u);
      held += wu;
      work += lu;
      if (held >= lo && work >= goal) break;
      this.neighbours(u, (v) => {
        if (this.set[v] === token && this.mark[v] !== queued) {
          this.mark[v] = queued;
          queue.push(v, coords[2 * v]! * ux + coords[2 * v + 1]! * uy);
        }
      });
    }
    return part;
  }
}

function csr(n: number, pairs: readonly number[]): [Uint32Array, Uint32Array] {
  const start = new Uint32Array(n + 1);
  for (let k = 0; k < pairs.length; k++) start[pairs[k]! + 1]!++;
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, n);
  const adj = new Uint32Array(pairs.length);
  for (let k = 0; k < pairs.length; k += 2) {
    const [a, b] = [pairs[k]!, pairs[k + 1]!];
    adj[fill[a]!++] = b;
    adj[fill[b]!++] = a;
  }
  return [start, adj];
}

/**
 * Each group's outline: the Voronoi edges between its atoms and others, chained by triangle
 * (every Voronoi vertex is a triangle's circumcentre, so chaining compares integers, never floats).
 */
function traceGroups(mesh: Mesh, groupOf: Int32Array, count: number): PlanarPolygon[][] {
  const { triangles, halfedges, circumcentres } = mesh;
  const next: Map<number, number>[] = Array.from({ length: count }, () => new Map());
  for (let e = 0; e < triangles.length; e++) {
    const g = groupOf[triangles[e]!]!;
    if (g < 0 || g === groupOf[triangles[nextHalfedge(e)]!]) continue;
    next[g]!.set(Math.floor(e / 3), Math.floor(halfedges[e]! / 3));
  }
  return next.map((edges) => {
    const rings: { ring: XY[]; area: number }[] = [];
    for (const startTri of edges.keys()) {
      if (!edges.has(startTri)) continue;
      const ring: XY[] = [];
      let t = startTri;
      do {
        const pt: XY = [circumcentres[2 * t]!, circumcentres[2 * t + 1]!];
        const last = ring[ring.length - 1];
        if (!last || last[0] !== pt[0] || last[1] !== pt[1]) ring.push(pt);
        const to = edges.get(t)!;
        edges.delete(t);
        t = to;
      } while (t !== startTri && edges.has(t));
      if (ring.length < 3) continue;
      ring.push([ring[0]![0], ring[0]![1]]);
      rings.push({ ring, area: signedArea(ring) });
    }
    return assemble(rings);
  });
}

/** The block's rings as polygons: a ring inside an even number of others is an outline, inside an odd number a hole of the smallest one around it. */
function blockPolygons(walls: readonly XY[][]): PlanarPolygon[] {
  const rings = walls.filter((r) => r.length >= 4).map((ring) => ({ ring: [...ring], area: Math.abs(signedArea(ring)) }));
  const around = rings.map((r, i) => rings.filter((o, j) => j !== i && o.area > r.area && pointInRing(r.ring[0]!, o.ring)));
  const outlines = new Map<XY[], PlanarPolygon>();
  rings.forEach((r, i) => around[i]!.length % 2 === 0 && outlines.set(r.ring, [r.ring]));
  rings.forEach((r, i) => {
    if (around[i]!.length % 2 === 0) return;
    const host = around[i]!.filter((o) => outlines.has(o.ring)).sort((a, b) => a.area - b.area)[0];
    if (host) outlines.get(host.ring)!.push(r.ring);
  });
  return [...outlines.values()];
}

function signedArea(ring: readonly XY[]): number {
  let s = 0;
  for (let i = 0; i + 1 < ring.length; i++) s += ring[i]![0] * ring[i + 1]![1] - ring[i + 1]![0] * ring[i]![1];
  return s / 2;
}

/** Rings of one winding are outlines, the others holes inside them. */
function assemble(rings: { ring: XY[]; area: number }[]): PlanarPolygon[] {
  if (rings.length === 0) return [];
  const largest = rings.reduce((a, b) => (Math.abs(b.area) > Math.abs(a.area) ? b : a));
  const sign = Math.sign(largest.area);
  const outers = rings.filter((r) => Math.sign(r.area) === sign).sort((a, b) => Math.abs(b.area) - Math.abs(a.area));
  const polygons: PlanarPolygon[] = outers.map((o) => [o.ring]);
  for (const hole of rings.filter((r) => Math.sign(r.area) !== sign)) {
    const host = outers.findIndex((o) => pointInRing(hole.ring[0]!, o.ring));
    polygons[host < 0 ? 0 : host]!.push(hole.ring);
  }
  return polygons;
}

export function pointInRing([x, y]: XY, ring: readonly XY[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
