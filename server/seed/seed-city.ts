import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/db.ts';
import { cstDay, recordPlanFigures } from '../db/overview.ts';
import { parseBoundaryFeatures } from '../domain/geojson-input.ts';
import { COUNTY_BUREAUS, DATA_DIR, seedDistrict, type SeedSummary } from './seed-district.ts';

/** The cities whose county outlines are in data/boundaries, with their codes (统计用区划代码, first six digits). */
/**
 * The cities whose counties' outlines are in `data/boundaries`. 曲靖's people spread with its land (households by area, the
 * urban districts denser); Gansu's cities are desert with oases, where land says nothing of people: their counties are
 * given their people (万, the 2020 census, rounded), their households (about 2.6 people each) and the rule their grids
 * are drawn to, so that 酒泉 comes out near its real 4,011 grids and 肃北's desert near the few it has.
 */
export const CITIES: Record<
  string,
  { code: string; name: string; file: string; people?: Record<string, number>; households?: number; rule?: { min: number; max: number; target: number } }
> = {
  qujing: { code: '530300', name: '曲靖市', file: 'qujing.geojson' },
  jiuquan: {
    code: '620900',
    name: '酒泉市',
    file: 'jiuquan.geojson',
    people: { 肃州区: 43.6, 金塔县: 12.7, 瓜州县: 13.2, 肃北蒙古族自治县: 1.6, 阿克塞哈萨克族自治县: 1.1, 敦煌市: 18.5, 玉门市: 14.6 },
    households: 405_000,
    rule: { min: 60, max: 150, target: 100 },
  },
  zhangye: {
    code: '620700',
    name: '张掖市',
    file: 'zhangye.geojson',
    people: { 甘州区: 51.0, 临泽县: 13.0, 民乐县: 18.6, 高台县: 13.6, 肃南裕固族自治县: 3.4, 山丹县: 16.6 },
    households: 446_000,
    rule: { min: 60, max: 150, target: 100 },
  },
  jiayuguan: { code: '620200', name: '嘉峪关市', file: 'jiayuguan.geojson', households: 120_000, rule: { min: 120, max: 300, target: 200 } },
};

export interface CitySeedOptions {
  city: keyof typeof CITIES | string;
  seed: number;
  /** 1: about 21,500 grids for 曲靖 (its real count), households spread by land with the urban core denser; smaller for tests. */
  scale: number;
  /** Households city-wide at scale 1 (default: 18 per grid of 曲靖 21,544). */
  households?: number;
  /** One household range for every grid type city-wide (曲靖 divides by one rule: 10–25). */
  rule?: { min: number; max: number; target: number };
  onProgress?: (step: string) => void;
  now?: Date;
}

export interface CitySummary {
  cityId: number;
  districts: SeedSummary[];
  grids: number;
  households: number;
  ms: number;
}

/** The city's bureaus, by the codes of the plan's departments they are. */
const CITY_BUREAUS: Record<string, string> = {
  police: '市公安局',
  fire: '市消防救援支队',
  housing: '市住建局',
  environment: '市生态环境局',
  market: '市市场监管局',
  transport: '市交通运输局',
  mediation: '市司法局',
};

/** How much denser than its land share a district is: a city's own district (its urban core, 区) more, a county-level city (市) a little. */
const density = (name: string) => (name.endsWith('区') ? 1.6 : name.endsWith('市') ? 1.15 : 1);

/**
 * A whole city: its row (the union of its counties' real outlines), then every county seeded as a
 * district under it, each in its own transaction (a failure keeps the counties done), then the
 * city's figures. `npm run seed -- --city qujing`.
 */
export async function seedCity(db: Db, options: CitySeedOptions): Promise<CitySummary> {
  const started = performance.now();
  const city = CITIES[options.city];
  if (!city) throw new Error(`no outlines for city "${options.city}" (known: ${Object.keys(CITIES).join(', ')})`);
  const progress = options.onProgress ?? (() => {});
  const boundaryFile = join(DATA_DIR, 'boundaries', city.file);
  const file = JSON.parse(await readFile(boundaryFile, 'utf8')) as GeoJSON.FeatureCollection;
  const { features } = parseBoundaryFeatures(file);
  if (features.length === 0) throw new Error(`${boundaryFile} holds no county outline`);
  // Counties' areas (km²) and the city's outline, by PostGIS: their union, made valid.
  const geometries = features.map((f) => JSON.stringify({ type: 'MultiPolygon', coordinates: f.coordinates }));
  const { rows: areas } = await db.query<{ km2: number }>(
    `SELECT ST_Area(ST_MakeValid(ST_GeomFromGeoJSON(g))::geography) / 1e6 AS km2 FROM unnest($1::text[]) WITH ORDINALITY AS t(g, i) ORDER BY i`,
    [geometries],
  );
  const { rows: made } = await db.query<{ id: number }>(
    `INSERT INTO region (parent_id, level, code, name, geom)
     SELECT NULL, 'city', $1, $2,
            ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_UnaryUnion(ST_Collect(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(g), 4326))))), 3))
     FROM unnest($3::text[]) AS g
     RETURNING id`,
    [city.code, city.name, geometries],
  );
  const cityId = made[0]!.id;
  progress(`${city.name}: ${features.length} districts`);
  // (a county missing from a city's people, if its file gained one, by its land as 曲靖's are)
  const weight = features.map((f, i) => city.people?.[f.name] ?? areas[i]!.km2 * density(f.name));
  const total = weight.reduce((a, b) => a + b, 0);
  // 曲靖: grids of 10–25 households come out at about 18 each (the rule’s target): this many make about its 21,544
  const households = options.households ?? city.households ?? 21_544 * 18;
  const rule = city.rule ?? options.rule;
  const districts: SeedSummary[] = [];
  for (const [i, f] of features.entries()) {
    const share = Math.round((households * weight[i]!) / total);
    const summary = await seedDistrict(db, {
      districtCode: f.code,
      boundaryFile,
      seed: options.seed + i,
      households: share,
      // two years of incidents at the demo's rate per household, halved: a city's worth stays a few hundred thousand
      incidents: Math.round(share * 1.25),
      scale: options.scale,
      parentId: cityId,
      // each county its own 公安局, 住建局, 生态环境分局, 司法局 (the plan's departments stay the city's: 消防, 交通, 市场监管…)
      ownDepartments: true,
      ...(rule ? { rule } : {}),
      ...(options.now ? { now: options.now } : {}),
      onProgress: (step) => progress(`${f.name}: ${step}`),
    });
    districts.push(summary);
    progress(`${f.name}: ${summary.grids} grids, ${summary.households} households (${(summary.ms / 1000).toFixed(0)} s)`);
  }
  // The plan's departments the counties' own bureaus stand beside take no county's cases by default any more: a hotline
  // order of 治安 in 麒麟区 goes to 麒麟区公安局, not to it as well (it stays, for the centre to call in by hand).
  await db.query(
    `DELETE FROM category_department cd USING department p
     WHERE cd.department_id = p.id AND p.region_id IS NULL AND p.code = ANY($1::text[])
       AND EXISTS (SELECT 1 FROM department o WHERE o.region_id IS NOT NULL AND o.code LIKE p.code || '\\_%')`,
    [COUNTY_BUREAUS.map((b) => b.code)],
  );
  // The plan's departments are the city's own bureaus, named as the city names them: 市公安局 beside 麒麟区公安局 (公安
  // beside 麒麟区公安局 read as the same one twice).
  await db.query(
    `UPDATE department d SET zh = m.zh, region_id = $1, version = d.version + 1
     FROM unnest($2::text[], $3::text[]) AS m(code, zh) WHERE d.code = m.code AND d.region_id IS NULL`,
    [cityId, Object.keys(CITY_BUREAUS), Object.values(CITY_BUREAUS)],
  );
  // The city's own figures: each district recorded the regions there were when it was seeded.
  await db.transaction(async (tx) => {
    await tx.query('DELETE FROM plan_figure WHERE region_id = $1', [cityId]);
    const now = options.now ?? new Date();
    await recordPlanFigures(tx, cstDay(now));
    // A month ago, the city was what its districts were then (each recorded its own, with the grids it had
    // no worker for yet): their sum, not today's plan again.
    await tx.query(
      `INSERT INTO plan_figure (day, region_id, grids, staffed, workers, households, passing, passing_households, passing_area, area)
       SELECT day, $1, sum(grids), sum(staffed), sum(workers), sum(households), sum(passing), sum(passing_households), sum(passing_area), sum(area)
       FROM plan_figure WHERE day = $2::date AND region_id IN (SELECT id FROM region WHERE parent_id = $1) GROUP BY day
       ON CONFLICT (region_id, day) DO UPDATE SET grids = EXCLUDED.grids, staffed = EXCLUDED.staffed, workers = EXCLUDED.workers,
         households = EXCLUDED.households,
         passing = EXCLUDED.passing, passing_households = EXCLUDED.passing_households, passing_area = EXCLUDED.passing_area, area = EXCLUDED.area`,
      [cityId, cstDay(new Date(now.getTime() - 30 * 86_400_000))],
    );
  });
  return {
    cityId,
    districts,
    grids: districts.reduce((a, d) => a + d.grids, 0),
    households: districts.reduce((a, d) => a + d.households, 0),
    ms: Math.round(performance.now() - started),
  };
}
