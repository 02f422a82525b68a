import gjv from 'geojson-validation';
import { InputError } from './errors.ts';

export type Position = [number, number];
export type Ring = Position[];
export type PolygonCoords = Ring[];
export type MultiPolygonCoords = PolygonCoords[];

export interface GeometryLimits {
  /** Most vertices one geometry may have. */
  maxVertices: number;
}
/**
 * One feature of an imported file: a township boundary surveyed at 1:10,000 has some 10,000–30,000
 * vertices. Measured on the embedded database: a 50,000-vertex feature is read, checked against its
 * parent and siblings and stored in about 3 s; 200,000 took 35 s, holding everyone else up.
 */
export const DEFAULT_LIMITS: GeometryLimits = { maxVertices: 50_000 };
/** A shape drawn or reshaped in the editor: a person clicks a few hundred points at most. */
export const DRAWN_LIMITS: GeometryLimits = { maxVertices: 20_000 };

export interface PolygonOptions {
  /** Close unclosed rings instead of refusing them. */
  repair?: boolean;
  limits?: GeometryLimits;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks one position and returns it as `[lon, lat]` (a third ordinate is dropped). */
export function parsePosition(value: unknown, path: string): Position {
  if (!Array.isArray(value) || value.length < 2 || value.length > 3) {
    throw new InputError('invalid_position', `a position is [lon, lat], got ${short(value)}`, path);
  }
  const [lon, lat] = value;
  if (typeof lon !== 'number' || !Number.isFinite(lon) || typeof lat !== 'number' || !Number.isFinite(lat)) {
    throw new InputError('not_a_number', `longitude and latitude must be finite numbers, got ${short(value)}`, path);
  }
  if (lon < -180 || lon > 180) throw new InputError('coordinate_out_of_range', `longitude ${lon} is outside -180…180`, `${path}[0]`);
  if (lat < -90 || lat > 90) throw new InputError('coordinate_out_of_range', `latitude ${lat} is outside -90…90`, `${path}[1]`);
  return [lon, lat];
}

/** `lon` and `lat` columns of a CSV row (strings from the parser), checked as a position. */
export function csvPosition(row: Record<string, unknown>, line: number): Position {
  const num = (key: string) => {
    const raw = row[key];
    const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(v)) throw new InputError('not_a_number', `${key} must be a number, got ${JSON.stringify(raw ?? null)}`, `line ${line}, column ${key}`);
    return v;
  };
  return parsePosition([num('lon'), num('lat')], `line ${line}`);
}

/**
 * A linear ring without consecutive repeated vertices, closed.
 *
 * Repeated vertices are always removed (the seed boundaries are full of them); an unclosed
 * ring is refused unless `repair` is set.
 */
function parseRing(value: unknown, path: string, repair: boolean): Ring {
  if (!Array.isArray(value)) throw new InputError('invalid_ring', `a ring is an array of positions, got ${short(value)}`, path);
  const ring: Ring = [];
  value.forEach((p, i) => {
    const pos = parsePosition(p, `${path}[${i}]`);
    const last = ring[ring.length - 1];
    if (!last || last[0] !== pos[0] || last[1] !== pos[1]) ring.push(pos);
  });
  const first = ring[0];
  const last = ring[ring.length - 1];
  if (first && last && ring.length > 1 && (first[0] !== last[0] || first[1] !== last[1])) {
    if (!repair) {
      throw new InputError('ring_not_closed', `ring's last position ${short(last)} differs from its first ${short(first)}`, path);
    }
    ring.push([first[0], first[1]]);
  }
  if (ring.length < 4) {
    throw new InputError('ring_too_short', `a ring needs at least 3 distinct positions, got ${Math.max(ring.length - 1, 0)}`, path);
  }
  return ring;
}

function parsePolygonCoords(value: unknown, path: string, repair: boolean): PolygonCoords {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InputError('invalid_polygon', `a polygon is a non-empty array of rings, got ${short(value)}`, path);
  }
  return value.map((ring, i) => parseRing(ring, `${path}[${i}]`, repair));
}

/**
 * Parses a Polygon or MultiPolygon GeoJSON geometry into MultiPolygon coordinates, checking
 * structure, numbers, ranges, ring closure and size. Self-intersection is left to GEOS, which
 * is the authority on validity (`ST_IsValidDetail`).
 */
export function parsePolygonGeometry(geometry: unknown, path: string, options: PolygonOptions = {}): MultiPolygonCoords {
  const { repair = false, limits = DEFAULT_LIMITS } = options;
  if (!isRecord(geometry)) throw new InputError('invalid_geometry', `geometry must be an object, got ${short(geometry)}`, path);
  let polygons: MultiPolygonCoords;
  if (geometry.type === 'Polygon') {
    polygons = [parsePolygonCoords(geometry.coordinates, `${path}.coordinates`, repair)];
  } else if (geometry.type === 'MultiPolygon') {
    const coords = geometry.coordinates;
    if (!Array.isArray(coords) || coords.length === 0) {
      throw new InputError('invalid_geometry', 'a MultiPolygon needs at least one polygon', `${path}.coordinates`);
    }
    polygons = coords.map((p, i) => parsePolygonCoords(p, `${path}.coordinates[${i}]`, repair));
  } else {
    throw new InputError('wrong_geometry_type', `expected Polygon or MultiPolygon, got ${short(geometry.type)}`, `${path}.type`);
  }
  const vertices = polygons.reduce((n, p) => n + p.reduce((m, r) => m + r.length, 0), 0);
  if (vertices > limits.maxVertices) {
    throw new InputError('geometry_too_large', `geometry has ${vertices} vertices, more than the limit of ${limits.maxVertices}`, path);
  }
  return polygons;
}

export interface BoundaryFeature {
  index: number;
  code: string;
  name: string;
  coordinates: MultiPolygonCoords;
  /** The 12-digit 统计用区划代码, kept beside our code. */
  statCode?: string | null;
  gridType?: string | null;
}

export interface FeatureError {
  index: number;
  code: string;
  message: string;
  path: string;
  /** What the problem is about, for the report's short line (the regions overlapped), where not the feature itself. */
  subject?: string;
  /** A shape partly outside its parent: how many m² of it (the report's line says it beside the name). */
  areaM2?: number;
}

export interface BoundaryOptions extends PolygonOptions {
  nameProperty?: string;
  codeProperty?: string;
}

/**
 * Reads boundary features from a FeatureCollection: each needs a polygon geometry, a name and
 * a code (from `codeProperty`, else the feature's `id`). Returns the good ones and an error per
 * bad one, so the caller decides whether a partial import is acceptable.
 */
export function parseBoundaryFeatures(collection: unknown, options: BoundaryOptions = {}): { features: BoundaryFeature[]; errors: FeatureError[] } {
  if (!isRecord(collection) || collection.type !== 'FeatureCollection' || !Array.isArray(collection.features)) {
    throw new InputError(
      'not_a_feature_collection',
      `expected a GeoJSON FeatureCollection, got ${short(isRecord(collection) ? collection.type : collection)}`,
      'features',
    );
  }
  if (collection.features.length === 0) throw new InputError('empty_collection', 'the FeatureCollection has no features', 'features.features');
  const { nameProperty = 'name', codeProperty } = options;
  const features: BoundaryFeature[] = [];
  const errors: FeatureError[] = [];
  const seenCodes = new Map<string, number>();
  collection.features.forEach((feature: unknown, index: number) => {
    const path = `features.features[${index}]`;
    try {
      if (!isRecord(feature) || feature.type !== 'Feature') {
        throw new InputError('not_a_feature', `expected a GeoJSON Feature, got ${short(isRecord(feature) ? feature.type : feature)}`, path);
      }
      const coordinates = parsePolygonGeometry(feature.geometry, `${path}.geometry`, options);
      const trace = gjv.isFeature({ ...feature, geometry: { type: 'MultiPolygon', coordinates } }, true);
      if (Array.isArray(trace) && trace.length > 0) throw new InputError('invalid_geojson', trace.join('; '), path);
      const props = isRecord(feature.properties) ? feature.properties : {};
      const name = props[nameProperty];
      if (typeof name !== 'string' || name.trim() === '') {
        throw new InputError('missing_name', `property "${nameProperty}" must be a non-empty string, got ${short(name)}`, `${path}.properties.${nameProperty}`);
      }
      const rawCode = codeProperty ? props[codeProperty] : feature.id;
      if ((typeof rawCode !== 'string' && typeof rawCode !== 'number') || String(rawCode).trim() === '') {
        const where = codeProperty ? `${path}.properties.${codeProperty}` : `${path}.id`;
        throw new InputError('missing_code', `feature needs a code (${codeProperty ? `property "${codeProperty}"` : 'its id'}), got ${short(rawCode)}`, where);
      }
      const code = String(rawCode).trim();
      const previous = seenCodes.get(code);
      if (previous !== undefined) throw new InputError('duplicate_code', `code ${code} is already used by feature ${previous}`, path);
      seenCodes.set(code, index);
      features.push({ index, code, name: name.trim(), coordinates });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      errors.push({ index, code: err.code, message: err.message, path: err.path });
    }
  });
  return { features, errors };
}

function short(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
