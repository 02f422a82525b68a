import { InputError, notFound } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { recordChange } from './regions.ts';

/** Hours to acknowledge and to resolve a dispatch of one severity (4 the most severe). */
export interface SeverityDeadline {
  severity: number;
  ackHours: number;
  resolveHours: number;
}

/** A category's deadlines in a district: its own four (`own`), else the plan's (`defaults`, shown either way). */
export interface DistrictCategoryDeadlines {
  code: string;
  zh: string;
  en: string;
  own: boolean;
  deadlines: SeverityDeadline[];
  defaults: SeverityDeadline[];
  /** Hours from the report to close a case of the category on time there (its own when `own`, else the plan's). */
  closeHours: number;
  defaultCloseHours: number;
  /** The close hours are the district's own (false: the plan's, also when the plan's change later). */
  closeOwn: boolean;
}

const LEVELS: Record<number, [string, string]> = { 1: ['一般', 'routine'], 2: ['较重', 'pressing'], 3: ['严重', 'urgent'], 4: ['紧急', 'critical'] };

/**
 * A district's deadlines as the settings log keeps them: `model` to undo with, and each category's choice and each of its
 * severities as records of their own names (消防 紧急), so that the log reads "消防 紧急 响应（小时）：1 → 0.5".
 */
export function loggedDeadlines(zh: string, categories: DistrictCategoryDeadlines[]) {
  return {
    zh,
    model: categories,
    deadlines: categories.flatMap((c) => [
      { code: c.code, zh: c.zh, en: c.en, districtOwn: c.own ? 'yes' : 'no', deadlineHours: c.closeHours },
      ...c.deadlines.map((d) => ({
        code: `${c.code}-${d.severity}`,
        zh: `${c.zh} ${LEVELS[d.severity]?.[0] ?? d.severity}`,
        en: `${c.en}, ${LEVELS[d.severity]?.[1] ?? d.severity}`,
        ackHours: d.ackHours,
        resolveHours: d.resolveHours,
      })),
    ]),
  };
}

/** Every category's deadlines as a district's departments have them. */
export async function districtDeadlines(db: Queryable, districtId: number): Promise<DistrictCategoryDeadlines[]> {
  const { rows } = await db.query<DistrictCategoryDeadlines>(
    `SELECT c.code, c.zh, c.en,
       EXISTS (SELECT 1 FROM district_deadline o WHERE o.district_id = $1 AND o.category = c.code) AS own,
       coalesce((SELECT json_agg(json_build_object('severity', dl.severity,
                  'ackHours', coalesce(o.ack_hours, dl.ack_hours)::float8, 'resolveHours', coalesce(o.resolve_hours, dl.resolve_hours)::float8)
                  ORDER BY dl.severity)
                 FROM incident_deadline dl
                 LEFT JOIN district_deadline o ON o.district_id = $1 AND o.category = dl.category AND o.severity = dl.severity
                 WHERE dl.category = c.code), '[]') AS deadlines,
       coalesce((SELECT json_agg(json_build_object('severity', dl.severity, 'ackHours', dl.ack_hours::float8, 'resolveHours', dl.resolve_hours::float8)
                  ORDER BY dl.severity) FROM incident_deadline dl WHERE dl.category = c.code), '[]') AS defaults,
       coalesce((SELECT o.hours FROM district_close_hours o WHERE o.district_id = $1 AND o.category = c.code), c.deadline_hours) AS "closeHours",
       c.deadline_hours AS "defaultCloseHours",
       EXISTS (SELECT 1 FROM district_close_hours o WHERE o.district_id = $1 AND o.category = c.code) AS "closeOwn"
     FROM incident_category c ORDER BY c.sort, c.code`,
    [districtId],
  );
  return rows;
}

/** What a district has set of its own (compared to tell a change, or a change since): per own category its four and its close hours. */
export const ownDeadlines = (cs: DistrictCategoryDeadlines[]) =>
  cs.filter((c) => c.own).map((c) => [c.code, c.deadlines, c.closeOwn === false ? null : (c.closeHours ?? null)]);

/** The version of a district's deadlines: the change log's newest entry for them (0: never changed). */
export async function deadlinesVersion(db: Queryable, districtId: number): Promise<number> {
  const { rows } = await db.query<{ v: number }>(`SELECT coalesce(max(id), 0)::int AS v FROM change WHERE entity = 'district_deadline' AND entity_id = $1`, [
    districtId,
  ]);
  return rows[0]!.v;
}

/** Writes a district's own deadlines as `categories` has them (its own ones only); the rest follow the plan's. */
export async function writeDistrictDeadlines(tx: Queryable, districtId: number, categories: DistrictCategoryDeadlines[]): Promise<void> {
  const rows = categories.filter((c) => c.own).flatMap((c) => c.deadlines.map((d) => ({ code: c.code, ...d })));
  await tx.query('DELETE FROM district_deadline WHERE district_id = $1', [districtId]);
  await tx.query(
    `INSERT INTO district_deadline (district_id, category, severity, ack_hours, resolve_hours)
     SELECT $1, t.c, t.s, t.a, t.r FROM unnest($2::text[], $3::int[], $4::numeric[], $5::numeric[]) AS t(c, s, a, r)
     WHERE EXISTS (SELECT 1 FROM incident_category k WHERE k.code = t.c)`,
    [districtId, rows.map((r) => r.code), rows.map((r) => r.severity), rows.map((r) => r.ackHours), rows.map((r) => r.resolveHours)],
  );
  // an own category's close hours where they are its own too; a change logged before close hours were a district's own
  // says nothing of them (`closeOwn` missing): the category keeps those it has
  const { rows: kept } = await tx.query<{ category: string; hours: number }>('SELECT category, hours FROM district_close_hours WHERE district_id = $1', [
    districtId,
  ]);
  const close = categories.flatMap((c) => {
    if (!c.own) return [];
    if (c.closeOwn === undefined) return kept.filter((k) => k.category === c.code).map((k) => ({ code: c.code, closeHours: k.hours }));
    return c.closeOwn ? [{ code: c.code, closeHours: c.closeHours }] : [];
  });
  await tx.query('DELETE FROM district_close_hours WHERE district_id = $1', [districtId]);
  await tx.query(
    `INSERT INTO district_close_hours (district_id, category, hours)
     SELECT $1, t.c, t.h FROM unnest($2::text[], $3::int[]) AS t(c, h) WHERE EXISTS (SELECT 1 FROM incident_category k WHERE k.code = t.c)`,
    [districtId, close.map((c) => c.code), close.map((c) => c.closeHours)],
  );
}

/**
 * Sets a district's own deadlines: each category given with its four severities, or with null to follow the plan's
 * again; the categories left out stay as they are. Logged with the district's deadlines before and after (undone from
 * the settings log); 409 when stale.
 */
export async function setDistrictDeadlines(
  tx: Queryable,
  actor: string,
  districtId: number,
  categories: { code: string; deadlines: SeverityDeadline[] | null; closeHours?: number | undefined }[],
  version?: number,
): Promise<DistrictCategoryDeadlines[]> {
  const { rows: d } = await tx.query<{ name: string }>("SELECT name FROM region WHERE id = $1 AND level = 'district' FOR UPDATE", [districtId]);
  if (!d[0]) throw notFound('district', districtId);
  const current = await deadlinesVersion(tx, districtId);
  if (version !== undefined && version !== current) {
    throw new InputError('version_conflict', `the deadlines were changed meanwhile (version ${current}, not ${version}): reload and retry`, 'version', {
      currentVersion: current,
    });
  }
  const before = await districtDeadlines(tx, districtId);
  const seen = new Set<string>();
  categories.forEach((c, i) => {
    if (seen.has(c.code)) throw new InputError('duplicate_category', `category ${c.code} is listed twice`, `categories[${i}].code`);
    seen.add(c.code);
    if (!before.some((b) => b.code === c.code))
      throw new InputError('unknown_category', `${JSON.stringify(c.code)} is not an incident category`, `categories[${i}].code`);
    if (!c.deadlines) {
      if (c.closeHours !== undefined)
        throw new InputError(
          'invalid_deadlines',
          `close hours are a category's own with its own deadlines: give its four severities too, or leave them out`,
          `categories[${i}].closeHours`,
        );
      return;
    }
    if (
      c.deadlines
        .map((x) => x.severity)
        .sort()
        .join() !== '1,2,3,4'
    )
      throw new InputError('invalid_deadlines', 'give the deadlines of severities 1, 2, 3 and 4, once each', `categories[${i}].deadlines`);
    c.deadlines.forEach((x, k) => {
      if (x.ackHours > x.resolveHours)
        throw new InputError(
          'invalid_deadlines',
          `severity ${x.severity}: acknowledging (${x.ackHours} h) cannot take longer than resolving (${x.resolveHours} h)`,
          `categories[${i}].deadlines[${k}]`,
        );
    });
  });
  const given = new Map(categories.map((c) => [c.code, c]));
  await writeDistrictDeadlines(
    tx,
    districtId,
    before.map((b) => {
      const c = given.get(b.code);
      if (!c) return b;
      // (close hours not given: the category's as they stand there)
      // (close hours not given: as they stand there — the district's own stay its own, the plan's stay the plan's)
      const closeOwn = c.deadlines !== null && (c.closeHours !== undefined || b.closeOwn);
      const closeHours = closeOwn ? (c.closeHours ?? b.closeHours) : b.defaultCloseHours;
      return { ...b, own: c.deadlines !== null, deadlines: c.deadlines ?? b.defaults, closeHours, closeOwn };
    }),
  );
  const after = await districtDeadlines(tx, districtId);
  // (a change that changes nothing is no change: not logged, and nobody editing at this version is refused for it)
  const own = (cs: DistrictCategoryDeadlines[]) => JSON.stringify(ownDeadlines(cs));
  if (own(after) === own(before)) return after;
  await recordChange(tx, {
    actor,
    action: 'update',
    entity: 'district_deadline',
    entityId: districtId,
    before: loggedDeadlines(d[0].name, before),
    after: loggedDeadlines(d[0].name, after),
  });
  return after;
}
