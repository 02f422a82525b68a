import { householdsOfMonth } from './households.ts';
import { InputError } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { recordChange } from './regions.ts';

/**
 * 巡查 (command centre issue §6b): a worker's patrol of a grid — the track the phone kept (thrifty:
 * a point every few tens of metres or half a minute) and the households visited on the way (入户走访).
 * A phone that was offline sends it later, with its own key: sent twice, stored once.
 */
export interface PatrolInput {
  key: string;
  gridId: number;
  startedAt: Date;
  endedAt: Date;
  /** [lon, lat] or [lon, lat, epoch ms] in WGS 84, in the order walked. */
  track: number[][];
  visits: { householdId: number; at: Date; note?: string | undefined }[];
}

export interface PatrolJson {
  id: number;
  workerId: number;
  gridId: number;
  startedAt: string;
  endedAt: string;
  points: number;
  distanceM: number;
  visits: number;
}

const PATROL_SQL = `SELECT p.id, p.worker_id AS "workerId", p.grid_id AS "gridId", p.started_at AS "startedAt", p.ended_at AS "endedAt", p.points,
    round(p.distance_m)::float8 AS "distanceM", (SELECT count(*)::int FROM patrol_visit v WHERE v.patrol_id = p.id) AS visits
  FROM patrol p`;

/** Longest patrol kept: a day; oldest a phone may still send: a month. */
const MAX_HOURS = 24;
const MAX_AGE_DAYS = 31;
/** Where a patrol may go: its grid and this far around it (a lane on its border, the next street). */
const NEAR_GRID_M = 500;
/** Tracks a month's map draws at most (sampled evenly over the month beyond it). */
const MAX_TRACKS = 2_000;

/** A household visited lies this near the track (when there is one). */
const NEAR_TRACK_M = 300;
/** Fastest a patrol moves on average: an electric bicycle (30 km/h). */
const MAX_SPEED_MS = 30 / 3.6;

export async function recordPatrol(
  tx: Queryable,
  actor: string,
  workerId: number,
  p: PatrolInput,
  now: Date,
): Promise<{ created: boolean; patrol: PatrolJson }> {
  const known = await tx.query<PatrolJson>(`${PATROL_SQL} WHERE p.reported_by = $1 AND p.client_key = $2`, [actor, p.key]);
  if (known.rows[0]) return { created: false, patrol: known.rows[0] };
  if (p.endedAt < p.startedAt) throw new InputError('invalid_time', 'a patrol ends after it starts', 'endedAt');
  if (p.endedAt.getTime() - p.startedAt.getTime() > MAX_HOURS * 3_600_000) throw new InputError('invalid_time', 'a patrol lasts at most a day', 'endedAt');
  if (p.endedAt.getTime() > now.getTime() + 5 * 60_000) throw new InputError('invalid_time', 'a patrol cannot end in the future', 'endedAt');
  if (p.startedAt.getTime() < now.getTime() - MAX_AGE_DAYS * 86_400_000)
    throw new InputError('invalid_time', `a patrol is sent within ${MAX_AGE_DAYS} days`, 'startedAt');
  const slackMs = 10 * 60_000;
  p.track.forEach((pt, i) => {
    const [lon, lat, t] = pt as [number, number, number | undefined];
    if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90))
      throw new InputError('invalid_point', 'a point is [longitude, latitude] in degrees', `track[${i}]`);
    if (t !== undefined && !(t >= p.startedAt.getTime() - slackMs && t <= p.endedAt.getTime() + slackMs))
      throw new InputError('invalid_time', "a point's time (ms since 1970) falls within its patrol", `track[${i}][2]`);
  });
  // walked in the grid or near it, at a pace a person keeps
  if (p.track.length) {
    const { rows: far } = await tx.query<{ i: number }>(
      `SELECT t.i::int AS i FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS t(lon, lat, i), region g
       WHERE g.id = $3 AND NOT ST_DWithin(g.geom::geography, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)::geography, $4)
       ORDER BY t.i LIMIT 1`,
      [p.track.map((pt) => pt[0]), p.track.map((pt) => pt[1]), p.gridId, NEAR_GRID_M],
    );
    if (far[0]) throw new InputError('outside_grid', `the track leaves the grid by more than ${NEAR_GRID_M} m`, `track[${far[0].i - 1}]`);
  }
  // a person patrols once at a time
  const { rows: overlapping } = await tx.query('SELECT 1 FROM patrol WHERE worker_id = $1 AND started_at < $3 AND ended_at > $2 LIMIT 1', [
    workerId,
    p.startedAt.toISOString(),
    p.endedAt.toISOString(),
  ]);
  if (overlapping.length) throw new InputError('overlapping_patrol', 'another patrol of this worker covers part of this time', 'startedAt');
  // the households visited must be the grid's own, each once
  const ids = p.visits.map((v) => v.householdId);
  const dup = ids.findIndex((id, i) => ids.indexOf(id) !== i);
  if (dup >= 0) throw new InputError('duplicate_visit', `household ${ids[dup]} is visited once per patrol`, `visits[${dup}].householdId`);
  if (ids.length) {
    const { rows } = await tx.query<{ id: number }>('SELECT id FROM household WHERE id = ANY($1::int[]) AND region_id = $2', [ids, p.gridId]);
    const found = new Set(rows.map((r) => r.id));
    const missing = ids.findIndex((id) => !found.has(id));
    if (missing >= 0) throw new InputError('not_in_grid', `household ${ids[missing]} is not one of this grid's`, `visits[${missing}].householdId`);
  }
  const slack = 10 * 60_000;
  p.visits.forEach((v, i) => {
    if (v.at.getTime() < p.startedAt.getTime() - slack || v.at.getTime() > p.endedAt.getTime() + slack)
      throw new InputError('invalid_time', 'a visit falls within its patrol', `visits[${i}].at`);
  });
  const line = p.track.length >= 2 ? JSON.stringify({ type: 'LineString', coordinates: p.track.map((pt) => [pt[0], pt[1]]) }) : null;
  if (line) {
    const { rows: checks } = await tx.query<{ m: number; far: number | null }>(
      `WITH t AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1::text), 4326)::geography AS g)
       SELECT ST_Length(t.g) AS m,
         (SELECT min(v.i)::int FROM unnest($2::int[]) WITH ORDINALITY AS v(h, i) JOIN household h ON h.id = v.h
          WHERE NOT ST_DWithin(h.geom::geography, t.g, $3)) AS far
       FROM t`,
      [line, ids, NEAR_TRACK_M],
    );
    const seconds = Math.max(1, (p.endedAt.getTime() - p.startedAt.getTime()) / 1000);
    // (the first 200 m are the fix settling: a short walk is never "too fast")
    if (Math.max(0, checks[0]!.m - 200) / seconds > MAX_SPEED_MS)
      throw new InputError('too_fast', `${Math.round(checks[0]!.m)} m in ${Math.round(seconds / 60)} min is faster than a patrol goes`, 'track');
    if (checks[0]!.far !== null)
      throw new InputError('visit_far', `a household visited lies more than ${NEAR_TRACK_M} m from the track`, `visits[${checks[0]!.far - 1}].householdId`);
  }
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO patrol (worker_id, grid_id, started_at, ended_at, track, points, distance_m, reported_by, client_key)
     SELECT $1, $2, $3, $4, t.g, $6, coalesce(ST_Length(t.g::geography), 0), $7, $8
     FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($5::text), 4326) AS g) t
     RETURNING id`,
    [workerId, p.gridId, p.startedAt.toISOString(), p.endedAt.toISOString(), line, p.track.length, actor, p.key],
  );
  const id = rows[0]!.id;
  if (p.visits.length) {
    await tx.query(
      `INSERT INTO patrol_visit (patrol_id, household_id, at, note)
       SELECT $1, u.h, u.at, u.note FROM unnest($2::int[], $3::timestamptz[], $4::text[]) AS u(h, at, note)`,
      [id, ids, p.visits.map((v) => v.at.toISOString()), p.visits.map((v) => v.note?.trim() ?? '')],
    );
  }
  const patrol = (await tx.query<PatrolJson>(`${PATROL_SQL} WHERE p.id = $1`, [id])).rows[0]!;
  await recordChange(tx, { actor, action: 'patrol', entity: 'patrol', entityId: id, before: null, after: patrol });
  return { created: true, patrol };
}

export interface PatrolSummary {
  gridId: number;
  code: string;
  name: string;
  worker: string | null;
  patrols: number;
  distanceM: number;
  households: number;
  visited: number;
  /** Share of the grid's households visited in the month (null: no households). */
  visitShare: number | null;
}

/** China-time month bounds: "2030-07" → [2030-06-30T16:00Z, 2030-07-31T16:00Z). */
export function monthBounds(month: string, path = 'month'): { from: Date; to: Date } {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  const y = Number(m?.[1]);
  const mo = Number(m?.[2]);
  if (!m || mo < 1 || mo > 12 || y < 2000 || y > 2100) throw new InputError('invalid_month', `a month is YYYY-MM, got ${JSON.stringify(month)}`, path);
  return { from: new Date(Date.UTC(y, mo - 1, 1) - 8 * 3_600_000), to: new Date(Date.UTC(y, mo, 1) - 8 * 3_600_000) };
}

/** The month now, in China. */
export const thisMonth = (now: Date) => new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 7);

/** Per grid under a region (or the given grids), in a month: patrols, distance walked, households visited. */
export async function patrolSummary(
  db: Queryable,
  f: { regionId: number; gridIds?: number[] | undefined; from: Date; to: Date },
): Promise<{ grids: PatrolSummary[]; tracks: GeoJSON.FeatureCollection; tracksTotal: number }> {
  const inMonth = householdsOfMonth('g.id', '$2');
  const { rows } = await db.query<PatrolSummary>(
    `WITH g AS (SELECT r.* FROM gp_subtree($1) s JOIN region r ON r.id = s.id WHERE s.level = 'grid' AND ($4::int[] IS NULL OR r.id = ANY($4::int[])))
     SELECT g.id AS "gridId", g.code, g.name, w.name AS worker, coalesce(pt.n, 0) AS patrols, coalesce(pt.m, 0)::float8 AS "distanceM",
       coalesce(hs.n, 0) AS households, coalesce(vs.n, 0) AS visited,
       CASE WHEN hs.n > 0 THEN round(coalesce(vs.n, 0)::numeric / hs.n, 4)::float8 END AS "visitShare"
     FROM g LEFT JOIN worker w ON w.id = g.worker_id
       LEFT JOIN LATERAL (SELECT count(*)::int AS n, round(sum(p.distance_m)) AS m FROM patrol p
                          WHERE p.grid_id = g.id AND p.started_at >= $2 AND p.started_at < $3) pt ON true
       LEFT JOIN LATERAL (SELECT count(*)::int AS n FROM ${inMonth} hh) hs ON true
       LEFT JOIN LATERAL (SELECT count(DISTINCT v.household_id)::int AS n FROM patrol_visit v JOIN ${inMonth} hh ON hh.id = v.household_id
                          WHERE v.at >= $2 AND v.at < $3) vs ON true
     ORDER BY g.code`,
    [f.regionId, f.from.toISOString(), f.to.toISOString(), f.gridIds ?? null],
  );
  // at most 2,000 tracks drawn: a month's are sampled evenly over the month (every k-th by start), so
  // that a district's map shows the whole month, thinned, and says how many it holds in all
  const { rows: tracks } = await db.query<{ f: GeoJSON.Feature; n: number }>(
    `SELECT json_build_object('type', 'Feature', 'id', p.id, 'geometry', ST_AsGeoJSON(p.track, 6)::json,
       'properties', json_build_object('gridId', p.grid_id, 'worker', w.name, 'startedAt', p.started_at, 'distanceM', round(p.distance_m))) AS f,
       p.n::int AS n
     FROM (SELECT p.*, row_number() OVER (ORDER BY p.started_at, p.id) AS rn, count(*) OVER () AS n FROM patrol p
           WHERE p.grid_id = ANY($1::int[]) AND p.started_at >= $2 AND p.started_at < $3 AND p.track IS NOT NULL) p
       JOIN worker w ON w.id = p.worker_id
     WHERE (p.rn - 1) % greatest(1, ceil(p.n / $4::numeric))::int = 0
     ORDER BY p.started_at, p.id LIMIT $4`,
    [rows.map((r) => r.gridId), f.from.toISOString(), f.to.toISOString(), MAX_TRACKS],
  );
  return { grids: rows, tracks: { type: 'FeatureCollection', features: tracks.map((t) => t.f) }, tracksTotal: tracks[0]?.n ?? 0 };
}
