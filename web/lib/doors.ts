/**
 * Where a point stands, said in words a grid worker knows: the nearest door of the grid and how far,
 * or how far outside the grid — not coordinates. The household form, the household list and the
 * report form share it.
 */
import { pointToPolygonDistance } from '@turf/turf';

/** The part before the house number most of the addresses share (西平街道银湾村): where a door's own part starts. */
export function sharedPrefix(addresses: readonly string[]): string {
  const seen = new Map<string, number>();
  for (const a of addresses) {
    const m = /^(.*?)[\d０-９]/.exec(a);
    if (m?.[1]) seen.set(m[1], (seen.get(m[1]) ?? 0) + 1);
  }
  return [...seen.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
}

/** A door's own part of its address (25号 of 西平街道银湾村25号), at most ten characters. */
export const doorOf = (address: string, prefix: string) =>
  (prefix && address.startsWith(prefix) && address.length > prefix.length ? address.slice(prefix.length) : address).slice(0, 10);

/**
 * A door as a worker says it out of the grid: its address without the district and township
 * (西平街道银湾村51号 → 银湾村51号, 花山街道文昌路12号 → 文昌路12号) — the village or road named, which a bare 51号 was not.
 */
export const placeOf = (address: string) =>
  address
    .replace(/^.{1,6}?[区县](?=.{1,8}?(?:街道|镇|乡).)/u, '')
    .replace(/^.{1,8}?(?:街道|镇|乡)(?=.)/u, '')
    .slice(0, 14);

/** Metres between two lon/lat points, on a plane tangent at the first (a grid is a few hundred metres across). */
export function metres([x0, y0]: readonly [number, number], [x1, y1]: readonly [number, number]): number {
  const k = Math.cos((y0 * Math.PI) / 180);
  return Math.hypot((x1 - x0) * k * 111_320, (y1 - y0) * 110_574);
}

export type Whereabouts = { door: string; m: number } | { outside: number } | null;

/**
 * The nearest of `doors` (within 300 m) when the point is in the grid; how many metres outside it
 * when it is not (null: no grid, or no door near).
 */
export function whereabouts(
  point: [number, number] | null,
  grid: GeoJSON.Feature | null,
  doors: readonly { lon: number; lat: number; label: string }[],
  inside: boolean,
): Whereabouts {
  if (!point) return null;
  if (!inside && grid && (grid.geometry.type === 'Polygon' || grid.geometry.type === 'MultiPolygon')) {
    const m = pointToPolygonDistance(point, grid as GeoJSON.Feature<GeoJSON.Polygon | GeoJSON.MultiPolygon>, { units: 'meters' });
    return { outside: Math.max(1, Math.round(m)) };
  }
  let best: { door: string; m: number } | null = null;
  for (const d of doors) {
    const m = metres(point, [d.lon, d.lat]);
    if (!best || m < best.m) best = { door: d.label, m };
  }
  return best && best.m <= 300 ? { door: best.door, m: Math.max(1, Math.round(best.m)) } : null;
}
