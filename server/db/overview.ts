import { notFound } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { dispatchLate } from './dispatches.ts';
import { closeHoursSql } from './incidents.ts';
import { gridIdsUnder } from './region-queries.ts';

interface PlanRow {
  grids: number;
  staffed: number;
  /** People staffing the grids (null on days recorded before this was counted). */
  workers: number | null;
  households: number;
  passing: number;
  passing_households: number;
  passing_area: number;
  area: number;
}

/** The day (China Standard Time) of an instant, as YYYY-MM-DD. */
export const cstDay = (at: Date) => new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);

/**
 * Records the plan figures of every district, township and village for `day` (kept when that day
 * has them already), in one pass over the grids: the same rules as the live figures below. Grids
 * in `unstaffed` count as having no worker (the demo's record of a month ago, before its latest
 * recruits). Returns how many regions were recorded.
 */
export async function recordPlanFigures(tx: Queryable, day: string, unstaffed: number[] = []): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `WITH g AS (
       SELECT g.id, g.household_count, v.id AS village, t.id AS township, t.parent_id AS district, d.parent_id AS city,
              g.worker_id IS NOT NULL AND g.id <> ALL($2::int[]) AS staffed, g.worker_id,
              (rule.passes AND g.id <> ALL($2::int[])) AS passes,
              ST_Area(g.geom::geography) AS area
       FROM region g JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id JOIN region d ON d.id = t.parent_id
       LEFT JOIN grid_range rule ON rule.grid_id = g.id
       WHERE g.level = 'grid'
     ),
     agg AS (
       SELECT r AS region_id, count(*)::int AS grids, count(*) FILTER (WHERE staffed)::int AS staffed,
              count(DISTINCT worker_id) FILTER (WHERE staffed)::int AS workers, count(*) FILTER (WHERE passes)::int AS passing,
              coalesce(sum(household_count) FILTER (WHERE passes), 0)::int AS passing_households, coalesce(sum(area) FILTER (WHERE passes), 0) AS passing_area
       FROM g, unnest(ARRAY[g.village, g.township, g.district, g.city]) AS r WHERE r IS NOT NULL GROUP BY r
     ),
     ins AS (
       INSERT INTO plan_figure (day, region_id, grids, staffed, workers, households, passing, passing_households, passing_area, area)
       SELECT $1::date, r.id, coalesce(a.grids, 0), coalesce(a.staffed, 0), coalesce(a.workers, 0), r.household_count, coalesce(a.passing, 0),
              coalesce(a.passing_households, 0), coalesce(a.passing_area, 0), ST_Area(r.geom::geography)
       FROM region r LEFT JOIN agg a ON a.region_id = r.id
       WHERE r.level <> 'grid'
       ON CONFLICT (region_id, day) DO NOTHING
       RETURNING 1
     )
     SELECT count(*)::int AS n FROM ins`,
    [day, unstaffed],
  );
  return rows[0]!.n;
}

export interface Figure {
  value: number | null;
  /** The same figure one period earlier (yesterday, last month, the 30 days before), for the change arrow. */
  previous: number | null;
}

/**
 * The leaders' key figures for a region: its grids and workers, how much of it is covered by grids
 * that pass the rules (household range, a worker, one piece), and the incident loop — today, this
 * month (China Standard Time), closure and time to close over 30 days, overdue now — each beside
 * the previous period.
 */
export async function overview(
  tx: Queryable,
  regionId: number,
  clock: Date,
): Promise<{
  region: { id: number; name: string; level: string };
  figures: Record<string, Figure>;
  solvedBy: Record<'grid' | 'village' | 'township' | 'district' | 'department', number>;
  byCategory: Record<string, number>;
  /** The day the household ranges or staffing model last changed, when since the snapshot compared with (its passing figures then not compared). */
  rulesChanged: string | null;
}> {
  const {
    rows: [r],
  } = await tx.query<{ id: number; name: string; level: string }>('SELECT id, name, level FROM region WHERE id = $1', [regionId]);
  if (!r) throw notFound('region', regionId, 'region');
  // The region's grids as a list the planner can count (a city's figures took 2.6–2.9 s grid by grid on PostgreSQL)
  const grids = await gridIdsUnder(tx, regionId);
  const {
    rows: [plan],
  } = await tx.query<{
    grids: number;
    staffed: number;
    workers: number;
    households: number;
    passing: number;
    passing_households: number;
    passing_area: number;
    area: number;
  }>(
    `WITH g AS (
       SELECT g.*, rule.passes
       FROM region g
       LEFT JOIN grid_range rule ON rule.grid_id = g.id
       WHERE g.id = ANY($2::int[])
     )
     SELECT count(*)::int AS grids, count(worker_id)::int AS staffed, count(DISTINCT worker_id)::int AS workers,
            (SELECT household_count FROM region WHERE id = $1) AS households,
            count(*) FILTER (WHERE passes)::int AS passing,
            coalesce(sum(household_count) FILTER (WHERE passes), 0)::int AS passing_households,
            coalesce(sum(ST_Area(geom::geography)) FILTER (WHERE passes), 0) AS passing_area,
            (SELECT ST_Area(geom::geography) FROM region WHERE id = $1) AS area
     FROM g`,
    [regionId, grids],
  );
  const {
    rows: [inc],
  } = await tx.query<Record<string, number | null>>(
    `WITH t AS (SELECT date_trunc('day', $2::timestamptz AT TIME ZONE 'Asia/Shanghai') AS today, date_trunc('month',
      $2::timestamptz AT TIME ZONE 'Asia/Shanghai') AS month, $2::timestamptz AT TIME ZONE 'Asia/Shanghai' AS now),
     i AS (SELECT i.*, i.reported_at AT TIME ZONE 'Asia/Shanghai' AS local, make_interval(hours => ${closeHoursSql('i', 'k')}) AS deadline,
                  -- past the 办结 deadline of an open dispatch now, and as it stood a day ago (see caseLate)
                  i.resolved_at IS NULL AND EXISTS (SELECT 1 FROM dispatch d WHERE d.incident_id = i.id AND d.resolved_at IS NULL
                    AND d.returned_at IS NULL AND d.due_at < $2::timestamptz) AS dispatch_late,
                  coalesce(i.resolved_at, 'infinity') > $2::timestamptz - interval '1 day' AND EXISTS (SELECT 1 FROM dispatch d
                    WHERE d.incident_id = i.id AND d.due_at < $2::timestamptz - interval '1 day'
                    AND coalesce(d.resolved_at, 'infinity') > $2::timestamptz - interval '1 day'
                    AND coalesce(d.returned_at, 'infinity') > $2::timestamptz - interval '1 day') AS dispatch_late_prev
           FROM incident i JOIN incident_category k ON k.code = i.category
           WHERE i.grid_id = ANY($1::int[]) AND i.reported_at > $2::timestamptz - interval '70 days' AND i.void_kind IS NULL)
     SELECT count(*) FILTER (WHERE local >= t.today)::int AS today,
            count(*) FILTER (WHERE local >= t.today - interval '1 day' AND local < t.now - interval '1 day')::int AS today_prev,
            count(*) FILTER (WHERE local >= t.month)::int AS month,
            count(*) FILTER (WHERE local >= t.month - interval '1 month' AND local < t.now - interval '1 month')::int AS month_prev,
            avg((status = 'closed')::int) FILTER (WHERE reported_at >= $2::timestamptz - interval '30 days') AS closure,
            avg((closed_at IS NOT NULL
              AND closed_at < $2::timestamptz - interval '30 days')::int) FILTER (WHERE reported_at >= $2::timestamptz - interval '60 days' AND ` +
      `reported_at < $2::timestamptz - interval '30 days') AS closure_prev,
            avg(extract(epoch FROM closed_at - reported_at) / 3600) FILTER (WHERE closed_at >= $2::timestamptz - interval '30 days') AS hours,
            avg(extract(epoch FROM closed_at - reported_at) / 3600) FILTER (WHERE closed_at >= $2::timestamptz - interval '60 days'
              AND closed_at < $2::timestamptz - interval '30 days') AS hours_prev,
            -- 满意率: satisfied or basically satisfied among the verdicts of cases closed in 30 days (and the 30 before)
            avg((satisfaction <> 'unsatisfied')::int) FILTER (WHERE satisfaction IS NOT NULL AND closed_at >= $2::timestamptz - interval '30 days')
              AS satisfaction,
            avg((satisfaction <> 'unsatisfied')::int) FILTER (WHERE satisfaction IS NOT NULL AND closed_at >= $2::timestamptz - interval '60 days'
              AND closed_at < $2::timestamptz - interval '30 days') AS satisfaction_prev,
            -- solved without a department (grid, village, township or district) among cases solved in 30 days
            avg((solved_level <> 'department')::int) FILTER (WHERE resolved_at >= $2::timestamptz - interval '30 days') AS on_spot,
            avg((solved_level <> 'department')::int) FILTER (WHERE resolved_at >= $2::timestamptz - interval '60 days'
              AND resolved_at < $2::timestamptz - interval '30 days') AS on_spot_prev,
            count(*) FILTER (WHERE solved_level = 'grid' AND resolved_at >= $2::timestamptz - interval '30 days')::int AS by_grid,
            count(*) FILTER (WHERE solved_level = 'village' AND resolved_at >= $2::timestamptz - interval '30 days')::int AS by_village,
            count(*) FILTER (WHERE solved_level = 'township' AND resolved_at >= $2::timestamptz - interval '30 days')::int AS by_township,
            count(*) FILTER (WHERE solved_level = 'district' AND resolved_at >= $2::timestamptz - interval '30 days')::int AS by_district,
            count(*) FILTER (WHERE solved_level = 'department' AND resolved_at >= $2::timestamptz - interval '30 days')::int AS by_department,
            count(*) FILTER (WHERE resolved_at IS NULL AND (reported_at + deadline < $2::timestamptz OR dispatch_late))::int AS overdue,
            count(*) FILTER (WHERE (reported_at + deadline < $2::timestamptz - interval '1 day' AND coalesce(resolved_at,
              'infinity') > $2::timestamptz - interval '1 day') OR dispatch_late_prev)::int AS overdue_prev
     FROM i, t`,
    [grids, clock.toISOString()],
  );
  // 工单超时: the departments' open dispatches on cases here past their own deadlines (跟踪督办's 已超时), and as
  // they stood a day ago — beside the cases past their category's time to close, which count the case once
  const {
    rows: [late],
  } = await tx.query<{ now: number; prev: number; ack: number }>(
    `SELECT count(*) FILTER (WHERE ${dispatchLate('d', '$2::timestamptz')})::int AS now,
            -- of them, those late only to acknowledge (受理超时), their 办结 deadline still ahead
            count(*) FILTER (WHERE ${dispatchLate('d', '$2::timestamptz')} AND d.due_at >= $2::timestamptz)::int AS ack,
            count(*) FILTER (WHERE d.dispatched_at < $2::timestamptz - interval '1 day'
                               AND coalesce(d.resolved_at, 'infinity') > $2::timestamptz - interval '1 day'
                               AND coalesce(d.returned_at, 'infinity') > $2::timestamptz - interval '1 day'
                               AND (d.due_at < $2::timestamptz - interval '1 day'
                                    OR (coalesce(d.acknowledged_at, 'infinity') > $2::timestamptz - interval '1 day'
                                        AND d.ack_due_at < $2::timestamptz - interval '1 day')))::int AS prev
     FROM dispatch d JOIN incident i ON i.id = d.incident_id
     WHERE i.grid_id = ANY($1::int[]) AND (d.resolved_at IS NULL OR d.resolved_at > $2::timestamptz - interval '1 day')
       AND (d.returned_at IS NULL OR d.returned_at > $2::timestamptz - interval '1 day')`,
    [grids, clock.toISOString()],
  );
  const { rows: cats } = await tx.query<{ category: string; n: number }>(
    `SELECT i.category, count(*)::int AS n FROM incident i
     -- (the month's start as an instant, so the index of report times answers: China keeps no summer time)
     WHERE i.grid_id = ANY($1::int[]) AND i.reported_at >= date_trunc('month', $2::timestamptz AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'
       AND i.void_kind IS NULL
     GROUP BY 1 ORDER BY 1`,
    [grids, clock.toISOString()],
  );
  // The plan figures a month ago (the daily snapshot at least 30 days old, China Standard Time).
  const {
    rows: [was],
  } = await tx.query<PlanRow & { day: string }>(
    `SELECT day::text AS day, grids, staffed, workers, households, passing, passing_households, passing_area, area FROM plan_figure
     WHERE region_id = $1 AND day <= ($2::timestamptz AT TIME ZONE 'Asia/Shanghai')::date - 30 ORDER BY day DESC LIMIT 1`,
    [regionId, clock.toISOString()],
  );
  // The household ranges or the staffing model changed since that day: what passes was judged by other rules then, so
  // the passing figures are not compared with it (a rule made stricter is no 827% rise of failing grids).
  const rulesChanged = was
    ? ((
        await tx.query<{ at: string | null }>(
          `SELECT to_char(max(at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS at FROM change
           WHERE entity IN ('grid_type_rule', 'staff_role', 'staff_requirement')
             AND at >= ($1::date)::timestamp AT TIME ZONE 'Asia/Shanghai' AND at <= $2::timestamptz`,
          [was.day, clock.toISOString()],
        )
      ).rows[0]?.at ?? null)
    : null;
  const judged = rulesChanged ? undefined : was;
  const round = (x: number | null | undefined, d = 1) => (x === null || x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);
  const f = (value: number | null | undefined, previous: number | null | undefined = null): Figure => ({ value: value ?? null, previous: previous ?? null });
  const p = plan!;
  return {
    region: r,
    figures: {
      grids: f(p.grids, was?.grids),
      // people, not staffed grids: one worker serving two grids is one (days recorded before the count have none)
      workers: f(p.workers, was?.workers),
      households: f(p.households, was?.households),
      coverageArea: f(round(p.area > 0 ? p.passing_area / p.area : null, 3), judged && round(judged.area > 0 ? judged.passing_area / judged.area : null, 3)),
      coverageHouseholds: f(
        round(p.households > 0 ? p.passing_households / p.households : null, 3),
        judged && round(judged.households > 0 ? judged.passing_households / judged.households : null, 3),
      ),
      failingGrids: f(p.grids - p.passing, judged && judged.grids - judged.passing),
      incidentsToday: f(inc!.today, inc!.today_prev),
      incidentsMonth: f(inc!.month, inc!.month_prev),
      closureRate: f(round(inc!.closure, 3), round(inc!.closure_prev, 3)),
      hoursToClose: f(round(inc!.hours), round(inc!.hours_prev)),
      overdue: f(inc!.overdue, inc!.overdue_prev),
      overdueDispatches: f(late!.now, late!.prev),
      overdueToAcknowledge: f(late!.ack),
      satisfaction: f(round(inc!.satisfaction, 3), round(inc!.satisfaction_prev, 3)),
      solvedOnSpot: f(round(inc!.on_spot, 3), round(inc!.on_spot_prev, 3)),
    },
    /** Cases solved in the last 30 days by the level that solved them. */
    solvedBy: {
      grid: inc!.by_grid ?? 0,
      village: inc!.by_village ?? 0,
      township: inc!.by_township ?? 0,
      district: inc!.by_district ?? 0,
      department: inc!.by_department ?? 0,
    },
    byCategory: Object.fromEntries(cats.map((c) => [c.category, c.n])),
    rulesChanged,
  };
}
