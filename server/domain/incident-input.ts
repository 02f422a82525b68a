import { InputError } from './errors.ts';
import { csvPosition, parsePosition } from './geojson-input.ts';
import { parseInstant } from './incidents.ts';

export interface IncidentInput {
  lon: number;
  lat: number;
  category: string;
  severity: number;
  description: string;
  reportedAt: Date;
  reporterId: number | null;
}

export const MAX_DESCRIPTION = 2_000;

/** Checks the fields shared by every way an incident arrives; `categories` are the configured codes. */
function fields(raw: Record<string, unknown>, at: (key: string) => string, categories: readonly string[], now: Date): Omit<IncidentInput, 'lon' | 'lat'> {
  const category = typeof raw.category === 'string' ? raw.category.trim() : raw.category;
  if (typeof category !== 'string' || !categories.includes(category)) {
    throw new InputError('unknown_category', `category must be one of ${categories.join(', ')}, got ${JSON.stringify(raw.category ?? null)}`, at('category'));
  }
  const severity = typeof raw.severity === 'string' && raw.severity.trim() !== '' ? Number(raw.severity) : raw.severity;
  if (typeof severity !== 'number' || !Number.isInteger(severity) || severity < 1 || severity > 4) {
    throw new InputError('invalid_severity', `severity is an integer 1…4, got ${JSON.stringify(raw.severity ?? null)}`, at('severity'));
  }
  const description = raw.description ?? '';
  if (typeof description !== 'string' || description.length > MAX_DESCRIPTION) {
    throw new InputError('invalid_description', `description is text of at most ${MAX_DESCRIPTION} characters`, at('description'));
  }
  const when = raw.reportedAt ?? raw.reported_at;
  let reportedAt = now;
  if (when !== undefined && when !== null && when !== '') {
    if (typeof when !== 'string') throw new InputError('invalid_time', 'reportedAt is an ISO 8601 date-time', at('reportedAt'));
    reportedAt = parseInstant(when.trim(), at('reportedAt'));
    if (reportedAt.getTime() > now.getTime() + 5 * 60_000) throw new InputError('time_in_future', `reportedAt ${when} is in the future`, at('reportedAt'));
  }
  const rid = raw.reporterId ?? raw.reporter_id;
  const reporter = typeof rid === 'string' && rid.trim() !== '' ? Number(rid) : rid === '' ? null : rid;
  if (reporter !== undefined && reporter !== null && (typeof reporter !== 'number' || !Number.isInteger(reporter) || reporter < 1)) {
    throw new InputError('invalid_reporter', `reporterId is a worker id, got ${JSON.stringify(rid)}`, at('reporterId'));
  }
  return { category, severity, description: description.trim(), reportedAt, reporterId: (reporter as number | null | undefined) ?? null };
}

/** One incident as a JSON object `{lon, lat, category, severity, description?, reportedAt?, reporterId?}`. */
export function parseIncidentObject(raw: Record<string, unknown>, categories: readonly string[], now = new Date(), prefix = ''): IncidentInput {
  const [lon, lat] = parsePosition([raw.lon, raw.lat], `${prefix}lon`);
  return { lon, lat, ...fields(raw, (k) => `${prefix}${k}`, categories, now) };
}

/** One CSV row (strings): lon, lat, category, severity, description, reported_at, reporter_id. */
export function parseIncidentCsvRow(row: Record<string, unknown>, line: number, categories: readonly string[], now = new Date()): IncidentInput {
  const [lon, lat] = csvPosition(row, line);
  return { lon, lat, ...fields(row, (k) => `line ${line}, column ${k}`, categories, now) };
}

/** One GeoJSON Point feature with the fields in its properties. */
export function parseIncidentFeature(feature: unknown, index: number, categories: readonly string[], now = new Date()): IncidentInput {
  const path = `features[${index}]`;
  const f = feature as { type?: unknown; geometry?: { type?: unknown; coordinates?: unknown }; properties?: Record<string, unknown> | null };
  if (typeof feature !== 'object' || feature === null || f.type !== 'Feature') throw new InputError('not_a_feature', 'expected a GeoJSON Feature', path);
  if (f.geometry?.type !== 'Point')
    throw new InputError('wrong_geometry_type', `expected a Point, got ${JSON.stringify(f.geometry?.type ?? null)}`, `${path}.geometry.type`);
  const [lon, lat] = parsePosition(f.geometry.coordinates, `${path}.geometry.coordinates`);
  return { lon, lat, ...fields(f.properties ?? {}, (k) => `${path}.properties.${k}`, categories, now) };
}
