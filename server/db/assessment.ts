import { householdsOfMonthIn } from './households.ts';
import { gridIdsUnder } from './region-queries.ts';
import { InputError, notFound } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { recordChange } from './regions.ts';

/**
 * 考核 (command centre issue §7): per grid and per grid worker, for a month in China time —
 * reports made, cases solved on the spot, closed on time, residents' verdicts, cases overdue,
 * patrol distance and the share of households visited — and points by the county's own rules.
 *
 * What counts where:
 * - reports: cases of the grid reported in the month by its worker;
 * - on the spot: cases of the grid resolved in the month by the grid itself (就地解决);
 * - on time: cases of the grid resolved in the month within their category's deadline (of all resolved);
 * - satisfied / unsatisfied: verdicts on cases of the grid closed in the month;
 * - overdue: cases of the grid whose deadline fell in the month (up to now) before they were resolved;
 * - patrol km and visits: patrols of the grid started in the month; distinct households of the grid visited.
 * A grid's worker is today's (a re-staffed grid's past month counts for its present worker).
 */
export const MEASURES = ['report', 'on_spot', 'on_time', 'satisfied', 'unsatisfied', 'overdue', 'patrol_km', 'visit_share'] as const;
export type Measure = (typeof MEASURES)[number];

export interface AssessmentRule {
  measure: Measure;
  points: number;
  zh: string;
  en: string;
  version: number;
}

export interface Figures {
  reports: number;
  onSpot: number;
  resolved: number;
  onTime: number;
  /** On time among resolved (null: none resolved). */
  onTimeRate: number | null;
  satisfied: number;
  unsatisfied: number;
  /** Satisfied (or basically) among verdicts (null: no verdicts). */
  satisfaction: number | null;
  overdue: number;
  patrols: number;
  distanceM: number;
  households: number;
  /** Of those, taken out (注销) since the month began: counted, as the month's visits to them count. */
  removed: number;
  visited: number;
  visitShare: number | null;
  points: number;
}

export interface GridAssessment extends Figures {
  gridId: number;
  code: string;
  name: string;
  /** The grid's village or community: grid names and worker names repeat across a county. */
  village: string;
  workerId: number | null;
  worker: string | null;
}

export interface WorkerAssessment extends Figures {
  workerId: number;
  worker: string;
  grids: number;
  /** The villages of the worker's grids (two workers of one name are told apart by where they work). */
  villages: string[];
  /** The grid's name, for a worker of one grid (two 王明 of one village were told apart by nothing). */
  grid: string | null;
  rank: number;
}

export async function assessmentRules(db: Queryable): Promise<AssessmentRule[]> {
  const { rows } = await db.query<AssessmentRule>(
    `SELECT measure, points::float8 AS points, zh, en, version FROM assessment_rule ORDER BY array_position($1::text[], measure)`,
    [MEASURES],
  );
  return rows;
}

/** A measure's points as a district gives them: its own (`own`), else the plan's (`defaultPoints`). */
export interface DistrictAssessmentRule extends AssessmentRule {
  own: boolean;
  defaultPoints: number;
}

/** A district's 考核 points: every measure with the points its grid workers get there. */
export async function districtAssessmentRules(db: Queryable, districtId: number): Promise<DistrictAssessmentRule[]> {
  const { rows } = await db.query<DistrictAssessmentRule>(
    `SELECT r.measure, coalesce(own.points, r.points)::float8 AS points, r.zh, r.en, r.version, own.measure IS NOT NULL AS own,
            r.points::float8 AS "defaultPoints"
     FROM assessment_rule r LEFT JOIN district_assessment_rule own ON own.district_id = $1 AND own.measure = r.measure
     ORDER BY array_position($2::text[], r.measure)`,
    [districtId, MEASURES],
  );
  return rows;
}

/** A district's points as the settings log keeps them: whether each measure's points are its own said as a field too. */
export const loggedAssessment = (zh: string, rules: DistrictAssessmentRule[]) => ({
  zh,
  rules: rules.map((r) => ({ measure: r.measure, zh: r.zh, en: r.en, points: r.points, own: r.own, districtOwn: r.own ? 'yes' : 'no' })),
});

/** The version of a district's points: the change log's newest entry for them (0: never changed). */
export async function districtAssessmentVersion(db: Queryable, districtId: number): Promise<number> {
  const { rows } = await db.query<{ v: number }>(
    `SELECT coalesce(max(id), 0)::int AS v FROM change WHERE entity = 'district_assessment_rule' AND entity_id = $1`,
    [districtId],
  );
  return rows[0]!.v;
}

/** Writes a district's own points as `rules` has them (own ones only); the rest follow the plan's. */
export async function writeDistrictAssessment(tx: Queryable, districtId: number, rules: { measure: string; points: number; own: boolean }[]): Promise<void> {
  const own = rules.filter((r) => r.own);
  await tx.query('DELETE FROM district_assessment_rule WHERE district_id = $1', [districtId]);
  await tx.query(
    `INSERT INTO district_assessment_rule (district_id, measure, points)
     SELECT $1, t.measure, t.points FROM unnest($2::text[], $3::numeric[]) AS t(measure, points)
     WHERE EXISTS (SELECT 1 FROM assessment_rule r WHERE r.measure = t.measure)`,
    [districtId, own.map((r) => r.measure), own.map((r) => r.points)],
  );
}

/**
 * Sets a district's own points: each measure given with its points, or with null to follow the plan's again; the
 * measures left out stay as they are. Logged with the points before and after (undone from the settings log); 409 when stale.
 */
export async function setDistrictAssessment(
  tx: Queryable,
  actor: string,
  districtId: number,
  rules: { measure: Measure; points: number | null }[],
  version?: number,
): Promise<DistrictAssessmentRule[]> {
  const { rows: d } = await tx.query<{ name: string }>("SELECT name FROM region WHERE id = $1 AND level = 'district' FOR UPDATE", [districtId]);
  if (!d[0]) throw notFound('district', districtId);
  const current = await districtAssessmentVersion(tx, districtId);
  if (version !== undefined && version !== current) {
    throw new InputError('version_conflict', `the assessment points were changed meanwhile (version ${current}, not ${version}): reload and retry`, 'version', {
      currentVersion: current,
    });
  }
  const before = await districtAssessmentRules(tx, districtId);
  rules.forEach((r, i) => {
    if (rules.findIndex((x) => x.measure === r.measure) !== i) throw new InputError('duplicate_measure', `${r.measure} is given twice`, `rules[${i}].measure`);
  });
  const given = new Map(rules.map((r) => [r.measure, r.points]));
  await writeDistrictAssessment(
    tx,
    districtId,
    before.map((b) => {
      if (!given.has(b.measure)) return b;
      const p = given.get(b.measure)!;
      return { measure: b.measure, points: p ?? b.defaultPoints, own: p !== null };
    }),
  );
  const after = await districtAssessmentRules(tx, districtId);
  // (a change that changes nothing is no change: not logged, and nobody editing at this version is refused for it)
  const own = (rs: DistrictAssessmentRule[]) => JSON.stringify(rs.filter((r) => r.own).map((r) => [r.measure, r.points]));
  if (own(after) === own(before)) return after;
  await recordChange(tx, {
    actor,
    action: 'update',
    entity: 'district_assessment_rule',
    entityId: districtId,
    before: loggedAssessment(d[0].name, before),
    after: loggedAssessment(d[0].name, after),
  });
  return after;
}

export async function setAssessmentRules(
  tx: Queryable,
  actor: string,
  rules: { measure: Measure; points: number; version?: number | undefined }[],
): Promise<AssessmentRule[]> {
  // (locked as the settings undo locks them: a save and an undo at one moment go one after the other)
  await tx.query('SELECT measure FROM assessment_rule ORDER BY measure FOR UPDATE');
  const before = await assessmentRules(tx);
  for (const [i, r] of rules.entries()) {
    const was = before.find((b) => b.measure === r.measure)!;
    if (r.version !== undefined && r.version !== was.version) {
      throw new InputError(
        'version_conflict',
        `the rule ${r.measure} is at version ${was.version}, not ${r.version}: it changed meanwhile`,
        `rules[${i}].version`,
        {
          currentVersion: was.version,
        },
      );
    }
    if (was.points !== r.points) await tx.query('UPDATE assessment_rule SET points = $2, version = version + 1 WHERE measure = $1', [r.measure, r.points]);
  }
  const after = await assessmentRules(tx);
  await recordChange(tx, { actor, action: 'update', entity: 'assessment_rule', entityId: null, before, after });
  return after;
}

const points = (f: Omit<Figures, 'points'>, rules: AssessmentRule[]): number => {
  const p = Object.fromEntries(rules.map((r) => [r.measure, r.points])) as Record<Measure, number>;
  const total =
    p.report * f.reports +
    p.on_spot * f.onSpot +
    p.on_time * f.onTime +
    p.satisfied * f.satisfied +
    p.unsatisfied * f.unsatisfied +
    p.overdue * f.overdue +
    p.patrol_km * (f.distanceM / 1000) +
    p.visit_share * (f.visitShare ?? 0);
  return Math.round(total * 10) / 10;
};

const rate = (n: number, of: number) => (of > 0 ? Math.round((n / of) * 10_000) / 10_000 : null);

/** The month's figures per grid under a region (or of the given grids) and per worker, ranked by points. */
export async function assessment(
  db: Queryable,
  f: { regionId: number; gridIds?: number[] | undefined; from: Date; to: Date },
  now: Date,
): Promise<{
  rules: (AssessmentRule & { own?: boolean })[];
  district: { id: number; name: string } | null;
  ownDistricts: { id: number; name: string }[];
  grids: GridAssessment[];
  workers: WorkerAssessment[];
}> {
  // each grid is scored by its district's points (a city's counties each have theirs); the rules shown are the area's
  // district's, or the plan's above the districts — for a worker's own grids, the district they lie in (whatever area
  // the worker asked for)
  const { rows: at } = await db.query<{ id: number | null; name: string | null }>('SELECT d.id, d.name FROM region d WHERE d.id = gp_district_of($1)', [
    f.gridIds?.length ? f.gridIds[0] : f.regionId,
  ]);
  const district = at[0]?.id != null ? { id: at[0].id, name: at[0].name ?? '' } : null;
  const { rows: owning } = await db.query<{ id: number; name: string }>(
    `SELECT d.id, d.name FROM region d WHERE EXISTS (SELECT 1 FROM district_assessment_rule o WHERE o.district_id = d.id)
       AND d.level = 'district' AND (d.id = $2 OR d.parent_id = $1) ORDER BY d.code`,
    [f.regionId, district?.id ?? null],
  );
  const planRules = await assessmentRules(db);
  const rulesOf = new Map<number, AssessmentRule[]>(await Promise.all(owning.map(async (d) => [d.id, await districtAssessmentRules(db, d.id)] as const)));
  const rules = district ? await districtAssessmentRules(db, district.id) : planRules;
  const until = new Date(Math.min(f.to.getTime(), now.getTime()));
  // The grids first, as a list the planner can count (a city's 21,643 grids: 2.4–3.4 s grid by grid on PostgreSQL); with
  // the list, each table is read once and grouped.
  const scope = await gridIdsUnder(db, f.regionId, f.gridIds);
  const { rows } = await db.query<Omit<GridAssessment, 'points' | 'onTimeRate' | 'satisfaction' | 'visitShare'> & { districtId: number }>(
    `WITH g AS (SELECT r.id, r.code, r.name, r.worker_id, pv.name AS village, t.parent_id AS district
                FROM region r JOIN region pv ON pv.id = r.parent_id LEFT JOIN region t ON t.id = pv.parent_id WHERE r.id = ANY($1::int[])),
     x AS (
       SELECT i.grid_id,
              count(*) FILTER (WHERE i.reported_at >= $2 AND i.reported_at < $3 AND i.reporter_id = g.worker_id)::int AS reports,
              count(*) FILTER (WHERE i.resolved_at >= $2 AND i.resolved_at < $3 AND i.solved_level = 'grid')::int AS on_spot,
              count(*) FILTER (WHERE i.resolved_at >= $2 AND i.resolved_at < $3)::int AS resolved,
              count(*) FILTER (WHERE i.resolved_at >= $2 AND i.resolved_at < $3
                                 AND i.resolved_at <= i.reported_at + make_interval(hours => k.close_hours))::int
                AS on_time,
              count(*) FILTER (WHERE i.closed_at >= $2 AND i.closed_at < $3 AND i.satisfaction IN ('satisfied', 'basically'))::int AS satisfied,
              count(*) FILTER (WHERE i.closed_at >= $2 AND i.closed_at < $3 AND i.satisfaction = 'unsatisfied')::int AS unsatisfied,
              count(*) FILTER (WHERE i.reported_at + make_interval(hours => k.close_hours) >= $2
                                 AND i.reported_at + make_interval(hours => k.close_hours) < $4
                                 AND coalesce(i.resolved_at, 'infinity') > i.reported_at + make_interval(hours => k.close_hours))::int AS overdue
       -- (the hours to close: the grid's district's own for the category, else the plan's)
       FROM incident i JOIN g ON g.id = i.grid_id JOIN incident_category c ON c.code = i.category
         LEFT JOIN district_close_hours o ON o.district_id = g.district AND o.category = i.category,
         LATERAL (SELECT coalesce(o.hours, c.deadline_hours) AS close_hours) k
       -- (a case is reported before it is resolved, closed or overdue: a year back covers every case that can count)
       WHERE i.void_kind IS NULL AND i.reported_at >= $2::timestamptz - interval '1 year' AND i.reported_at < $3
       GROUP BY i.grid_id),
     pt AS (SELECT p.grid_id, count(*)::int AS n, round(sum(p.distance_m)) AS m FROM patrol p
            WHERE p.grid_id = ANY($1::int[]) AND p.started_at >= $2 AND p.started_at < $3 GROUP BY p.grid_id),
     hh AS ${householdsOfMonthIn('$1::int[]', '$2')},
     hs AS (SELECT hh.grid_id, count(*)::int AS n, count(*) FILTER (WHERE hh.removed)::int AS removed FROM hh GROUP BY hh.grid_id),
     vs AS (SELECT hh.grid_id, count(DISTINCT v.household_id)::int AS n FROM patrol_visit v JOIN hh ON hh.id = v.household_id
            WHERE v.at >= $2 AND v.at < $3 GROUP BY hh.grid_id)
     SELECT g.id AS "gridId", g.code, g.name, g.village, g.worker_id AS "workerId", w.name AS worker, g.district AS "districtId",
       coalesce(x.reports, 0) AS reports, coalesce(x.on_spot, 0) AS "onSpot", coalesce(x.resolved, 0) AS resolved, coalesce(x.on_time, 0) AS "onTime",
       coalesce(x.satisfied, 0) AS satisfied, coalesce(x.unsatisfied, 0) AS unsatisfied, coalesce(x.overdue, 0) AS overdue,
       coalesce(pt.n, 0) AS patrols, coalesce(pt.m, 0)::float8 AS "distanceM",
       coalesce(hs.n, 0) AS households, coalesce(hs.removed, 0) AS removed, coalesce(vs.n, 0) AS visited
     FROM g LEFT JOIN worker w ON w.id = g.worker_id LEFT JOIN x ON x.grid_id = g.id LEFT JOIN pt ON pt.grid_id = g.id
       LEFT JOIN hs ON hs.grid_id = g.id LEFT JOIN vs ON vs.grid_id = g.id
     ORDER BY g.code`,
    [scope, f.from.toISOString(), f.to.toISOString(), until.toISOString()],
  );
  const rulesFor = (districtId: number | undefined) => (districtId !== undefined && rulesOf.get(districtId)) || planRules;
  /** Each worker is scored by the district of their first grid (a worker's grids lie in one district but for a border case). */
  const districtOfGrid = new Map<number, number>();
  // Across a city's counties a village's name is not enough (two 凤场村): each is said with its county (会泽县凤场村).
  const counties = [...new Set(rows.map((r) => r.districtId))];
  const countyName =
    counties.length > 1
      ? new Map(
          (await db.query<{ id: number; name: string }>('SELECT id, name FROM region WHERE id = ANY($1::int[])', [counties])).rows.map((d) => [d.id, d.name]),
        )
      : null;
  const grids: GridAssessment[] = rows.map(({ districtId, ...r }) => {
    districtOfGrid.set(r.gridId, districtId);
    const figures = {
      ...r,
      village: countyName ? `${countyName.get(districtId) ?? ''}${r.village}` : r.village,
      onTimeRate: rate(r.onTime, r.resolved),
      satisfaction: rate(r.satisfied, r.satisfied + r.unsatisfied),
      visitShare: rate(r.visited, r.households),
    };
    return { ...figures, points: points(figures, rulesFor(districtId)) };
  });
  // per worker: the sums over their grids
  const byWorker = new Map<number, GridAssessment[]>();
  for (const g of grids) if (g.workerId !== null) byWorker.set(g.workerId, [...(byWorker.get(g.workerId) ?? []), g]);
  const workers = [...byWorker.entries()].map(([workerId, gs]) => {
    const sum = (k: keyof Figures) => gs.reduce((s, g) => s + ((g[k] as number | null) ?? 0), 0);
    const base = {
      reports: sum('reports'),
      onSpot: sum('onSpot'),
      resolved: sum('resolved'),
      onTime: sum('onTime'),
      satisfied: sum('satisfied'),
      unsatisfied: sum('unsatisfied'),
      overdue: sum('overdue'),
      patrols: sum('patrols'),
      distanceM: sum('distanceM'),
      households: sum('households'),
      removed: sum('removed'),
      visited: sum('visited'),
    };
    const figures = {
      ...base,
      onTimeRate: rate(base.onTime, base.resolved),
      satisfaction: rate(base.satisfied, base.satisfied + base.unsatisfied),
      visitShare: rate(base.visited, base.households),
    };
    const villages = [...new Set(gs.map((g) => g.village))];
    const scored = rulesFor(districtOfGrid.get(gs[0]!.gridId));
    return {
      workerId,
      worker: gs[0]!.worker ?? '',
      grids: gs.length,
      villages,
      grid: gs.length === 1 ? gs[0]!.name : null,
      ...figures,
      points: points(figures, scored),
      rank: 0,
    };
  });
  // (one collator: localeCompare made one a comparison, a second of a city's 21,000 workers)
  const byName = new Intl.Collator('zh').compare;
  workers.sort((a, b) => b.points - a.points || byName(a.worker, b.worker));
  // equal points share a rank (1, 2, 2, 4)
  workers.forEach((w, i) => (w.rank = i > 0 && workers[i - 1]!.points === w.points ? workers[i - 1]!.rank : i + 1));
  return { rules, district, ownDistricts: owning.filter((d) => d.id !== district?.id), grids, workers };
}
