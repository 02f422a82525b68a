import { InputError } from './errors.ts';
import { parsePosition, type Position } from './geojson-input.ts';

export const BARRIER_LIMITS = { lines: 10_000, vertices: 200_000 };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Barriers (roads, rivers, railways) as lines: a LineString or MultiLineString geometry, a
 * Feature of one, or a FeatureCollection of them. Repeated vertices are dropped; a line needs
 * two distinct positions.
 */
export function parseBarriers(value: unknown, path: string): Position[][] {
  const lines: Position[][] = [];
  let vertices = 0;
  const line = (coords: unknown, at: string) => {
    if (!Array.isArray(coords)) throw new InputError('invalid_line', 'a line is an array of positions', at);
    const out: Position[] = [];
    coords.forEach((p, i) => {
      const pos = parsePosition(p, `${at}[${i}]`);
      const last = out[out.length - 1];
      if (!last || last[0] !== pos[0] || last[1] !== pos[1]) out.push(pos);
    });
    if (out.length < 2) throw new InputError('line_too_short', `a barrier line needs 2 distinct positions, got ${out.length}`, at);
    vertices += out.length;
    if (lines.length >= BARRIER_LIMITS.lines || vertices > BARRIER_LIMITS.vertices) {
      throw new InputError('too_many_barriers', `at most ${BARRIER_LIMITS.lines} lines and ${BARRIER_LIMITS.vertices} vertices of barriers`, path);
    }
    lines.push(out);
  };
  const geometry = (g: unknown, at: string) => {
    if (!isRecord(g)) throw new InputError('invalid_geometry', 'expected a LineString or MultiLineString geometry', at);
    if (g.type === 'LineString') line(g.coordinates, `${at}.coordinates`);
    else if (g.type === 'MultiLineString') {
      if (!Array.isArray(g.coordinates)) throw new InputError('invalid_geometry', 'MultiLineString coordinates must be an array of lines', `${at}.coordinates`);
      g.coordinates.forEach((c, i) => line(c, `${at}.coordinates[${i}]`));
    } else throw new InputError('wrong_geometry_type', `barriers are LineString or MultiLineString, got ${JSON.stringify(g.type)}`, `${at}.type`);
  };
  if (!isRecord(value)) throw new InputError('invalid_geojson', 'barriers must be a GeoJSON object', path);
  if (value.type === 'FeatureCollection') {
    if (!Array.isArray(value.features)) throw new InputError('invalid_geojson', 'a FeatureCollection needs a features array', `${path}.features`);
    value.features.forEach((f, i) => {
      if (!isRecord(f) || f.type !== 'Feature') throw new InputError('not_a_feature', 'expected a GeoJSON Feature', `${path}.features[${i}]`);
      geometry(f.geometry, `${path}.features[${i}].geometry`);
    });
  } else if (value.type === 'Feature') geometry(value.geometry, `${path}.geometry`);
  else geometry(value, path);
  return lines;
}
