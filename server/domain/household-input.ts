import { InputError } from './errors.ts';
import { csvPosition, parsePosition } from './geojson-input.ts';
import { phoneOf } from './import-values.ts';

export interface HouseholdInput {
  lon: number;
  lat: number;
  size: number;
  address: string;
  /** 户主: the head of the household, and a number to reach them ('' when not given). */
  head?: string;
  phone?: string;
}

export const MAX_HOUSEHOLD_SIZE = 30;
export const MAX_ADDRESS_LENGTH = 200;
export const MAX_HEAD_LENGTH = 50;

/** A head's name as a register writes it: trimmed, at most 50 characters ('' when none). */
export function parseHead(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  const head = String(value).normalize('NFC').trim().replace(/\s+/g, ' ');
  if (head.length > MAX_HEAD_LENGTH) throw new InputError('invalid_head', `a head of household's name has at most ${MAX_HEAD_LENGTH} characters`, path);
  return head;
}

/**
 * A number a grid worker can dial: a mobile, or a landline with or without its area code ('' when
 * none). A masked one (138****0001, as published lists print them) reaches nobody and is refused.
 */
export function parseHouseholdPhone(value: unknown, path: string): string {
  if (value === undefined || value === null || String(value).trim() === '') return '';
  const phone = phoneOf(value);
  if (phone === null) {
    const masked = /[*＊×xX]{2,}/.test(String(value));
    throw new InputError(
      'invalid_phone',
      masked
        ? `${JSON.stringify(String(value))} is masked: give the whole number, or leave it empty`
        : `${JSON.stringify(String(value))} is not a phone number (a mobile of 11 digits, or a landline)`,
      path,
    );
  }
  return phone;
}

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
  return {
    lon,
    lat,
    size: parseSize(row.size, `line ${line}, column size`),
    address: parseAddress(row.address, `line ${line}, column address`),
    head: parseHead(row.head, `line ${line}, column head`),
    phone: parseHouseholdPhone(row.phone, `line ${line}, column phone`),
  };
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
  return {
    lon,
    lat,
    size: parseSize(props.size, `${path}.properties.size`),
    address: parseAddress(props.address, `${path}.properties.address`),
    head: parseHead(props.head, `${path}.properties.head`),
    phone: parseHouseholdPhone(props.phone, `${path}.properties.phone`),
  };
}
