import { InputError } from './errors.ts';
import { csvPosition, parsePosition } from './geojson-input.ts';
import { phoneOf } from './import-values.ts';
import { UNREADABLE, visibleText } from './text.ts';

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

/** Controls no name needs: C0 and C1 (a bell, an escape that recolours a terminal), and those that turn text's direction. */
// eslint-disable-next-line no-control-regex
export const NOT_IN_A_NAME = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * A head's name as a register writes it: text (a number is read as written), spaces and line breaks
 * run together, at most 50 characters ('' when none); control characters and direction overrides,
 * which would make a name read otherwise than it is (and which an edit would refuse), are refused.
 */
export function parseHead(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' && typeof value !== 'number') throw new InputError('invalid_head', "a head of household's name is text", path);
  const head = visibleText(String(value)).replace(/\s+/g, ' ');
  if (NOT_IN_A_NAME.test(head))
    throw new InputError('invalid_head', "a head of household's name holds a control character or an invisible direction control; remove it", path);
  if (UNREADABLE.test(head))
    throw new InputError('invalid_head', "a head of household's name holds a character that could not be read (�): save the file as UTF-8", path);
  if (head.length > MAX_HEAD_LENGTH) throw new InputError('invalid_head', `a head of household's name has at most ${MAX_HEAD_LENGTH} characters`, path);
  return head;
}

/**
 * A number a grid worker can dial: a mobile, or a landline with or without its area code ('' when
 * none). A masked one (138****0001, as published lists print them) reaches nobody and is refused.
 */
export function parseHouseholdPhone(value: unknown, path: string): string {
  if (value === undefined || value === null || String(value).trim() === '') return '';
  if (typeof value !== 'string' && typeof value !== 'number') throw new InputError('invalid_phone', 'a phone number is text', path);
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

/**
 * An address as the door says it ('' when none): invisible characters out; control characters,
 * direction overrides (which make it read otherwise than it is) and characters that could not be
 * read are refused, as in a household added by hand.
 */
export function parseAddress(value: unknown, path: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' || value.length > MAX_ADDRESS_LENGTH) {
    throw new InputError('invalid_address', `address must be text of at most ${MAX_ADDRESS_LENGTH} characters`, path);
  }
  const address = visibleText(value);
  if (NOT_IN_A_NAME.test(address))
    throw new InputError('invalid_address', 'the address holds a control character or an invisible direction control; remove it', path);
  if (UNREADABLE.test(address))
    throw new InputError('invalid_address', 'the address holds a character that could not be read (�): save the file as UTF-8', path);
  return address;
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
