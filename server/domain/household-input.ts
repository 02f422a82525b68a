import { InputError } from './errors.ts';
import { csvPosition, parsePosition } from './geojson-input.ts';

export interface HouseholdInput {
  lon: number;
  lat: number;
  size: number;
  address: string;
}

export const MAX_HOUSEHOLD_SIZE = 30;
export const MAX_ADDRESS_LENGTH = 200;

function parseSize(value: unknown, path: string): number {
  const size = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > MAX_HOUSEHOLD_SIZE) {
    throw new InputError('invalid_size', `household size must be an integer 1…${MAX_HOUSEHOLD_SIZE}, got ${JSON.stringify(value)}`, path);
  }
  return size;
}

function parseAddress(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' || value.length > MAX_ADDRESS_LENGTH) {
    throw new InputError('invalid_address', `address must be text of at most ${MAX_ADDRESS_LENGTH} characters`, path);
  }
  return value.trim();
}

/** One CSV row `{lon, lat, size, address}` (strings from the parser). */
export function parseHouseholdCsvRow(row: Record<string, unknown>, line: number): HouseholdInput {
  const [lon, lat] = csvPosition(row, line);
  return { lon, lat, size: parseSize(row.size, `line ${line}, column size`), address: parseAddress(row.address, `line ${line}, column address`) };
}

/** One GeoJSON Point feature with `properties.size` and optional `properties.address`. */
export function parseHouseholdFeature(feature: unknown, index: number): HouseholdInput {
  const path = `features[${index}]`;
  const f = feature as { type?: unknown; geometry?: { type?: unknown; coordinates?: unknown }; properties?: Record<string, unknown> | null };
  if (typeof feature !== 'object' || feature === null || f.type !== 'Feature') {
    throw new InputError('not_a_feature', 'expected a GeoJSON Feature', path);
  }
  if (f.geometry?.type !== 'Point')
    throw new InputError('wrong_geometry_type', `expected a Point, got ${JSON.stringify(f.geometry?.type ?? null)}`, `${path}.geometry.type`);
  const [lon, lat] = parsePosition(f.geometry.coordinates, `${path}.geometry.coordinates`);
  const props = f.properties ?? {};
  return { lon, lat, size: parseSize(props.size, `${path}.properties.size`), address: parseAddress(props.address, `${path}.properties.address`) };
}
