import polylabel from 'polylabel';

/**
 * Print maps are SVG: vector on paper at any size, as many maps on a page as there are villages
 * (a browser allows only a few WebGL maps at once), nothing to wait for. Positions are lon/lat
 * projected to metres on a plane tangent at the map's middle (equirectangular: at a village's
 * size, under a thousandth off), then fitted into the frame in millimetres, north up.
 */
export type Ring = [number, number][];
export type MultiPolygon = { type: 'MultiPolygon'; coordinates: number[][][][] };

const R = 6_371_008.8;

export interface Frame {
  /** Millimetres on paper of a lon/lat position. */
  project(p: number[]): [number, number];
  /** The lon/lat of a point on paper (mm): `project` undone. */
  unproject(x: number, y: number): [number, number];
  /** Metres on the ground per millimetre on paper. */
  metresPerMm: number;
}

/** A frame of `width` × `height` mm (less `pad`) that holds every geometry, centred. */
export function fit(geometries: MultiPolygon[], width: number, height: number, pad = 4, bottom = pad): Frame {
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const g of geometries)
    for (const poly of g.coordinates)
      for (const [x, y] of poly[0] ?? []) {
        w = Math.min(w, x!);
        e = Math.max(e, x!);
        s = Math.min(s, y!);
        n = Math.max(n, y!);
      }
  if (!Number.isFinite(w)) [w, s, e, n] = [0, 0, 1e-4, 1e-4];
  const k = Math.cos((((s + n) / 2) * Math.PI) / 180);
  const metres = (p: number[]): [number, number] => [(((p[0]! - w) * Math.PI) / 180) * R * k, (((n - p[1]!) * Math.PI) / 180) * R];
  const [gw, gh] = metres([e, s]);
  const metresPerMm = Math.max(gw / (width - 2 * pad), gh / (height - pad - bottom), 1e-6);
  const ox = (width - gw / metresPerMm) / 2;
  const oy = pad + (height - pad - bottom - gh / metresPerMm) / 2;
  return {
    metresPerMm,
    project: (p) => {
      const [x, y] = metres(p);
      return [ox + x / metresPerMm, oy + y / metresPerMm];
    },
    unproject: (x, y) => [w + ((((x - ox) * metresPerMm) / (R * k)) * 180) / Math.PI, n - ((((y - oy) * metresPerMm) / R) * 180) / Math.PI],
  };
}

/** An SVG path of a multipolygon in the frame (holes drawn with evenodd). */
export function pathOf(g: MultiPolygon, f: Frame): string {
  return g.coordinates
    .map((poly) =>
      poly
        .map(
          (ring) =>
            `M${ring
              .map((p) =>
                f
                  .project(p)
                  .map((v) => v.toFixed(2))
                  .join(','),
              )
              .join('L')}Z`,
        )
        .join(''),
    )
    .join('');
}

/** Where a label goes: the point of the largest polygon farthest from its edges, and that distance (mm). */
export function labelPoint(g: MultiPolygon, f: Frame): { x: number; y: number; room: number } {
  let best = { x: 0, y: 0, room: -1 };
  for (const poly of g.coordinates) {
    const rings = poly.map((ring) => ring.map((p) => f.project(p)));
    const p = polylabel(rings, 0.2);
    if (p.distance > best.room) best = { x: p[0], y: p[1], room: p.distance };
  }
  return best;
}

/** A scale bar near `maxMm` long: a round ground length (1, 2 or 5 × 10ⁿ m) and its length on paper, labelled in the page's units (公里/米). */
export function scaleBar(metresPerMm: number, maxMm: number, units = { km: 'km', m: 'm' }): { metres: number; mm: number; label: string } {
  const max = metresPerMm * maxMm;
  const base = 10 ** Math.floor(Math.log10(max));
  const metres = [5, 2, 1].map((m) => m * base).find((m) => m <= max) ?? base;
  return { metres, mm: metres / metresPerMm, label: metres >= 1000 ? `${metres / 1000} ${units.km}` : `${metres} ${units.m}` };
}

/** The map's scale as 1:n, rounded for print (1:12,000). */
export const ratio = (metresPerMm: number) => Math.round((metresPerMm * 1000) / 100) * 100;

/** A rectangle on the sheet, in mm from its top left. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
/**
 * Whether any of the shapes, drawn in the frame, reaches into a box on the sheet: an edge crossing it
 * (Liang–Barsky), or the box lying inside a shape.
 */
export function shapesMeetBox(geometries: MultiPolygon[], f: Frame, box: Box): boolean {
  const [x0, y0, x1, y1] = [box.x, box.y, box.x + box.w, box.y + box.h];
  const crosses = (a: [number, number], b: [number, number]) => {
    let [t0, t1] = [0, 1];
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    for (const [p, q] of [
      [-dx, a[0] - x0],
      [dx, x1 - a[0]],
      [-dy, a[1] - y0],
      [dy, y1 - a[1]],
    ] as const) {
      if (p === 0) {
        if (q < 0) return false;
      } else if (p < 0) t0 = Math.max(t0, q / p);
      else t1 = Math.min(t1, q / p);
      if (t0 > t1) return false;
    }
    return true;
  };
  let inside = false;
  const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];
  for (const g of geometries)
    for (const poly of g.coordinates)
      for (const ring of poly) {
        const r = ring.map((p) => f.project(p));
        for (let a = 0, b = r.length - 1; a < r.length; b = a++) {
          if (crosses(r[b]!, r[a]!)) return true;
          if (r[a]![1] > cy !== r[b]![1] > cy && cx < ((r[b]![0] - r[a]![0]) * (cy - r[a]![1])) / (r[b]![1] - r[a]![1]) + r[a]![0]) inside = !inside;
        }
      }
  return inside;
}
export const boxesMeet = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * Where an inset of w × h mm goes on a map of width × height: the spot that hides the fewest
 * `labels`; among those the one that weighs least of what it `covered` (of 100 samples, how many
 * the map's own area fills) and where it is: a corner (clear of the north arrow, top right, and the
 * scale bar, bottom left) before the middle of an edge, full size before 80% and 65%. A sample of the
 * map covered weighs two steps down that order: an inset 80% as large beside the area is taken over
 * a full-size one over 5% of it (a full-size inset had covered a village's corner, its edge and a
 * grid's lines). Only spots `usable` are taken (a smaller one must still hold what it enlarges at
 * its scale). Never over `avoid` (what the inset enlarges) or over insets `taken` already; null
 * when no spot is left.
 */
export function insetSpot(
  map: { width: number; height: number },
  size: { w: number; h: number },
  labels: Box[],
  avoid: Box[],
  covered: (b: Box) => number = () => 0,
  usable: (b: Box) => boolean = () => true,
): Box | null {
  const { width, height } = map;
  const spots = [1, 0.8, 0.65].flatMap((k, n) => {
    const [w, h] = [Math.round(size.w * k), Math.round(size.h * k)];
    return [
      { x: width - w - 1.5, y: height - h - 1.5 },
      { x: 1.5, y: height - h - 11 }, // above the scale bar
      { x: 1.5, y: 1.5 },
      { x: width - w - 1.5, y: 19 }, // below the north arrow
      { x: (width - w) / 2, y: 1.5 },
      { x: (width - w) / 2, y: height - h - 1.5 },
      { x: 1.5, y: (height - h) / 2 },
      { x: width - w - 1.5, y: (height - h) / 2 },
    ].map((c, i) => ({ box: { ...c, w, h }, rank: n * 8 + (i < 4 ? 0 : 4) }));
  });
  const open = spots.filter((s) => !avoid.some((a) => boxesMeet(a, s.box)) && usable(s.box));
  if (open.length === 0) return null;
  const score = (s: (typeof spots)[number]) => labels.filter((l) => boxesMeet(l, s.box)).length * 10_000 + s.rank * 10 + covered(s.box) * 20;
  return open.reduce((a, b) => (score(b) < score(a) ? b : a)).box;
}

/** A rectangle on paper (mm) as a lon/lat outline in the frame: what an inset is fitted to. */
export function boxOutline(b: Box, f: Frame): MultiPolygon {
  const ring = [
    [b.x, b.y],
    [b.x + b.w, b.y],
    [b.x + b.w, b.y + b.h],
    [b.x, b.y + b.h],
    [b.x, b.y],
  ].map(([x, y]) => f.unproject(x!, y!));
  return { type: 'MultiPolygon', coordinates: [[ring]] };
}
