import { bboxClip, booleanPointInPolygon, featureCollection, intersect, multiPolygon, polygon } from '@turf/turf';
import Flatbush from 'flatbush';
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import type { Atom, PlanarPolygon, SplitRule, XY } from './autosplit.ts';

/**
 * Straight, compact grids from balanced groups: a capacity-constrained power diagram.
 *
 * The bisection's groups hold the right number of households, but their outlines follow the
 * households' own Voronoi cells and zig-zag between houses. Here every group becomes a site with
 * a weight; a household belongs to the site of least power distance |x − s|² − w, so the borders
 * are straight lines (the cells are convex). The weights are balanced until every cell holds a
 * count within the rule, and the sites move to their members' middle now and then, which makes
 * the cells round (Lloyd's step) — the capacity-constrained Voronoi tessellation of Balzer et al.,
 * solved on weights as in de Goes et al.'s power diagrams.
 *
 *   groups ─► sites at their middles, weights 0
 *          ─► repeat: households to the least power distance ─► counts ─► weights up or down
 *                     (every few rounds: sites to their members' middle)
 *          ─► cells by half-planes against nearby sites ─► checked: every household inside its own
 *             cell, in range, and seeing its site without leaving the block
 *
 * Returns null where straight cells cannot keep the counts in range or would fall apart in a
 * concave block (a household would sit in a piece cut off from its site): the caller keeps the
 * groups' own outlines there.
 */
export interface PowerCells {
  /** For each place, its cell. */
  cellOf: Int32Array;
  /** Each cell as one convex polygon (not yet clipped to the block). */
  polygons: PlanarPolygon[];
  /** Cells that miss the range or lose a household past the block's edge (only where `allowBad` let them through): the caller repairs them. */
  bad: Set<number>;
  /** Each site, where the cells stand (for finding a cell's neighbours). */
  sites: { x: Float64Array; y: Float64Array; w: Float64Array };
}

export interface Walls {
  index: Flatbush;
  segs: Float64Array;
}

/** How far (metres) a household must be from its cell's border. */
const MARGIN = 0.001;

/** Why the last call gave up (for the benchmark's and tests' eyes). */
export const lastRefusal: { reason: string } = { reason: '' };

/** Rounds of balancing at most; the sites move to their members' middle every LLOYD_EVERY rounds until LLOYD_UNTIL. */
const ROUNDS = 120;
const LLOYD_EVERY = 4;
const LLOYD_UNTIL = 40;
/** Rounds before the cells may settle: so many Lloyd steps at least (rounder cells). */
const LLOYD_SETTLE = 40;
/** A weight's first step, and its largest, as shares of the squared distance to the site's third neighbour. */
const STEP = 0.1;
const STEP_CAP = 0.5;
/** How far (in the same unit) a weight may stray from its neighbours'. */
const CLAMP = 1;
/** Steps of drawing the weights together once settled. */
const POLISH = 16;
const CANDIDATES = 20;

export function powerCells(
  places: readonly Atom[],
  groups: readonly { atoms: readonly number[] }[],
  rule: SplitRule,
  walls: Walls | null,
  crosses: (ax: number, ay: number, bx: number, by: number) => boolean,
  /** The block's rings: the cells reach past it on every side, and are cut by it where a household may be cut off. */
  extent: readonly XY[][] = [],
  /** The block as polygons (outer ring, then holes); several areas: where all of them overlap. */
  block: PlanarPolygon[][] = [],
  /** How far a Lloyd step moves a site from its members' medoid toward their middle (0: the medoid, 1: the middle). */
  pull = 0,
  /** How many cells may miss their range (or lose a household past the block's edge) and be handed back as `bad` instead of refusing all. */
  allowBad = 0,
): PowerCells | null {
  const k = groups.length;
  const n = places.length;
  if (k === 0) return null;
  const sx = new Float64Array(k);
  const sy = new Float64Array(k);
  const w = new Float64Array(k);
  const cellOf = new Int32Array(n);
  const count = new Float64Array(k);
  // The sites start at their groups' middles (moved onto the nearest member: a site inside the block).
  const taken = new Taken();
  groups.forEach((g, i) => {
    const [x, y] = medoid(places, g.atoms, taken);
    sx[i] = x;
    sy[i] = y;
    for (const a of g.atoms) cellOf[a] = i;
  });
  // Each site's squared distance to its third-nearest neighbour: the unit its weight moves in (towns
  // are dense and mountains sparse, so no one unit fits every cell; the nearest alone may sit on top of it).
  const spread = new Float64Array(k);
  // A household's candidates: the sites nearest the site it belongs to when they are looked up (far
  // cheaper than a nearest-sites search per household, ten times over).
  const siteNear = new Int32Array(k * CANDIDATES);
  const home = new Int32Array(n);
  let index = siteIndex(sx, sy);
  const nearSites = () => {
    for (let s = 0; s < k; s++) {
      const near = index.neighbors(sx[s]!, sy[s]!, CANDIDATES);
      for (let c = 0; c < CANDIDATES; c++) siteNear[s * CANDIDATES + c] = near[c] ?? near[0]!;
    }
    home.set(cellOf);
  };
  const nbrs = new Int32Array(k * 3).fill(-1);
  const measure = () => {
    for (let i = 0; i < k; i++) {
      const near = index.neighbors(sx[i]!, sy[i]!, 4).filter((j) => j !== i);
      near.slice(0, 3).forEach((j, c) => (nbrs[i * 3 + c] = j));
      const j = near.at(-1);
      spread[i] = j === undefined ? 1 : Math.max(1, (sx[j]! - sx[i]!) ** 2 + (sy[j]! - sy[i]!) ** 2);
    }
  };
  nearSites();
  measure();
  const assign = () => {
    count.fill(0);
    for (let p = 0; p < n; p++) {
      const { x, y, weight } = places[p]!;
      let best = -1;
      let bestD = Infinity;
      const from = home[p]! * CANDIDATES;
      for (let c = 0; c < CANDIDATES; c++) {
        const s = siteNear[from + c]!;
        const d = (x - sx[s]!) ** 2 + (y - sy[s]!) ** 2 - w[s]!;
        if (d < bestD) [bestD, best] = [d, s];
      }
      cellOf[p] = best;
      count[best]! += weight;
    }
  };
  const inRange = () => {
    for (let i = 0; i < k; i++) if (count[i]! < rule.min || count[i]! > rule.max) return false;
    return true;
  };
  let settled = false;
  const step = new Float64Array(k);
  // Each cell aims at its group's own count (in range, and adding up to the block's households).
  const goal = Float64Array.from(groups, (g) => g.atoms.reduce((s, a) => s + places[a]!.weight, 0));
  const last = new Int8Array(k);
  for (let round = 1; round <= ROUNDS; round++) {
    assign();
    // Settled once in range after the last move of the sites (the weights alone then hold it).
    if (inRange() && round > LLOYD_SETTLE) {
      settled = true;
      break;
    }
    if (round % LLOYD_EVERY === 0 && round <= LLOYD_UNTIL) {
      moveSites(places, cellOf, sx, sy, pull);
      index = siteIndex(sx, sy);
      nearSites();
      measure();
      continue;
    }
    // A cell short of its target grows (its weight rises), one over it shrinks; each cell's step
    // grows while it keeps missing on one side and halves when it overshoots (Rprop), so close pairs
    // and sparse hamlets both settle.
    for (let i = 0; i < k; i++) {
      const err = Math.sign(goal[i]! - count[i]!);
      if (step[i] === 0) step[i] = STEP * spread[i]!;
      if (err !== 0 && err === last[i]) step[i] = Math.min(step[i]! * 1.2, STEP_CAP * spread[i]!);
      else if (err !== 0 && err === -last[i]!) step[i]! *= 0.5;
      w[i]! += err * step[i]!;
      last[i] = err;
    }
    // Only differences between neighbours matter: no drift of all together, and no cell reaching
    // far past its neighbours (a runaway weight in the mountains would swallow a valley's cells).
    // No weight far from its neighbours' (a site nobody's household can reach would otherwise grow
    // without end, and its cell swallow a valley's).
    for (let i = 0; i < k; i++) {
      let [lo, hi] = [Infinity, -Infinity];
      for (let c = 0; c < 3; c++) {
        const j = nbrs[i * 3 + c]!;
        if (j >= 0) [lo, hi] = [Math.min(lo, w[j]!), Math.max(hi, w[j]!)];
      }
      if (lo <= hi) w[i] = Math.max(lo - CLAMP * spread[i]!, Math.min(hi + CLAMP * spread[i]!, w[i]!));
    }
  }
  // Polish: weights as near the plain Voronoi as the counts allow (equal weights: the roundest cells),
  // each step kept only while every count stays in range.
  if (settled) {
    const kept = Float64Array.from(w);
    for (let pass = 0; pass < POLISH; pass++) {
      let mean = 0;
      for (let i = 0; i < k; i++) mean += w[i]! / k;
      for (let i = 0; i < k; i++) w[i] = mean + 0.85 * (w[i]! - mean);
      assign();
      if (!inRange()) {
        w.set(kept);
        assign();
        break;
      }
      kept.set(w);
    }
  }
  const outOfRange = () => new Set([...count.keys()].filter((i) => count[i]! < rule.min || count[i]! > rule.max));
  if (!settled && outOfRange().size > allowBad) return refuse(`counts out of range after ${ROUNDS} rounds: ${outOfRange().size} cells`);
  // The balancing ends with borders brushing households (the last steps rock one back and forth):
  // such a cell grows a hair (a few centimetres) until no household sits on a border.
  let polygons: PlanarPolygon[] | null = null;
  // after the first pass, only the grown cells and the cells whose frames touch theirs are built again
  let again: { only: Set<number>; before: PlanarPolygon[] } | null = null;
  for (let pass = 0; pass < 4; pass++) {
    polygons = cellPolygons(places, extent, sx, sy, w, index, allowBad, again);
    if (!polygons) return null;
    const grown = new Set<number>();
    for (let p = 0; p < n; p++) {
      const s = cellOf[p]!;
      if (!insideConvex(places[p]!.x, places[p]!.y, polygons[s]![0]!) && insideConvex(places[p]!.x, places[p]!.y, polygons[s]![0]!, 0)) grown.add(s);
    }
    if (grown.size === 0 || pass === 3) break;
    again = { only: touching(polygons, grown, sx, sy), before: polygons };
    for (const s of grown) w[s]! += 0.1 * Math.sqrt(spread[s]!);
  }
  if (!polygons) return null;
  // Every household in the cell that holds it: the nearest sites by distance may miss the one of
  // least power distance where weights differ much, so a household outside its cell looks further.
  // (Where some cells may be repaired, one far off is looked for among all, and a household on a
  // border goes to either cell, which is then repaired.)
  const onBorder = new Set<number>();
  const all = Array.from({ length: k }, (_, s) => s);
  for (let p = 0; p < n; p++) {
    const { x, y } = places[p]!;
    if (insideConvex(x, y, polygons[cellOf[p]!]![0]!)) continue;
    let holder = index.neighbors(x, y, 64).find((s) => insideConvex(x, y, polygons[s]![0]!));
    if (holder === undefined && allowBad > 0) {
      holder = all.find((s) => insideConvex(x, y, polygons![s]![0]!));
      if (holder === undefined) {
        holder = all.find((s) => insideConvex(x, y, polygons![s]![0]!, 0));
        if (holder !== undefined) onBorder.add(holder);
      }
    }
    if (holder === undefined) return refuse(`household ${p} in no cell (or on a border)`);
    count[cellOf[p]!]! -= places[p]!.weight;
    count[holder]! += places[p]!.weight;
    cellOf[p] = holder;
  }
  const bad = new Set([...outOfRange(), ...onBorder]);
  if (bad.size > allowBad) return refuse('counts out of range once every household is in the cell that holds it');
  // Every household in the piece of its cell (within the block) that holds the site: other pieces
  // join neighbouring grids. Seeing the site from inside the block is enough; a cell where some
  // household does not is cut by the block to make sure.
  const doubtful = new Set<number>();
  for (let p = 0; p < n; p++) {
    const s = cellOf[p]!;
    if (k > 1 && walls && crosses(places[p]!.x, places[p]!.y, sx[s]!, sy[s]!)) doubtful.add(s);
  }
  if (doubtful.size > 0) {
    const members = new Map<number, number[]>([...doubtful].map((s) => [s, []]));
    cellOf.forEach((s, p) => members.get(s)?.push(p));
    for (const [s, inCell] of members) {
      const piece = pieceHolding(polygons[s]![0]!, block, [sx[s]!, sy[s]!]);
      const lost = inCell.find((p) => !piece || !inPolygon([places[p]!.x, places[p]!.y], piece));
      if (lost === undefined) continue;
      bad.add(s);
      if (bad.size > allowBad) return refuse(`household ${lost} cut off from its grid's other households by the block's edge`);
    }
  }
  lastRefusal.reason = '';
  return { cellOf, polygons, bad, sites: { x: sx, y: sy, w } };
}

function refuse(reason: string): null {
  lastRefusal.reason = reason;
  return null;
}

/**
 * The member nearest the members' middle (weighted): inside the block, unlike the middle of a bent
 * group. `taken`: places another site already stands on (two sites at one place have no border).
 */
function medoid(places: readonly Atom[], members: readonly number[], taken?: Taken): XY {
  let [mx, my, m] = [0, 0, 0];
  for (const a of members) {
    const p = places[a]!;
    mx += p.x * p.weight;
    my += p.y * p.weight;
    m += p.weight;
  }
  [mx, my] = [mx / m, my / m];
  let best = members[0]!;
  let bestD = Infinity;
  for (const a of members) {
    const d = (places[a]!.x - mx) ** 2 + (places[a]!.y - my) ** 2;
    if (d < bestD && !taken?.near(places[a]!.x, places[a]!.y)) [bestD, best] = [d, a];
  }
  taken?.add(places[best]!.x, places[best]!.y);
  return [places[best]!.x, places[best]!.y];
}

/** Where sites stand: no two within SEPARATION metres (else their border is all but undefined). */
const SEPARATION = 10;
class Taken {
  private readonly cells = new Map<string, XY[]>();
  add(x: number, y: number): void {
    const key = `${Math.floor(x / SEPARATION)}:${Math.floor(y / SEPARATION)}`;
    const list = this.cells.get(key);
    if (list) list.push([x, y]);
    else this.cells.set(key, [[x, y]]);
  }
  near(x: number, y: number): boolean {
    const [i, j] = [Math.floor(x / SEPARATION), Math.floor(y / SEPARATION)];
    for (let di = -1; di <= 1; di++)
      for (let dj = -1; dj <= 1; dj++)
        for (const [px, py] of this.cells.get(`${i + di}:${j + dj}`) ?? []) if ((px - x) ** 2 + (py - y) ** 2 < SEPARATION ** 2) return true;
    return false;
  }
}

function moveSites(places: readonly Atom[], cellOf: Int32Array, sx: Float64Array, sy: Float64Array, pull: number): void {
  const members: number[][] = Array.from({ length: sx.length }, () => []);
  cellOf.forEach((s, p) => members[s]!.push(p));
  const taken = new Taken();
  // a site left without members stays where it is: nobody else may stand there
  members.forEach((m, s) => m.length === 0 && taken.add(sx[s]!, sy[s]!));
  members.forEach((m, s) => {
    if (m.length === 0) return;
    const [x, y] = medoid(places, m, taken);
    if (pull === 0) return void ([sx[s], sy[s]] = [x, y]);
    let [mx, my, n] = [0, 0, 0];
    for (const a of m) [mx, my, n] = [mx + places[a]!.x * places[a]!.weight, my + places[a]!.y * places[a]!.weight, n + places[a]!.weight];
    [sx[s], sy[s]] = [x + pull * (mx / n - x), y + pull * (my / n - y)];
  });
}

function siteIndex(sx: Float64Array, sy: Float64Array): Flatbush {
  const index = new Flatbush(sx.length);
  for (let i = 0; i < sx.length; i++) index.add(sx[i]!, sy[i]!, sx[i]!, sy[i]!);
  index.finish();
  return index;
}

/**
 * Each site's cell: a frame around all places cut by the half-plane of every site near enough to
 * matter. A site at distance d can cut cell i only if (d − R)² < R² + w_max − w_i, R being the
 * farthest corner of the cell so far, so the search stops there.
 */
function cellPolygons(
  places: readonly Atom[],
  extent: readonly XY[][],
  sx: Float64Array,
  sy: Float64Array,
  w: Float64Array,
  index: Flatbush,
  /** How many cells may come out empty (an empty ring) instead of refusing all. */
  allowEmpty = 0,
  /** Only these cells are built again; the others are kept from before. */
  again: { only: Set<number>; before: PlanarPolygon[] } | null = null,
): PlanarPolygon[] | null {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const p of places) [x0, y0, x1, y1] = [Math.min(x0, p.x), Math.min(y0, p.y), Math.max(x1, p.x), Math.max(y1, p.y)];
  for (const ring of extent) for (const [x, y] of ring) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  const pad = Math.max(x1 - x0, y1 - y0, 100);
  [x0, y0, x1, y1] = [x0 - pad, y0 - pad, x1 + pad, y1 + pad];
  let wMax = -Infinity;
  for (const v of w) wMax = Math.max(wMax, v);
  const polygons: PlanarPolygon[] = [];
  for (let i = 0; i < sx.length; i++) {
    if (again && !again.only.has(i)) {
      polygons.push(again.before[i]!);
      continue;
    }
    const [px, py] = [sx[i]!, sy[i]!];
    // in coordinates around the site: fewer digits lost
    let ring: XY[] = [
      [x0 - px, y0 - py],
      [x1 - px, y0 - py],
      [x1 - px, y1 - py],
      [x0 - px, y1 - py],
    ];
    let batch = 16;
    let seen = 0;
    search: for (;;) {
      const near = index.neighbors(px, py, batch);
      for (; seen < near.length; seen++) {
        const j = near[seen]!;
        if (j === i) continue;
        const [qx, qy] = [sx[j]! - px, sy[j]! - py];
        const d = Math.hypot(qx, qy);
        if (d === 0) return refuse(`sites ${i} and ${j} at one place`); // no straight border between them
        const r = Math.sqrt(ring.reduce((m, [x, y]) => Math.max(m, x * x + y * y), 0));
        if (d > r && (d - r) ** 2 >= r * r + wMax - w[i]!) break search; // no site this far or farther can cut the cell
        // keep x with 2 x·q ≤ |q|² + w_i − w_j
        ring = clip(ring, 2 * qx, 2 * qy, qx * qx + qy * qy + w[i]! - w[j]!);
        if (ring.length < 3) {
          // an empty cell (its site outweighed) holds nobody: a cell out of range, where the caller repairs such
          if (allowEmpty-- > 0) break search;
          return refuse(`cell ${i} cut away by site ${j} (d ${d.toFixed(1)} m, w ${w[i]!.toFixed(0)} vs ${w[j]!.toFixed(0)}, r ${r.toFixed(0)}, seen ${seen})`);
        }
      }
      if (near.length < batch) break;
      batch *= 2;
    }
    polygons.push(ring.length < 3 ? [[]] : [closeRing(ring, px, py)]);
  }
  return polygons;
}

/**
 * The piece of a convex cell within the areas that holds a point (null: none). Each area is first
 * cut to the cell's frame (a metre wider), so a county's long outline costs no more than the corner of it the cell sees.
 */
function pieceHolding(cell: XY[], areas: PlanarPolygon[][], at: XY): PlanarPolygon | null {
  if (areas.length === 0) return [cell];
  const frame = ringBox(cell, 1);
  const parts = areas.map((area) => near(area, frame));
  if (parts.some((p) => p === null)) return null;
  let cut: Feature<Polygon | MultiPolygon> | null;
  try {
    cut = intersect(featureCollection<Polygon | MultiPolygon>([polygon([cell]), ...(parts as Feature<MultiPolygon>[])]));
  } catch {
    return null; // the clipping library gave up on a degenerate corner: the caller keeps the outlines between the houses
  }
  if (!cut) return null;
  const pieces = (cut.geometry.type === 'Polygon' ? [cut.geometry.coordinates] : cut.geometry.coordinates) as XY[][][];
  return pieces.find((piece) => inPolygon(at, piece)) ?? null;
}

/** The part of an area within a frame (null: none): Sutherland–Hodgman per ring, cheap even for a county's outline. */
export function near(area: PlanarPolygon[], frame: [number, number, number, number]): Feature<MultiPolygon> | null {
  const clipped = bboxClip(multiPolygon(area as XY[][][]), frame) as Feature<MultiPolygon>;
  const polygons = clipped.geometry.coordinates.filter((p) => p.length > 0);
  return polygons.length ? multiPolygon(polygons) : null;
}

/** A ring's bounding box, `pad` wider on every side. */
export function ringBox(ring: readonly XY[], pad: number): [number, number, number, number] {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of ring) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  return [x0 - pad, y0 - pad, x1 + pad, y1 + pad];
}

/** Inside the outer ring and no hole (on an edge counts as inside: the site stands on a household). */
function inPolygon(at: XY, piece: PlanarPolygon): boolean {
  return booleanPointInPolygon(at, polygon(piece as XY[][]), { ignoreBoundary: false });
}

function closeRing(ring: XY[], px: number, py: number): XY[] {
  const out = ring.map(([x, y]) => [x + px, y + py] as XY);
  out.push([out[0]![0], out[0]![1]]);
  return out;
}

/** A convex ring cut to a·x + b·y ≤ c (Sutherland–Hodgman, one edge). */
function clip(ring: XY[], a: number, b: number, c: number): XY[] {
  const out: XY[] = [];
  for (let i = 0; i < ring.length; i++) {
    const p = ring[i]!;
    const q = ring[(i + 1) % ring.length]!;
    const fp = a * p[0] + b * p[1] - c;
    const fq = a * q[0] + b * q[1] - c;
    if (fp <= 0) out.push(p);
    if ((fp < 0 && fq > 0) || (fp > 0 && fq < 0)) {
      const t = fp / (fp - fq);
      out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
    }
  }
  return out;
}

/** Whether a point lies in a closed convex ring (either winding), at least `margin` metres from its edges. */
function insideConvex(x: number, y: number, ring: readonly XY[], margin = MARGIN): boolean {
  if (ring.length < 4) return false; // an empty cell
  let sign = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [ax, ay] = ring[i]!;
    const [bx, by] = ring[i + 1]!;
    const cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
    const len = Math.hypot(bx - ax, by - ay);
    if (len === 0) continue;
    // On (or within a millimetre of) a border: the household could fall to either side.
    if (Math.abs(cross) <= margin * len) return false;
    const s = Math.sign(cross);
    if (sign === 0) sign = s;
    else if (s !== sign) return false;
  }
  return true;
}

/** The given cells and every cell whose frame touches one of theirs (a metre apart or less): all their neighbours and then some. */
function touching(polygons: PlanarPolygon[], cells: Set<number>, sx: Float64Array, sy: Float64Array): Set<number> {
  const boxes = cellBoxes(polygons, sx, sy);
  const out = new Set(cells);
  for (const c of cells) {
    const ring = polygons[c]![0]!;
    if (ring.length >= 4) for (const t of boxes.search(...ringBox(ring, 1))) out.add(t);
  }
  return out;
}

/**
 * Each of `cells` with the cells sharing a border with it: across each edge's middle, the cell of
 * least power distance among those whose frame holds that point (the cell holding it is one).
 * Edges on the frame have none.
 */
export function cellNeighbours(result: Pick<PowerCells, 'polygons' | 'sites'>, cells: Iterable<number>): Map<number, Set<number>> {
  const { x: sx, y: sy, w } = result.sites;
  const boxes = cellBoxes(result.polygons, sx, sy);
  const out = new Map<number, Set<number>>();
  for (const i of cells) {
    const across = new Set<number>();
    out.set(i, across);
    const ring = result.polygons[i]![0]!;
    for (let e = 0; e + 1 < ring.length; e++) {
      const [[ax, ay], [bx, by]] = [ring[e]!, ring[e + 1]!];
      const len = Math.hypot(bx - ax, by - ay);
      if (len === 0) continue;
      // a centimetre past the edge's middle, on the side away from the site
      let [nx, ny] = [(by - ay) / len, -(bx - ax) / len];
      const [mx, my] = [(ax + bx) / 2, (ay + by) / 2];
      if ((mx - sx[i]!) * nx + (my - sy[i]!) * ny < 0) [nx, ny] = [-nx, -ny];
      const [px, py] = [mx + 0.01 * nx, my + 0.01 * ny];
      let best = i;
      let bestD = Infinity;
      for (const s of boxes.search(px, py, px, py)) {
        const d = (px - sx[s]!) ** 2 + (py - sy[s]!) ** 2 - w[s]!;
        if (d < bestD) [bestD, best] = [d, s];
      }
      if (best !== i) across.add(best);
    }
  }
  return out;
}

/** Each cell's frame (an empty cell: its site), indexed. */
function cellBoxes(polygons: PlanarPolygon[], sx: Float64Array, sy: Float64Array): Flatbush {
  const boxes = new Flatbush(polygons.length);
  polygons.forEach((poly, i) => {
    const ring = poly[0]!;
    if (ring.length < 4) boxes.add(sx[i]!, sy[i]!, sx[i]!, sy[i]!);
    else boxes.add(...ringBox(ring, 0));
  });
  boxes.finish();
  return boxes;
}
