import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { maintain, type Db, type Queryable } from '../db/db.ts';
import { recountHouseholdsIn } from '../db/households.ts';
import { cstDay, recordPlanFigures } from '../db/overview.ts';
import { insertRegions, recordChange } from '../db/regions.ts';
import { parseBoundaryFeatures, type Position } from '../domain/geojson-input.ts';
import { childCode, childName } from '../domain/hierarchy.ts';
import { GRID_TYPES, type GridType } from '../domain/grid-types.ts';
import { kmeans, type XY } from './kmeans.ts';
import { GIVEN, NamePool, SURNAMES, maskedPhone, personName, provinceOf } from './names.ts';
import { Random } from './random.ts';
import { generateHouseholds, planTownships, Territory } from './settlements.ts';
import { generateIncidents, type GeneratedIncident } from './incidents.ts';
import { subdivide, type ChildSeed } from './subdivide.ts';
import { planGrids } from '../db/autosplit-plan.ts';

export const DATA_DIR = join(import.meta.dirname, '..', '..', 'data');

/** Real township names of the demo districts; other districts get generic ones. */
const TOWNSHIPS: Record<string, { streets: string[]; towns: string[] }> = {
  '530303': { streets: ['西平街道', '龙华街道', '金龙街道', '花山街道'], towns: ['白水镇', '盘江镇', '德泽乡', '菱角乡', '炎方乡', '大坡乡', '播乐乡'] },
};

/**
 * Township names for a district without real ones: one or two streets (街道) at the seat, more for
 * a big county, and a town (镇) or township (乡) for about every 350 km² — but no more than its
 * people fill (one for about 3,500 households): a desert county of 66,000 km² and 6,000 households
 * (肃北) has a handful of towns and one street, not twenty-three.
 */
function townshipNames(areaKm2: number, households: number, pool: NamePool, random: Random): { streets: string[]; towns: string[] } {
  const streets = Array.from({ length: households < 15_000 ? 1 : areaKm2 > 4000 ? 3 : 2 }, () => pool.street());
  const count = Math.max(5, Math.min(20, Math.round(areaKm2 / 350), Math.round(households / 3_500)));
  const towns = Array.from({ length: count }, () => pool.town(random.next() < 0.6 ? '镇' : '乡'));
  return { streets, towns };
}

export interface SeedOptions {
  /** Administrative code of the district in `boundaryFile`. */
  districtCode: string;
  boundaryFile: string;
  seed: number;
  /** Households of the whole district at scale 1 (default 130,000). */
  households?: number;
  /** 1 = the full demo; smaller for tests. */
  scale: number;
  /** The district's own household range for every grid type (else the defaults of grid_type_rule). */
  rule?: { min: number; max: number; target: number };
  onProgress?: (step: string) => void;
  /** The demo's incidents end here (default: now). */
  now?: Date;
  /** The city the district lies in (a row already made: see seedCity); null or absent: the district stands alone. */
  parentId?: number | null;
  /** Incidents over two years (default 200,000 at scale 1). */
  incidents?: number;
  /**
   * The county's own bureaus (公安局, 住建局, 生态环境分局, 司法局) beside the whole plan's departments, serving it alone and
   * taking its cases of their categories: a city's counties each have theirs. Absent: the plan's departments only.
   */
  ownDepartments?: boolean;
}

/** The bureaus a county keeps itself in a city, after the plan's departments of those codes: its cases of their categories go there. */
export const COUNTY_BUREAUS: { code: string; zh: string; en: string }[] = [
  { code: 'police', zh: '公安局', en: 'Police' },
  { code: 'housing', zh: '住建局', en: 'Housing' },
  { code: 'environment', zh: '生态环境分局', en: 'Environment' },
  { code: 'mediation', zh: '司法局', en: 'Justice' },
];

/**
 * 沾益区 as it runs: 4,378 grids of 10 to 25 households in every one of the five grid types (散居,
 * 小区, 单位, 商圈, 农村). About 79,000 households split to that rule make about as many grids.
 */
export const DEMO: SeedOptions = {
  districtCode: '530303',
  boundaryFile: join(DATA_DIR, 'boundaries', 'qujing.geojson'),
  seed: 20261123,
  households: 78_700,
  scale: 1,
  rule: { min: 10, max: 25, target: 18 },
};

export interface SeedSummary {
  districtId: number;
  townships: number;
  villages: number;
  grids: number;
  households: number;
  workers: number;
  /** Grid leaders, police officers, instructors and part-time members. */
  staff: number;
  incidents: number;
  ms: number;
}

/** Builds a whole demo district in one transaction: boundary, households, townships, villages, grids, workers. */
export async function seedDistrict(db: Db, options: SeedOptions): Promise<SeedSummary> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const random = new Random(options.seed);
  const file = JSON.parse(await readFile(options.boundaryFile, 'utf8'));
  const { features, errors } = parseBoundaryFeatures(file);
  const district = features.find((f) => f.code === options.districtCode);
  if (!district) {
    throw new Error(`district ${options.districtCode} is not in ${options.boundaryFile} (${errors.length} unreadable features)`);
  }
  const territory = new Territory(district.coordinates, random);
  const cp = file.features[district.index]?.properties?.cp as Position | undefined;
  const seat: Position = cp && territory.contains(cp) ? cp : territory.randomPoint(random);
  // (by the households at full scale: a test's small scale keeps the county's townships)
  const names =
    TOWNSHIPS[district.code] ?? townshipNames(territory.areaKm2(), options.households ?? 130_000, new NamePool(random, provinceOf(district.code)), random);
  // Every query below works within this district's codes: a city seeds its counties one by one.
  const within = `${district.code}-%`;
  const townships = planTownships(territory, seat, names.streets, names.towns, random);
  const households = generateHouseholds(territory, seat, townships, Math.round((options.households ?? 130_000) * options.scale), random);

  const summary = await db.transaction(async (tx) => {
    progress(`district ${district.name}`);
    // Repair: several published boundaries (民乐县, 玉门市) have self-intersecting rings.
    const [districtId] = await insertRegions(
      tx,
      [{ parentId: options.parentId ?? null, level: 'district', code: district.code, name: district.name, coordinates: district.coordinates }],
      true,
    );
    if (options.ownDepartments) {
      // the county's own bureaus, routed the categories of the plan's departments they stand beside
      const { rows: own } = await tx.query<{ id: number; of: string }>(
        `INSERT INTO department (code, zh, en, region_id, sort)
         SELECT b.code || '_' || $1, $2 || b.zh, b.en || ' · ' || $2, $3, 100 + b.i
         FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS b(code, zh, en, i)
         RETURNING id, split_part(code, '_', 1) AS of`,
        [district.code, district.name, districtId, COUNTY_BUREAUS.map((b) => b.code), COUNTY_BUREAUS.map((b) => b.zh), COUNTY_BUREAUS.map((b) => b.en)],
      );
      await tx.query(
        `INSERT INTO category_department (category, department_id)
         SELECT cd.category, o.id FROM unnest($1::int[], $2::text[]) AS o(id, of)
           JOIN department p ON p.code = o.of AND p.region_id IS NULL JOIN category_department cd ON cd.department_id = p.id`,
        [own.map((o) => o.id), own.map((o) => o.of)],
      );
    }
    if (options.rule) {
      const { min, max, target } = options.rule;
      await tx.query(
        `INSERT INTO grid_type_rule (district_id, grid_type, min_households, max_households, target_households)
         SELECT $1, t, $2, $3, $4 FROM unnest($5::text[]) AS t`,
        [districtId, min, max, target, [...GRID_TYPES]],
      );
    }
    progress(`${households.length} households`);
    await stageHouseholds(tx, households);

    progress(`${townships.length} townships`);
    await subdivide(
      tx,
      'township',
      townships.map((t, i) => ({
        parentId: districtId!,
        lon: t.centre[0],
        lat: t.centre[1],
        code: childCode(district.code, 'township', i + 1),
        name: t.name,
        gridType: null,
      })),
    );

    progress('villages');
    await seedVillages(tx, territory, households.length, options.scale, random, within);
    await settleSparseVillages(tx, options.rule?.min ?? 10, within);

    progress('grids');
    await seedGrids(tx, districtId!, random, progress, within);

    progress('households → grids');
    const filed = await fileHouseholds(tx, districtId!, within);

    progress('workers');
    const { grids, workers } = await seedWorkers(tx, random, within);
    const staff = await seedStaff(tx, random, within);
    progress('incidents');
    const incidents = generateIncidents({
      count: Math.round((options.incidents ?? 200_000) * options.scale),
      households,
      frame: territory.frame,
      now: options.now ?? new Date(),
      random: new Random(options.seed + 1),
      roads: townships.slice(1).map((t) => [seat, t.centre] as [Position, Position]),
      province: provinceOf(district.code),
    });
    progress(`${incidents.length} incidents generated`);
    await insertDemoIncidents(tx, incidents, within, districtId!);
    progress('patrols');
    await seedPatrols(tx, options.now ?? new Date(), within);
    const counts = (await tx.query<{ level: string; n: number }>('SELECT level, count(*)::int AS n FROM region WHERE code LIKE $1 GROUP BY level', [within]))
      .rows;
    const count = (level: string) => counts.find((c) => c.level === level)?.n ?? 0;
    const summary: SeedSummary = {
      districtId: districtId!,
      townships: count('township'),
      villages: count('village'),
      grids: count('grid'),
      households: filed,
      workers: workers.length,
      staff,
      incidents: (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM incident i JOIN region g ON g.id = i.grid_id WHERE g.code LIKE $1', [within]))
        .rows[0]!.n,
      ms: Math.round(performance.now() - started),
    };
    // The plan figures today, and a month ago: the same plan before its latest recruits (about 3% of the
    // grids got their worker in the last 30 days), so the screen has a change to show.
    const now = options.now ?? new Date();
    await recordPlanFigures(tx, cstDay(now));
    const recruited = grids.filter(() => random.next() < 0.03).map((g) => g.id);
    await recordPlanFigures(tx, cstDay(new Date(now.getTime() - 30 * 86_400_000)), recruited);
    await recordChange(tx, {
      actor: 'seed',
      action: 'seed',
      entity: 'region',
      entityId: districtId!,
      before: null,
      after: { ...options, onProgress: undefined, now: undefined, ...summary },
    });
    return summary;
  });
  await maintain(db);
  return summary;
}

/**
 * Two months of patrols (巡查): two to eight walks per staffed grid, each round the grid just inside
 * its edge at a walker's pace, visiting about a quarter of its households — so the assessment and
 * its map have something to show. Deterministic.
 */
async function seedPatrols(tx: Queryable, now: Date, within: string): Promise<void> {
  await tx.query(
    `WITH p AS (
       SELECT r.id AS grid_id, r.worker_id, r.geom, k,
              $1::timestamptz - make_interval(days => (r.id * 37 + k * 11) % 60, hours => 1 + (r.id + k) % 9) AS started
       FROM region r, generate_series(1, 2 + r.id % 7) AS k
       WHERE r.level = 'grid' AND r.worker_id IS NOT NULL AND r.code LIKE $2
     ),
     -- round the grid inside its edge (the lanes along its border), a little further in on each walk
     walked AS (
       SELECT p.*, (SELECT ST_SimplifyPreserveTopology(ST_ExteriorRing(d.geom), 0.00003)
                    FROM ST_Dump(ST_Buffer(p.geom, -0.00008 * (1 + p.k % 4), 'quad_segs=2')) d
                    ORDER BY ST_Area(d.geom) DESC LIMIT 1) AS line
       FROM p
     )
     INSERT INTO patrol (worker_id, grid_id, started_at, ended_at, track, points, distance_m, reported_by, client_key)
     SELECT worker_id, grid_id, started, started + make_interval(secs => ST_Length(line::geography) / 1.1 + 600), line, ST_NPoints(line),
            ST_Length(line::geography), 'seed', 'seed-' || grid_id || '-' || k
     FROM walked WHERE line IS NOT NULL AND ST_NPoints(line) >= 2`,
    [now.toISOString(), within],
  );
  await tx.query(
    `INSERT INTO patrol_visit (patrol_id, household_id, at)
     SELECT p.id, h.id, p.started_at + (p.ended_at - p.started_at) * ((h.id % 10) / 10.0)
     FROM patrol p JOIN region g ON g.id = p.grid_id AND g.code LIKE $1 JOIN household h ON h.region_id = p.grid_id WHERE (h.id + p.id) % 4 = 0`,
    [within],
  );
}

/**
 * The rest of each grid's 1+3+M+X staff: the village's head leads and a township cadre instructs
 * all of its grids; each grid has its own police officer (警网融合) and up to two part-time
 * members. Returns how many were added.
 */
async function seedStaff(tx: Queryable, random: Random, within: string): Promise<number> {
  const grids = (
    await tx.query<{ id: number; village: number }>(`SELECT id, parent_id AS village FROM region WHERE level = 'grid' AND code LIKE $1 ORDER BY code`, [within])
  ).rows;
  const people: { name: string; phone: string; role: string; grids: number[] }[] = [];
  let village = -1;
  for (const g of grids) {
    if (g.village !== village) {
      village = g.village;
      people.push({ name: personName(random), phone: maskedPhone(random), role: 'grid_leader', grids: [] });
      people.push({ name: personName(random), phone: maskedPhone(random), role: 'instructor', grids: [] });
    }
    people.at(-2)!.grids.push(g.id);
    people.at(-1)!.grids.push(g.id);
  }
  // Village-wide people first, then per grid ones, so ids follow one order.
  for (const g of grids) {
    people.push({ name: personName(random), phone: maskedPhone(random), role: 'police', grids: [g.id] });
    const partTime = Math.floor(random.next() * 3);
    for (let i = 0; i < partTime; i++) people.push({ name: personName(random), phone: maskedPhone(random), role: 'part_time', grids: [g.id] });
  }
  const { rows: ids } = await tx.query<{ id: number }>(
    `INSERT INTO worker (name, phone, role)
     SELECT name, phone, role FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(name, phone, role, ord) ORDER BY ord
     RETURNING id`,
    [people.map((p) => p.name), people.map((p) => p.phone), people.map((p) => p.role)],
  );
  const sorted = ids.map((r) => r.id).sort((a, b) => a - b);
  const links = people.flatMap((p, i) => p.grids.map((grid) => ({ grid, worker: sorted[i]!, role: p.role })));
  await tx.query('INSERT INTO grid_staff (grid_id, worker_id, role) SELECT * FROM unnest($1::int[], $2::int[], $3::text[])', [
    links.map((l) => l.grid),
    links.map((l) => l.worker),
    links.map((l) => l.role),
  ]);
  return people.length;
}

interface Members {
  id: number;
  code: string;
  name: string;
  parentName: string;
  areaKm2: number;
  points: Position[];
}

/** Regions of a level with the staged households inside each (by location). */
async function membersByParent(tx: Queryable, level: 'township' | 'village', within: string): Promise<Members[]> {
  const { rows } = await tx.query<{ id: number; code: string; name: string; parent_name: string; area_km2: number; xs: number[] | null; ys: number[] | null }>(
    `SELECT r.id, r.code, r.name, p.name AS parent_name, gp_area_m2(r.geom) / 1e6 AS area_km2,
            array_agg(ST_X(h.geom) ORDER BY h.id) FILTER (WHERE h.id IS NOT NULL) AS xs,
            array_agg(ST_Y(h.geom) ORDER BY h.id) FILTER (WHERE h.id IS NOT NULL) AS ys
     FROM region r JOIN region p ON p.id = r.parent_id
     LEFT JOIN seed_household h ON r.geom && h.geom AND ST_Intersects(r.geom, h.geom)
     WHERE r.level = $1 AND r.code LIKE $2
     GROUP BY r.id, p.name
     ORDER BY r.code`,
    [level, within],
  );
  return rows.map((r) => ({
    id: r.id,
    code: r.code,
    name: r.name,
    parentName: r.parent_name,
    areaKm2: r.area_km2,
    points: (r.xs ?? []).map((x, i) => [x, r.ys![i]!] as Position),
  }));
}

/**
 * `k` seed points for a region's children: k-means centres of its households, each moved to the
 * nearest household so it lies inside the region; distinct, ordered north-west first.
 */
function seedsFor(region: Members, k: number, territory: Territory, random: Random): Position[] {
  const points = region.points.length > 0 ? region.points : [];
  if (points.length === 0) return [];
  const xy: XY[] = points.map((p) => territory.frame.toXY(p));
  const centres = kmeans(xy, Math.min(k, xy.length), random);
  const seen = new Set<number>();
  for (const c of centres) {
    let best = 0;
    let bestD = Infinity;
    xy.forEach((p, i) => {
      const d = (p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2;
      if (d < bestD && !seen.has(i)) {
        bestD = d;
        best = i;
      }
    });
    seen.add(best);
  }
  const unique = new Map<string, Position>();
  for (const i of seen) unique.set(points[i]!.join(','), points[i]!);
  return [...unique.values()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
}

/** A village's grid type: communities in streets are residential (some commercial or work units); sparse villages scattered. */
function villageType(v: Members, random: Random): GridType {
  if (v.name.endsWith('社区')) {
    const r = random.next();
    return r < 0.12 ? 'commercial' : r < 0.22 ? 'unit' : 'residential';
  }
  return v.points.length / Math.max(v.areaKm2, 0.01) < 25 ? 'scattered' : 'rural';
}

/**
 * Demo incidents, each filed under the grid containing it and reported by that grid's worker;
 * jittered points outside the district are dropped. They are staged in an indexed temporary table
 * and located grid by grid: updating 200,000 rows afterwards, or probing the grids once per
 * incident, costs PGlite many seconds more.
 */
async function insertDemoIncidents(tx: Queryable, incidents: GeneratedIncident[], within: string, districtId: number): Promise<void> {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  await tx.query(`CREATE TEMP TABLE seed_incident (id serial PRIMARY KEY, geom geometry(Point, 4326), category text, severity int, description text,
    reported_at timestamptz, status text, department text, dispatched_at timestamptz, resolved_at timestamptz, closed_at timestamptz,
      feedback text) ON COMMIT DROP`);
  for (let i = 0; i < incidents.length; i += 20_000) {
    const b = incidents.slice(i, i + 20_000);
    await tx.query(
      `INSERT INTO seed_incident (geom, category, severity, description, reported_at, status, department, dispatched_at, resolved_at, closed_at, feedback)
       SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326), category, severity, description, reported_at, status,
              CASE WHEN dispatched_at IS NULL THEN NULL ELSE department END, dispatched_at, resolved_at, closed_at, feedback
       FROM unnest($1::float8[], $2::float8[], $3::text[], $4::int[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::timestamptz[],
         $10::timestamptz[], $11::timestamptz[], $12::text[])
         AS u(lon, lat, category, severity, description, reported_at, status, department, dispatched_at, resolved_at, closed_at, feedback)`,
      [
        b.map((x) => x.lon),
        b.map((x) => x.lat),
        b.map((x) => x.category),
        b.map((x) => x.severity),
        b.map((x) => x.description),
        b.map((x) => iso(x.reportedAt)),
        b.map((x) => x.status),
        b.map((x) => x.department),
        b.map((x) => iso(x.dispatchedAt)),
        b.map((x) => iso(x.resolvedAt)),
        b.map((x) => iso(x.closedAt)),
        b.map((x) => x.feedback),
      ],
    );
  }
  await tx.query('CREATE INDEX ON seed_incident USING gist (geom)');
  await tx.query('ANALYZE seed_incident');
  await tx.query('ANALYZE region');
  // Bulk load: indexes are rebuilt once afterwards, and foreign keys (checked by construction here)
  // are not re-checked row by row where the role may skip them — each halves PGlite's load time.
  const { rows: indexes } = await tx.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'incident' AND indexname <> 'incident_pkey'`,
  );
  for (const ix of indexes) await tx.query(`DROP INDEX ${ix.name}`);
  await tx.query('SAVEPOINT bulk');
  let skipChecks = true;
  try {
    await tx.query('SET LOCAL session_replication_role = replica');
  } catch {
    await tx.query('ROLLBACK TO SAVEPOINT bulk');
    skipChecks = false;
  }
  await tx.query(
    `INSERT INTO incident (geom, category, severity, description, reported_at, status, department, dispatched_at, resolved_at, closed_at, feedback, ` +
      `grid_id, filed_grid_id, reporter_id, solved_level, resolution_note, satisfaction)
     SELECT geom, category, severity, description, reported_at, status,
            -- most cases solved are solved where they happen (小事不出村、大事不出镇): never sent to a department
            CASE WHEN on_spot THEN NULL ELSE department END, CASE WHEN on_spot THEN NULL ELSE dispatched_at END,
            -- (the feedback says what the verdict says)
            resolved_at, closed_at,
            CASE WHEN status <> 'closed' THEN feedback WHEN id % 20 = 0 THEN '群众反映问题仍未解决，对处理结果不满意'
                 WHEN id % 20 < 5 THEN '群众基本满意' ELSE feedback END,
            grid_id, grid_id, worker_id,
            CASE WHEN resolved_at IS NULL THEN NULL WHEN NOT on_spot THEN 'department'
                 WHEN id % 100 < 40 THEN 'grid' WHEN id % 100 < 52 THEN 'village' ELSE 'township' END,
            -- what was done there (the phone puts 就地解决： before it)
            CASE WHEN on_spot THEN (ARRAY['已到现场处理，恢复正常', '已协调当事人当场解决', '已现场整改到位', '已劝导并清理完毕'])[id % 4 + 1] END,
            -- the residents' verdicts: most satisfied, a few not
            CASE WHEN status = 'closed' THEN CASE WHEN id % 20 = 0 THEN 'unsatisfied' WHEN id % 20 < 5 THEN 'basically' ELSE 'satisfied' END END
     FROM (SELECT DISTINCT ON (s.id) s.*, g.id AS grid_id, g.worker_id, s.resolved_at IS NOT NULL AND s.id % 100 < 55 AS on_spot
           FROM seed_incident s JOIN region g ON g.level = 'grid' AND g.code LIKE $1 AND g.geom && s.geom AND ST_Intersects(g.geom, s.geom)
           ORDER BY s.id, g.id) AS located
     ORDER BY id`,
    [within],
  );
  if (skipChecks) await tx.query('SET LOCAL session_replication_role = origin');
  for (const ix of indexes) await tx.query(ix.def);
  await tx.query('ANALYZE incident');
  // Each dispatched incident went to its category's department — other matters as a clerk would send them: a question of
  // law to the 司法所 (as disputes go), a broken lamp or facility to 住建 (as hazards go), nothing left to the police — the county's own bureau
  // where it has one (a city's county), else the plan's — which
  // acknowledged it within a share of its time and answered when the incident was resolved; a few
  // still open have not acknowledged yet. Those past their deadlines stand escalated.
  await tx.query(
    `INSERT INTO dispatch (incident_id, department_id, dispatched_at, ack_due_at, due_at, acknowledged_at, resolved_at, answer)
     SELECT i.id, coalesce(cd.department_id, (SELECT id FROM department WHERE code = 'police')), i.dispatched_at,
            i.dispatched_at + make_interval(secs => dl.ack_hours * 3600), i.dispatched_at + make_interval(secs => dl.resolve_hours * 3600),
            CASE WHEN i.resolved_at IS NOT NULL THEN i.dispatched_at + (i.resolved_at - i.dispatched_at) * (0.05 + (i.id % 37) / 100.0)
                 -- (never before the dispatch: a county seeded for minutes has cases dispatched after its transaction began)
                 WHEN i.id % 5 > 1
                   THEN greatest(i.dispatched_at, least(now(), i.dispatched_at + make_interval(secs => dl.ack_hours * 3600 * (i.id % 13) / 10.0)))
            END,
            i.resolved_at, CASE WHEN i.resolved_at IS NOT NULL THEN '已处置：' || i.description END
     FROM incident i JOIN incident_deadline dl ON dl.category = i.category AND dl.severity = i.severity
       LEFT JOIN LATERAL (SELECT cd.department_id FROM category_department cd JOIN department d ON d.id = cd.department_id
                          WHERE cd.category = CASE WHEN i.category <> 'other' THEN i.category WHEN i.description LIKE '%法律%' THEN 'dispute' ELSE 'hazard' END
                            AND (d.region_id IS NULL OR d.region_id = $1)
                          ORDER BY d.region_id IS NULL, d.sort, d.id LIMIT 1) cd ON true
     WHERE i.dispatched_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dispatch x WHERE x.incident_id = i.id)`,
    [districtId],
  );
  await tx.query(
    `UPDATE dispatch SET escalation = CASE WHEN due_at + (due_at - dispatched_at) < now() THEN 2 ELSE 1 END,
       escalated_at = CASE WHEN due_at + (due_at - dispatched_at) < now() THEN due_at + (due_at - dispatched_at) ELSE least(due_at, ack_due_at) END
     WHERE resolved_at IS NULL AND (due_at < now() OR (acknowledged_at IS NULL AND ack_due_at < now()))`,
  );
}

/** The generated households in a staging table with a spatial index, until the grids exist. */
async function stageHouseholds(tx: Queryable, households: { lon: number; lat: number; size: number }[]): Promise<void> {
  // Households wait in a staging table until the grids exist, so `household` is written once,
  // grid and address included: each full rewrite of 130,000 rows costs seconds in PGlite.
  await tx.query('CREATE TEMP TABLE seed_household (id serial PRIMARY KEY, geom geometry(Point, 4326) NOT NULL, size int NOT NULL) ON COMMIT DROP');
  for (let i = 0; i < households.length; i += 10_000) {
    const batch = households.slice(i, i + 10_000);
    await tx.query(
      `INSERT INTO seed_household (geom, size)
       SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4326), size FROM unnest($1::float8[], $2::float8[], $3::int[]) AS t(lon, lat, size)`,
      [batch.map((h) => h.lon), batch.map((h) => h.lat), batch.map((h) => h.size)],
    );
  }
  await tx.query('CREATE INDEX ON seed_household USING gist (geom)');
  await tx.query('ANALYZE seed_household');
}

/**
 * A real village has more households than one grid's least: a mountain village the generator left
 * with fewer (a handful of points in its cell) gets a hamlet of them, placed within it
 * (deterministically), so that every grid can keep the rule.
 */
async function settleSparseVillages(tx: Queryable, min: number, within: string): Promise<void> {
  await tx.query(
    `INSERT INTO seed_household (geom, size)
     SELECT (ST_Dump(ST_GeneratePoints(v.geom, $1 + 4 - v.n, v.id))).geom, 3
     FROM (SELECT r.id, r.geom, (SELECT count(*)::int FROM seed_household s WHERE s.geom && r.geom AND ST_Intersects(r.geom, s.geom)) AS n
           FROM region r WHERE r.level = 'village' AND r.code LIKE $2) v
     WHERE v.n < $1`,
    [min, within],
  );
}

/** Villages and communities in every township: half by people, half by land; communities in streets. */
async function seedVillages(tx: Queryable, territory: Territory, householdCount: number, scale: number, random: Random, within: string): Promise<void> {
  const pool = new NamePool(random, provinceOf(within));
  const townshipRows = await membersByParent(tx, 'township', within);
  const villageTotal = Math.min(120, Math.max(townshipRows.length * 2, Math.round(120 * Math.sqrt(scale))));
  const villageSeeds: ChildSeed[] = [];
  const totalArea = townshipRows.reduce((sum, t) => sum + t.areaKm2, 0);
  for (const t of townshipRows) {
    // Half by people, half by land: mountain townships still have a dozen villages.
    const share = 0.5 * (t.points.length / householdCount) + 0.5 * (t.areaKm2 / totalArea);
    const street = t.name.endsWith('街道');
    // A street's town is many small communities: more seeds there (k-means puts them where the people are).
    const k = Math.max(2, Math.round(villageTotal * share * (street ? 1.6 : 1)));
    seedsFor(t, k, territory, random).forEach(([lon, lat], i) =>
      villageSeeds.push({
        parentId: t.id,
        lon,
        lat,
        code: childCode(t.code, 'village', i + 1),
        name: street ? pool.community() : pool.village(),
        gridType: null,
      }),
    );
  }
  const villageCount = await subdivide(tx, 'village', villageSeeds);
  if (villageCount !== villageSeeds.length) throw new Error(`made ${villageCount} villages from ${villageSeeds.length} seeds`);
  // A street's outskirts are villages, as in a real 街道: a "community" of a hundred households on 20 km² is a village.
  const { rows: sparse } = await tx.query<{ id: number }>(
    `SELECT v.id FROM region v JOIN region t ON t.id = v.parent_id AND t.name LIKE '%街道'
     WHERE v.level = 'village' AND v.code LIKE $1
       AND (SELECT count(*) FROM seed_household h WHERE h.geom && v.geom AND ST_Intersects(v.geom, h.geom))
         < ${URBAN_DENSITY * scale} * gp_area_m2(v.geom) / 1e6
     ORDER BY v.code`,
    [within],
  );
  for (const v of sparse) await tx.query('UPDATE region SET name = $2 WHERE id = $1', [v.id, pool.village()]);
}

/** Households per km² (at scale 1; a smaller seed scales it) from which a place in a street is a community (社区), below which a village (村). */
const URBAN_DENSITY = 100;

/** Grids by the auto-split engine, as a planner would make them: every grid in its type's range, coded by the hierarchy's rule. */
async function seedGrids(tx: Queryable, districtId: number, random: Random, progress: (step: string) => void, within: string): Promise<void> {
  for (const v of await membersByParent(tx, 'village', within)) {
    await tx.query('UPDATE region SET grid_type = $2 WHERE id = $1', [v.id, villageType(v, random)]);
  }
  // Grids come from the auto-split engine, as a planner would make them: every grid in its type's range.
  await planGrids(tx, districtId, {
    householdTable: 'seed_household',
    describe: false,
    onProgress: (done, total) => {
      if (done % 20 === 0) progress(`grids: ${done}/${total} villages`);
    },
  });
  const {
    rows: [planned],
  } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM autosplit_grid');
  // numbered within their village, then coded and named by the hierarchy's one rule
  const { rows: numbered } = await tx.query<{ ord: number; code: string; name: string; n: number }>(
    `SELECT g.ord, v.code, v.name, row_number() OVER (PARTITION BY g.village_id ORDER BY g.ord)::int AS n
     FROM autosplit_grid g JOIN region v ON v.id = g.village_id ORDER BY g.ord`,
  );
  const {
    rows: [made],
  } = await tx.query<{ n: number }>(
    `WITH t AS (SELECT * FROM unnest($1::int[], $2::text[], $3::text[]) AS t(ord, code, name)),
     inserted AS (
       INSERT INTO region (parent_id, level, code, name, grid_type, geom)
       SELECT v.id, 'grid', t.code, t.name, v.grid_type, g.geom
       FROM t JOIN autosplit_grid g ON g.ord = t.ord JOIN region v ON v.id = g.village_id ORDER BY t.ord
       RETURNING 1
     ) SELECT count(*)::int AS n FROM inserted`,
    [numbered.map((g) => g.ord), numbered.map((g) => childCode(g.code, 'grid', g.n)), numbered.map((g) => childName(g.name, 'grid', g.n))],
  );
  if (made!.n !== planned!.n) throw new Error(`made ${made!.n} grids from ${planned!.n} planned`);
}

/** The staged households into `household`, each in the grid it lies in, with an address; then the counts. */
async function fileHouseholds(tx: Queryable, districtId: number, within: string): Promise<number> {
  const {
    rows: [filed],
  } = await tx.query<{ n: number }>(
    `WITH located AS (
       -- a point on a shared border touches two grids: it goes to the first
       SELECT DISTINCT ON (s.id) s.id, s.geom, s.size, g.id AS grid_id, g.parent_id AS village_id
       FROM seed_household s JOIN region g ON g.level = 'grid' AND g.code LIKE $1 AND g.geom && s.geom AND ST_Intersects(g.geom, s.geom)
       ORDER BY s.id, g.id
     ), inserted AS (
       -- 户主 from the names the demo's people have, and for seven households in ten a number: beginning 100,
       -- which no carrier gives out, so that no real person's number is in the demo
       INSERT INTO household (geom, size, region_id, address, head_name, phone)
       SELECT l.geom, l.size, l.grid_id, t.name || v.name || (row_number() OVER (PARTITION BY v.id ORDER BY l.id)) || '号',
              ($2::text[])[1 + ((l.id::bigint * 7919) % cardinality($2::text[]))::int]
                || ($3::text[])[1 + ((l.id::bigint * 104729) % cardinality($3::text[]))::int],
              CASE WHEN l.id % 10 < 7 THEN '100' || lpad(((l.id::bigint * 2654435761) % 100000000)::text, 8, '0') ELSE '' END
       FROM located l JOIN region v ON v.id = l.village_id JOIN region t ON t.id = v.parent_id
       ORDER BY l.id
       RETURNING 1
     ) SELECT count(*)::int AS n FROM inserted`,
    [within, SURNAMES, GIVEN],
  );
  const {
    rows: [staged],
  } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM seed_household');
  if (staged!.n !== filed!.n) throw new Error(`${staged!.n - filed!.n} generated households fell in no grid`);
  await recountHouseholdsIn(tx, districtId);
  return filed!.n;
}

/** One full-time worker per grid. */
async function seedWorkers(tx: Queryable, random: Random, within: string): Promise<{ grids: { id: number }[]; workers: { name: string; phone: string }[] }> {
  const grids = (await tx.query<{ id: number }>(`SELECT id FROM region WHERE level = 'grid' AND code LIKE $1 ORDER BY code`, [within])).rows;
  // One full-time worker per grid, as in Zhanyi (4,378 grids, one worker each): the demo validates
  // clean. Its month-ago record below has the vacancies filled since.
  const staffed = grids;
  const workers = staffed.map(() => ({ name: personName(random), phone: maskedPhone(random) }));
  await tx.query(
    `WITH w AS (
       INSERT INTO worker (name, phone, role)
       SELECT name, phone, 'full_time' FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(name, phone, ord) ORDER BY ord
       RETURNING id
     ), numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS ord FROM w)
     UPDATE region r SET worker_id = n.id
     FROM unnest($3::int[]) WITH ORDINALITY AS g(grid_id, ord) JOIN numbered n ON n.ord = g.ord
     WHERE r.id = g.grid_id`,
    [workers.map((w) => w.name), workers.map((w) => w.phone), staffed.map((g) => g.id)],
  );
  return { grids, workers };
}
