import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { LRUCache } from 'lru-cache';
import { commitImport, MAX_PROBLEMS, planImport, type ImportOutcome, type ImportRow, type ImportSpec } from '../db/import-plan.ts';
import { crsChoices, crsHintedByName, gkByMeridian, guessCrs, isKnownCrs, isLonLat, type CrsCode } from '../domain/crs.ts';
import { InputError } from '../domain/errors.ts';
import { FIELD_ROLES, guessFields, IMPORT_KINDS, KIND_CAPABILITY, KIND_ROLES, type FieldRole, type ImportKind } from '../domain/import-fields.ts';
import { can } from '../domain/roles.ts';
import { ImportJobs, type ImportJob } from '../files/jobs.ts';
import { inspectFile, readLayer } from '../files/read.ts';
import { writeLayers } from '../files/write.ts';
import zhCN from '../../web/lib/locales/zh-CN.json' with { type: 'json' };
import { limited } from '../http/heavy.ts';
import { actorOf, assertPlanScope, assertUnscoped, principalOf } from '../http/auth.ts';
import { ndjson, wantsStream } from '../http/ndjson.ts';
import { nowOf, router, type Env } from '../http/router.ts';
import { errorResponses, json } from './schemas.ts';

const JobId = z.object({
  id: z
    .string()
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' }, example: '3f6c0a52-8d4e-4d36-9a55-2f7d1b0e9c11' }),
});

const Layer = z.object({
  name: z.string(),
  geometryType: z.string().nullable(),
  count: z.number().int(),
  fields: z.array(z.string()),
  crs: z.string().nullable().openapi({ description: 'the system the file declares (EPSG:n), or null' }),
  encoding: z.string().nullable(),
  headerRow: z.number().int().nullable(),
  levels: z
    .array(z.string())
    .optional()
    .openapi({ description: 'shapes with a level field (层级, level): the levels its first features name (GridPlan’s own export)' }),
  sampleBox: z.tuple([z.number(), z.number(), z.number(), z.number()]).optional().openapi({
    description: 'shapes that declare no system: the box of the first shapes’ numbers as they stand (what they look like: lon/lat, metres of a zone)',
  }),
  kind: z.enum(IMPORT_KINDS).openapi({ description: 'what the layer most likely is' }),
});

const Job = z
  .object({
    id: z.string(),
    fileName: z.string(),
    size: z.number().int(),
    format: z.string(),
    createdAt: z.string(),
    layers: z.array(Layer),
    warnings: z.array(z.object({ code: z.string(), message: z.string(), subject: z.string() })),
    crsChoices: z.array(z.object({ code: z.string(), zh: z.string(), en: z.string() })),
  })
  .openapi('ImportJob');

const Fields = z.partialRecord(z.enum(FIELD_ROLES), z.string().max(200));

const PlanBody = z
  .object({
    layer: z.string().min(1).max(200),
    kind: z.enum(IMPORT_KINDS),
    parentId: z
      .number()
      .int()
      .positive()
      .max(2 ** 31 - 1)
      .nullable(),
    fields: Fields.optional().openapi({ description: 'which field holds what; left out: guessed from the field names' }),
    crs: z.string().max(40).nullable().optional().openapi({ description: 'the coordinate system, over what the file declares (or where it declares none)' }),
    level: z
      .enum(['township', 'village'])
      .nullable()
      .optional()
      .openapi({
        description:
          'boundaries: the level they are at when deeper than the parent’s next (a county’s villages given the district): ' +
          'each goes into the region above it that holds most of it',
      }),
    repair: z.boolean().optional(),
    clip: z.boolean().optional(),
    replace: z
      .boolean()
      .optional()
      .openapi({ description: 'grids: replace the grids of every village the file’s grids go into (a revised layer; one operation, undone whole)' }),
    update: z.boolean().optional().openapi({
      description:
        'boundaries: a feature naming a region already under the parent (统计用区划代码, code, or name) gives it its outline; the others go in as new',
    }),
    fit: z.boolean().optional().openapi({
      description: 'with update: the regions below each one given its outline fitted to it (贴合边界, as POST /api/regions/:id/fit), in the same operation',
    }),
    partial: z.boolean().optional().openapi({ description: 'commit the good rows when others are refused' }),
    overwriteCorrected: z
      .boolean()
      .optional()
      .openapi({ description: 'households: the list’s head or phone over one a grid worker corrected by hand (else the correction is kept and listed)' }),
    categories: z
      .record(z.string().min(1).max(100), z.string().min(1).max(32))
      .refine((o) => Object.keys(o).length <= 200, 'at most 200 categories named')
      .optional()
      .openapi({ description: "incidents: the file's own category names → ours (its code), for those not recognised: 占道经营 → market" }),
    places: z
      .record(z.string().regex(/^(0|[1-9]\d{0,6})$/, 'a row number (no leading zeros)'), z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]))
      .refine((o) => Object.keys(o).length <= 1_000, 'at most 1,000 rows placed by hand at once')
      .optional()
      .openapi({ description: 'households or incidents placed on the map by hand: row index → [lon, lat] (WGS 84); over coordinates and address' }),
  })
  .strict();

const Problem = z.object({
  index: z.number().int(),
  code: z.string(),
  message: z.string(),
  path: z.string(),
  subject: z.string().optional(),
  areaM2: z.number().optional().openapi({ description: 'an outline over its parent’s (`outside_parent`, `overhangs_parent`): the area outside it' }),
  share: z.number().optional().openapi({ description: 'that area’s share of the outline, 0–1 (under 0.1: `overhangs_parent`, cut back with `clip`)' }),
});

const Outcome = z
  .object({
    kind: z.enum(IMPORT_KINDS),
    total: z.number().int(),
    accepted: z.number().int(),
    problems: z.array(Problem),
    problemCounts: z.record(z.string(), z.number().int()),
    regions: z.unknown().optional(),
    households: z
      .object({
        added: z.number().int(),
        updated: z.number().int(),
        unchanged: z.number().int().optional().openapi({ description: 'households the list finds as they are' }),
        kept: z
          .object({
            count: z.number().int(),
            overwritten: z.boolean(),
            rows: z.array(
              z.object({
                address: z.string(),
                head: z.string(),
                phone: z.string(),
                listHead: z.string().nullable(),
                listPhone: z.string().nullable(),
                by: z.string().nullable(),
                at: z.string(),
              }),
            ),
          })
          .optional()
          .openapi({ description: 'households whose head or phone a grid worker corrected by hand and the list would change: kept unless overwriteCorrected' }),
        atDoor: z
          .number()
          .int()
          .optional()
          .openapi({ description: 'of those added, placed at a door the region has, only the flat being new (69号5栋1单元301 at 69号)' }),
        addressExample: z
          .string()
          .nullable()
          .optional()
          .openapi({ description: 'when no address of the file was found: one of the region’s own, to show how they are written (null: it has none)' }),
        outOfRange: z
          .object({
            count: z.number().int(),
            grids: z.array(
              z.object({
                name: z.string(),
                gridType: z.string(),
                before: z.number().int(),
                households: z.number().int(),
                min: z.number().int(),
                max: z.number().int(),
              }),
            ),
          })
          .optional()
          .openapi({ description: 'grids the new households take out of their district’s range for their type (checked for lists of up to 20,000 new ones)' }),
      })
      .optional(),
    incidents: z.object({ imported: z.number().int() }).optional(),
    staff: z
      .object({
        assigned: z.number().int(),
        grids: z.number().int(),
        newWorkers: z.number().int(),
        blank: z.number().int().openapi({ description: 'rows naming nobody and no phone (a roster’s lines left to fill): passed over, not in `total`' }),
        displaced: z
          .array(
            z.object({
              grid: z.string(),
              role: z.string(),
              roleEn: z.string(),
              was: z.array(z.string()),
              now: z.string(),
              replaces: z.boolean().openapi({ description: 'true: the grid’s full-time worker is replaced; false: a second holder of the role is added' }),
            }),
          )
          .openapi({ description: 'rows giving a role someone already holds in that grid (at most 200; `displacedCount` counts them all)' }),
        displacedCount: z.number().int(),
      })
      .optional(),
    departments: z
      .object({
        added: z.number().int(),
        updated: z.number().int(),
        unchanged: z.number().int(),
        change: z.number().int().nullable(),
        similar: z
          .array(z.object({ name: z.string(), like: z.string() }))
          .openapi({ description: 'new departments named like one already there (消防 beside 消防救援): most often the same one written another way' }),
      })
      .optional()
      .openapi({ description: 'a department list: one settings change (`change`), undone by POST /api/settings/changes/{change}/undo' }),
    barriers: z
      .object({
        imported: z.number().int(),
        classes: z.record(z.string(), z.number().int()),
        clipped: z.number().int().openapi({ description: 'lines cut at the edge of the region: only their part inside it is kept' }),
      })
      .optional(),
    located: z
      .array(z.object({ i: z.number().int(), lon: z.number(), lat: z.number(), how: z.enum(['exact', 'normalized', 'building', 'candidate']) }))
      .optional()
      .openapi({ description: 'where addresses put rows without coordinates, and the households an ambiguous one fits (first 3,000)' }),
    shift: z
      .object({ rows: z.number().int(), metres: z.number(), suggest: z.string().nullable(), after: z.number().nullable() })
      .optional()
      .openapi({
        description:
          'households: rows whose address found a household lie this far (median, m) from it by their own coordinates; ' +
          '`suggest`: the coordinate system that brings them together',
      }),
    op: z.number().int().nullable(),
  })
  .openapi('ImportOutcome');

const Plan = z
  .object({
    fields: Fields,
    crs: z.object({
      declared: z.string().nullable(),
      used: z.string().nullable(),
      guessed: z.boolean(),
      suggest: z.string().nullable().optional().openapi({
        description: 'every row far outside the parent in a Gauss–Krüger zone: the zone that would put them there (a .prj naming the wrong zone)',
      }),
    }),
    sample: z.array(z.record(z.string(), z.unknown())),
    preview: z.unknown().openapi({ description: 'a GeoJSON FeatureCollection of the first rows in lon/lat, with `i` (row) and `problem` (its code)' }),
    outcome: Outcome,
  })
  .openapi('ImportPlan');

const uploadRoute = createRoute({
  method: 'post',
  path: '/imports',
  summary: 'Upload a file to import: Shapefile (zip), GeoPackage, KML/KMZ, GeoJSON, CSV or Excel (.xlsx)',
  description:
    'The body is the file itself; `x-file-name` (URI-encoded) names it. Answers what GDAL finds in it: layers with geometry type, count, fields and declared ' +
    'coordinate system. Kept a day, for the person who sent it.',
  request: { body: { required: true, content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } } },
  responses: { 201: { description: 'Read', ...json(Job) }, ...errorResponses(400, 403, 413, 415, 422) },
});

const getRoute = createRoute({
  method: 'get',
  path: '/imports/{id}',
  summary: 'An uploaded file and its layers',
  request: { params: JobId },
  responses: { 200: { description: 'The file', ...json(Job) }, ...errorResponses(404) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/imports/{id}',
  summary: 'Drop an uploaded file',
  request: { params: JobId },
  responses: { 204: { description: 'Dropped' }, ...errorResponses(404) },
});

const planRoute = createRoute({
  method: 'post',
  path: '/imports/{id}/plan',
  summary: 'What importing a layer would do: the validation report and a preview; nothing is written',
  request: { params: JobId, body: { required: true, ...json(PlanBody) } },
  responses: { 200: { description: 'The report', ...json(Plan) }, ...errorResponses(400, 403, 404, 422) },
});

const commitRoute = createRoute({
  method: 'post',
  path: '/imports/{id}/commit',
  summary: 'Import a layer: one transaction, one operation that POST /api/changes/undo takes back',
  description: 'Refused (nothing written) when any row cannot go in, unless `partial`. With `Accept: application/x-ndjson`, progress lines then the result.',
  request: { params: JobId, body: { required: true, ...json(PlanBody) } },
  responses: { 201: { description: 'Imported', ...json(Outcome) }, ...errorResponses(400, 403, 404, 409, 422) },
});

const leftOutRoute = createRoute({
  method: 'get',
  path: '/imports/{id}/left-out',
  summary: 'The rows the last check or import of the file left out, each with why',
  description:
    'Every row of the layer last checked or imported that had a problem, with all its fields as the file has them, after three columns: ' +
    '原行号 (where it is in the file: the sheet’s row, the CSV’s line or the feature’s number), 问题 (the problems in Chinese) and problem (in English). ' +
    'A layer without shapes (an Excel or CSV list) comes back as a workbook to fix and import again; one with shapes as a GeoPackage in WGS 84.',
  request: { params: JobId },
  responses: {
    200: {
      description: 'The rows',
      content: {
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': { schema: z.string().openapi({ format: 'binary' }) },
        'application/geopackage+sqlite3': { schema: z.string().openapi({ format: 'binary' }) },
      },
    },
    ...errorResponses(404),
  },
});

/** The rows a layer's last check or import left out, kept beside the file for their download: [row, code, subject, message]. */
interface LeftOut {
  layer: string;
  crs: string | null;
  problems: [number, string, string, string][];
}

/** What an answer lists of an outcome: its first problems (the counts are of all). */
const listed = (o: ImportOutcome): ImportOutcome => (o.problems.length > MAX_PROBLEMS ? { ...o, problems: o.problems.slice(0, MAX_PROBLEMS) } : o);

/** The problems' words in Chinese, as the wizard shows them (the code's words, then what the file wrote). */
const PROBLEM_ZH: Record<string, string> = zhCN.import.code;

/** What a layer most likely is, from its geometry and field names. */
function guessKind(l: { geometryType: string | null; fields: string[]; levels?: string[] }): ImportKind {
  const g = (l.geometryType ?? '').toLowerCase();
  // a layer that says its level (GridPlan's own export: 层级): grids, or boundaries whatever other columns it has
  if (l.levels?.length) return l.levels.every((v) => /^(grid|网格)$/i.test(v)) ? 'grid' : 'boundary';
  const has = (kind: ImportKind, role: FieldRole) => guessFields(kind, l.fields)[role] !== undefined;
  if (g.includes('line')) return 'barrier';
  // a layer mixing shapes (GDAL: "Geometry") is most often polygons with a stray line or point: read as boundaries, whose check names the strays
  if (g.includes('polygon') || g === 'geometry' || g.startsWith('unknown') || g === 'geometrycollection')
    // (a field named for grids — 网格类型, 网格编码, wglx —, not a bare 类型: a township layer says 街道 or 镇 in one)
    return l.fields.some((f) => /网格|wg|grid/i.test(f)) ? 'grid' : 'boundary';
  // a department list (部门名称, 联系人, 联系电话): named for departments, with no address or grid (a household register's 工作单位 is not one)
  const departmentName = guessFields('department', l.fields).name;
  if (!g && departmentName && /部门|单位|科室/.test(departmentName) && !has('household', 'address') && !has('staff', 'grid')) return 'department';
  // a household list has addresses and sizes (GridPlan's own export also names each household's grid, head and phone)
  if (has('household', 'address') && has('household', 'size')) return 'household';
  // a roster names the grid each person serves (or their role); a household register has names and phones too
  if (has('staff', 'person') && has('staff', 'grid') && (has('staff', 'phone') || has('staff', 'role'))) return 'staff';
  if (has('incident', 'category')) return 'incident';
  return 'household';
}

const jobJson = (job: ImportJob) => ({
  id: job.id,
  fileName: job.fileName,
  size: job.size,
  format: job.format,
  createdAt: job.createdAt,
  layers: job.layers.map((l) => ({ ...l, kind: guessKind(l) })),
  warnings: job.warnings,
  crsChoices: crsChoices(),
});

/**
 * Most rows one import reads (GRIDPLAN_MAX_IMPORT_ROWS): a county's households (Zhanyi: about 130,000)
 * fit; a layer beyond it is refused before it is read, so a million-row CSV never fills memory. The
 * upload counts rows as GDAL streams through the file and says so at once.
 */
export const DEFAULT_IMPORT_ROWS = 300_000;
/** Most rows of a department list (a county has dozens of departments). */
export const MAX_DEPARTMENT_ROWS = 1_000;
const rowLimit = (c: Context<Env>) => c.get('options').limits?.importRows ?? DEFAULT_IMPORT_ROWS;

function assertRowLimit(c: Context<Env>, job: ImportJob, layer: { name: string; count: number }): void {
  const max = rowLimit(c);
  if (layer.count > max) {
    throw new InputError(
      'too_many_rows',
      `${job.fileName}: layer ${layer.name} has ${layer.count.toLocaleString('en')} rows; ` +
        `one import takes at most ${max.toLocaleString('en')} — split the file (by township, say) and import each part`,
      'layer',
      { rows: layer.count, limit: max },
    );
  }
}

/** Rows of a layer as read in one system, kept while the clerk adjusts the mapping (GDAL takes a second or so each time). */
const readCache = new LRUCache<string, { rows: ImportRow[]; crs: CrsCode | null; guessed: boolean; declared: CrsCode | null }>({ max: 4 });

function bboxOf(rows: ImportRow[]): [number, number, number, number] | null {
  let b: [number, number, number, number] | null = null;
  const visit = (c: unknown): void => {
    if (typeof (c as number[])[0] === 'number') {
      const [x, y] = c as [number, number];
      b = b ? [Math.min(b[0], x), Math.min(b[1], y), Math.max(b[2], x), Math.max(b[3], y)] : [x, y, x, y];
    } else (c as unknown[]).forEach(visit);
  };
  for (const r of rows.slice(0, 5_000)) if (r.geometry && 'coordinates' in r.geometry) visit(r.geometry.coordinates);
  return b;
}

async function parentCentre(c: Context<Env>, parentId: number | null): Promise<[number, number] | undefined> {
  if (parentId === null) return undefined;
  const { rows } = await c
    .get('db')
    .query<{ x: number; y: number }>('SELECT ST_X(ST_Centroid(geom)) AS x, ST_Y(ST_Centroid(geom)) AS y FROM region WHERE id = $1', [parentId]);
  return rows[0] ? [rows[0].x, rows[0].y] : undefined;
}

/**
 * A file read in a Gauss–Krüger zone (without the zone's number in its eastings) whose every row lies far east or west of
 * its parent: the zone its eastings belong to. A .prj naming the wrong zone moves a layer by the zones' distance apart
 * (嘉峪关 at 99°E read in the 108°E zone lands 800 km east) while the eastings stay true to their own meridian.
 */
async function zoneThatFits(
  c: Context<Env>,
  read: { rows: ImportRow[]; crs: CrsCode | null },
  outcome: ImportOutcome,
  parentId: number | null | undefined,
): Promise<string | null> {
  const code = Number(/^EPSG:(\d+)$/.exec(read.crs ?? '')?.[1]);
  const placing = ['outside_parent', 'no_village', 'no_township', 'no_district'];
  if (!(code >= 4534 && code <= 4554) || outcome.accepted > 0 || !placing.some((k) => outcome.problemCounts[k])) return null;
  const near = await parentCentre(c, parentId ?? null);
  const box = bboxOf(read.rows);
  if (!near || !box) return null;
  const shift = Math.round(((box[0] + box[2]) / 2 - near[0]) / 3) * 3;
  const meridian = 75 + (code - 4534) * 3 - shift;
  return shift !== 0 && meridian >= 75 && meridian <= 135 && Math.abs((box[1] + box[3]) / 2 - near[1]) < 3 ? `EPSG:${gkByMeridian(meridian)}` : null;
}

/** A layer's rows in lon/lat: in the system chosen, else the declared one, else the one its numbers suggest. */
async function rowsOf(c: Context<Env>, jobs: ImportJobs, job: ImportJob, body: z.infer<typeof PlanBody>, fields: Partial<Record<FieldRole, string>>) {
  const layer = job.layers.find((l) => l.name === body.layer);
  if (!layer) throw new InputError('unknown_layer', `${job.fileName} has no layer ${JSON.stringify(body.layer)}`, 'layer');
  assertRowLimit(c, job, layer);
  // a county's departments are dozens (Yumen's 37); a list of thousands is no department list
  if (body.kind === 'department' && layer.count > MAX_DEPARTMENT_ROWS)
    throw new InputError(
      'too_many_rows',
      `${job.fileName}: layer ${layer.name} has ${layer.count.toLocaleString('en')} rows; ` +
        `a department list takes at most ${MAX_DEPARTMENT_ROWS.toLocaleString('en')}`,
      'layer',
      { rows: layer.count, limit: MAX_DEPARTMENT_ROWS },
    );
  if (body.crs && !isKnownCrs(body.crs)) throw new InputError('unknown_crs', `${body.crs} is none of the coordinate systems offered`, 'crs');
  const key = `${job.id}|${body.layer}|${body.crs ?? ''}|${fields.lon ?? ''}|${fields.lat ?? ''}`;
  const hit = readCache.get(key);
  if (hit) return hit;
  const bytes = await jobs.bytes(job);
  const read = (crs: CrsCode | null) => readLayer(job.id, job.fileName, bytes, body.layer, { crs, lon: fields.lon, lat: fields.lat });
  let { rows, crs } = await read(body.crs ?? null).catch(async (err: unknown) => {
    // numbers that do not fit the system declared or chosen: say which one they look like
    if (!(err instanceof InputError) || err.code !== 'crs_mismatch') throw err;
    const box = (err.details as { box?: [number, number, number, number] }).box;
    // the system the numbers look like; when GDAL could not read them at all in the one chosen, the file's own
    const guess = box ? guessCrs(box, await parentCentre(c, body.parentId)) : null;
    const suggest = guess ?? (layer.crs && layer.crs !== body.crs ? layer.crs : null);
    if (!suggest) throw err;
    const crs = (err.details as { crs: string }).crs;
    throw new InputError('crs_mismatch', `${err.message} (the numbers look like ${suggest})`, 'crs', { crs, suggest });
  });
  let guessed = false;
  const box = bboxOf(rows);
  // Numbers that are not lon/lat while no system was named: guess one (a Gauss–Krüger zone) and read again.
  if (!body.crs && box && (crs === null || isLonLat(crs)) && guessCrs(box) !== 'EPSG:4326') {
    const guess = guessCrs(box, await parentCentre(c, body.parentId));
    if (guess && guess !== 'EPSG:4326') {
      ({ rows, crs } = await read(guess));
      guessed = true;
    }
  }
  // Lon/lat that says nothing of its datum, in a file named for Baidu's or Amap's points (…-bd09.csv, 高德坐标.xlsx),
  // or in columns so named (高德经度, bd_lng, lng_gcj02): read in that system, and said to be a guess — PROJ cannot tell
  // them apart, they lie hundreds of metres off WGS 84, and in a township without households no address shows the shift.
  const names = `${job.fileName} ${fields.lon ?? ''} ${fields.lat ?? ''}`;
  const hinted = crsHintedByName(names);
  // (GeoJSON always "declares" WGS 84, RFC 7946: a name saying otherwise is the only word a file of Amap's points has)
  const undeclared = layer.crs === null || (job.format === 'geojson' && layer.crs === 'EPSG:4326');
  if (!body.crs && !guessed && undeclared && hinted && box && guessCrs(box) === 'EPSG:4326') {
    ({ rows, crs } = await read(hinted));
    guessed = true;
  }
  const value = { rows, crs, guessed, declared: layer.crs };
  readCache.set(key, value);
  return value;
}

/** The first rows' values, for guessing which field holds what (12-digit codes…): 20 rows, not the layer. */
async function sampleOf(c: Context<Env>, jobs: ImportJobs, job: ImportJob, body: z.infer<typeof PlanBody>): Promise<Record<string, unknown>[]> {
  const layer = job.layers.find((l) => l.name === body.layer);
  if (!layer) throw new InputError('unknown_layer', `${job.fileName} has no layer ${JSON.stringify(body.layer)}`, 'layer');
  assertRowLimit(c, job, layer);
  const { rows } = await readLayer(job.id, job.fileName, await jobs.bytes(job), body.layer, { crs: null, limit: 20 });
  return rows.map((r) => r.properties);
}

function specOf(body: z.infer<typeof PlanBody>, fields: Partial<Record<FieldRole, string>>, rows: number, crs: string | null = null): ImportSpec {
  const places = new Map<number, [number, number]>();
  for (const [k, p] of Object.entries(body.places ?? {})) {
    const i = Number(k);
    if (i >= rows) throw new InputError('unknown_row', `the layer has ${rows} rows; there is no row ${i + 1} to place`, `places.${k}`);
    places.set(i, p);
  }
  if (places.size > 0 && body.kind !== 'household' && body.kind !== 'incident') {
    throw new InputError('not_placeable', 'only households and incidents are placed by hand', 'places');
  }
  return {
    kind: body.kind,
    parentId: body.parentId,
    fields,
    repair: body.repair ?? false,
    clip: body.clip ?? false,
    partial: body.partial ?? false,
    replace: body.replace ?? false,
    update: body.kind === 'boundary' ? (body.update ?? false) : false,
    fit: body.kind === 'boundary' && body.update === true && body.fit === true,
    overwriteCorrected: body.overwriteCorrected ?? false,
    ...(body.categories && body.kind === 'incident' ? { categories: new Map(Object.entries(body.categories)) } : {}),
    level: body.kind === 'boundary' ? (body.level ?? null) : null,
    places,
    crs,
  };
}

/** The caller may import this kind of layer into this region. */
async function assertMayImport(c: Context<Env>, body: z.infer<typeof PlanBody>): Promise<void> {
  const p = principalOf(c);
  if (!can(p.role, KIND_CAPABILITY[body.kind])) {
    throw new InputError(
      'forbidden',
      `your role may not import ${body.kind === 'household' ? 'households' : body.kind === 'incident' ? 'incidents' : 'the plan'}`,
      'kind',
    );
  }
  if (body.parentId === null) assertUnscoped(c, body.kind === 'boundary' ? 'a new district' : 'the whole plan');
  else await assertPlanScope(c, [body.parentId], false, 'parentId');
}

function mapping(body: z.infer<typeof PlanBody>, fieldsOfLayer: string[], sample: Record<string, unknown>[]): Partial<Record<FieldRole, string>> {
  const fields = body.fields ?? guessFields(body.kind, fieldsOfLayer, sample);
  for (const [role, f] of Object.entries(fields)) {
    if (!KIND_ROLES[body.kind].roles.includes(role as FieldRole)) delete fields[role as FieldRole];
    else if (f && !fieldsOfLayer.includes(f)) throw new InputError('unknown_field', `the layer has no field ${JSON.stringify(f)}`, `fields.${role}`);
  }
  for (const role of KIND_ROLES[body.kind].required) {
    if (!fields[role]) throw new InputError('missing_field', `choose the field that holds the ${role}`, `fields.${role}`);
  }
  return fields;
}

export function importRoutes() {
  const jobsOf = (c: Context<Env>) => new ImportJobs(c.get('options').importDir ?? join(tmpdir(), 'gridplan-imports'));
  const who = (c: Context<Env>) => {
    const p = principalOf(c);
    return { username: p.username, role: p.role };
  };
  return router()
    .openapi(uploadRoute, async (c) => {
      const body = c.req.raw.body;
      if (!body) throw new InputError('empty_file', 'the file is empty', 'file');
      let name = 'upload';
      try {
        name = decodeURIComponent(c.req.header('x-file-name') ?? 'upload');
      } catch {
        throw new InputError('invalid_file_name', 'x-file-name is not URI-encoded text', 'x-file-name');
      }
      const max = c.get('options').maxUploadBytes ?? 200 * 1024 * 1024;
      const job = await jobsOf(c).create(actorOf(c), name, body, max, (id, bytes) => inspectFile(id, name, bytes));
      const limit = rowLimit(c);
      const over = job.layers
        .filter((l) => l.count > limit)
        .map((l) => ({
          code: 'too_many_rows' as const,
          message:
            `layer ${l.name} has ${l.count.toLocaleString('en')} rows; ` +
            `one import takes at most ${limit.toLocaleString('en')} — split the file (by township, say)`,
          subject: l.name,
        }));
      return c.json(jobJson({ ...job, warnings: [...job.warnings, ...over] }), 201);
    })
    .openapi(getRoute, async (c) => c.json(jobJson(await jobsOf(c).get(c.req.valid('param').id, who(c))), 200))
    .openapi(deleteRoute, async (c) => {
      const jobs = jobsOf(c);
      const job = await jobs.get(c.req.valid('param').id, who(c));
      await jobs.drop(job.id);
      return c.body(null, 204);
    })
    .openapi(planRoute, async (c) => {
      const body = c.req.valid('json');
      await assertMayImport(c, body);
      const jobs = jobsOf(c);
      const job = await jobs.get(c.req.valid('param').id, who(c));
      const layer = job.layers.find((l) => l.name === body.layer);
      if (!layer) throw new InputError('unknown_layer', `${job.fileName} has no layer ${JSON.stringify(body.layer)}`, 'layer');
      // Guessed fields need a look at the values (12-digit codes): the first rows.
      const fields = mapping(body, layer.fields, body.fields ? [] : await sampleOf(c, jobs, job, body));
      const read = await rowsOf(c, jobs, job, body, fields);
      const spec = specOf(body, fields, read.rows.length, read.crs);
      const all = await planImport(c.get('db'), read.rows, spec, {
        actor: actorOf(c),
        now: nowOf(c),
        maxVertices: c.get('options').limits?.importVertices,
      });
      await keepLeftOut(jobs, job, body, read.crs, all);
      const outcome = listed(all);
      const problemOf = new Map(outcome.problems.map((p) => [p.index, p.code]));
      // Each row where it will go: its own geometry, the point placed by hand, or the household its address names.
      const point = (p: [number, number]) => ({ type: 'Point', coordinates: p });
      // A feature refused for its size, or past a million vertices in all, is previewed as its box (a browser draws it; 40 MB of JSON it would not).
      let budget = 1_000_000;
      const shown = (g: GeoJSON.Geometry, problem: string | undefined): GeoJSON.Geometry => {
        const [n, box] = extentOf(g);
        if (problem !== 'geometry_too_large' && (budget -= n) >= 0) return g;
        const [x0, y0, x1, y1] = box;
        return {
          type: 'Polygon',
          coordinates: [
            [
              [x0, y0],
              [x1, y0],
              [x1, y1],
              [x0, y1],
              [x0, y0],
            ],
          ],
        };
      };
      const preview = {
        type: 'FeatureCollection',
        features: [
          ...read.rows.slice(0, 3_000).flatMap((r, i) => {
            const placed = spec.places?.get(i);
            const geometry = placed ? point(placed) : r.geometry && shown(r.geometry, problemOf.get(i));
            // (a shape with its name, as the file writes it: the map names the file's grids over the ones they replace)
            const name = !placed && fields.name ? String(r.properties[fields.name] ?? '').slice(0, 40) : '';
            return geometry
              ? [{ type: 'Feature', geometry, properties: { i, problem: problemOf.get(i) ?? null, how: placed ? 'placed' : 'own', ...(name ? { name } : {}) } }]
              : [];
          }),
          ...(outcome.located ?? []).map((l) => ({
            type: 'Feature',
            geometry: point([l.lon, l.lat]),
            properties: { i: l.i, problem: problemOf.get(l.i) ?? null, how: l.how },
          })),
        ],
      };
      const suggest = await zoneThatFits(c, read, outcome, body.parentId);
      return c.json(
        {
          fields,
          crs: { declared: read.declared, used: read.crs, guessed: read.guessed, ...(suggest ? { suggest } : {}) },
          sample: read.rows.slice(0, 20).map((r) => r.properties),
          preview,
          outcome,
        },
        200,
      );
    })
    .openapi(commitRoute, async (c) => {
      const body = c.req.valid('json');
      await assertMayImport(c, body);
      const jobs = jobsOf(c);
      const job = await jobs.get(c.req.valid('param').id, who(c));
      const layer = job.layers.find((l) => l.name === body.layer);
      if (!layer) throw new InputError('unknown_layer', `${job.fileName} has no layer ${JSON.stringify(body.layer)}`, 'layer');
      const fields = mapping(body, layer.fields, body.fields ? [] : await sampleOf(c, jobs, job, body));
      const run = async (onProgress: (p: unknown) => void | Promise<void>) => {
        const read = await rowsOf(c, jobs, job, body, fields);
        const all = await commitImport(c.get('db'), read.rows, specOf(body, fields, read.rows.length, read.crs), {
          actor: actorOf(c),
          now: nowOf(c),
          maxVertices: c.get('options').limits?.importVertices,
          onProgress,
        });
        await keepLeftOut(jobs, job, body, read.crs, all);
        return listed(all);
      };
      if (!wantsStream(c)) return c.json(await run(() => {}), 201);
      return ndjson(c, 201, (send) => run(send)) as never;
    })
    .openapi(leftOutRoute, async (c) => {
      const jobs = jobsOf(c);
      const job = await jobs.get(c.req.valid('param').id, who(c));
      const kept = await jobs.kept<LeftOut>(job, 'left-out');
      const layer = kept && job.layers.find((l) => l.name === kept.layer);
      if (!kept || !layer || kept.problems.length === 0) {
        throw new InputError('not_found', `no row of ${job.fileName} was left out by its last check or import`, 'id');
      }
      const file = await limited(c, async () => {
        const { rows } = await readLayer(job.id, job.fileName, await jobs.bytes(job), kept.layer, { crs: kept.crs as CrsCode | null });
        // where each row is in the file, as the wizard says it: a sheet's row, a CSV's line, a feature's number
        const where = (i: number) => (job.format === 'xlsx' ? i + (layer.headerRow ?? 0) + 2 : job.format === 'csv' ? i + 2 : i + 1);
        const byRow = new Map<number, [string[], string[]]>();
        for (const [i, code, subject, message] of kept.problems) {
          if (!rows[i]) continue;
          const [zh, en] = byRow.get(i) ?? byRow.set(i, [[], []]).get(i)!;
          zh.push(`${PROBLEM_ZH[code] ?? code}${subject ? `：${subject}` : ''}`);
          en.push(message);
        }
        const shapes = rows.some((r) => r.geometry);
        const numeric = numericColumns([...byRow.keys()].map((i) => rows[i]!.properties));
        const value = (k: string, v: unknown) => (numeric.has(k) && typeof v === 'string' && v.trim() !== '' ? Number(v) : v);
        const out = [...byRow].map(([i, [zh, en]]) => ({
          // the file's own fields after ours; one of theirs named like ours keeps its value under its own name with a mark
          properties: {
            原行号: where(i),
            问题: zh.join('；'),
            problem: en.join('; '),
            ...Object.fromEntries(
              Object.entries(rows[i]!.properties).map(([k, v]) => [['原行号', '问题', 'problem'].includes(k) ? `${k}_原` : k, value(k, v)]),
            ),
          },
          geometry: shapes ? rows[i]!.geometry : null,
        }));
        return writeLayers(`left-out-${job.id}`, [{ name: 'left_out', sheet: '未导入', geometryType: null, rows: out }], {
          format: shapes ? 'gpkg' : 'xlsx',
          crs: 'EPSG:4326',
          encoding: 'UTF-8',
        });
      });
      const base = job.fileName.replace(/\.[^.]+$/, '');
      return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
        'content-type': file.type,
        'content-disposition': `attachment; filename="left-out.${file.ext}"; filename*=UTF-8''${rfc8187(`${base}-未导入.${file.ext}`)}`,
        'cache-control': 'no-store',
      });
    });
}

/**
 * The columns of a sheet (read as text, so that 0874 and 530303101000 stay as written) whose every
 * filled cell is a plain number (户数 12, 面积 3.5): they go back to the workbook as numbers, to sum
 * and sort. A leading zero, more than ten digits or a thousands comma keeps a column text.
 */
export function numericColumns(rows: Record<string, unknown>[]): Set<string> {
  const plain = /^-?(0|[1-9]\d{0,9})(\.\d+)?$/;
  const seen = new Map<string, boolean>();
  for (const r of rows)
    for (const [k, v] of Object.entries(r)) {
      if (v === null || v === undefined || (typeof v === 'string' && v.trim() === '')) continue;
      seen.set(k, (seen.get(k) ?? true) && (typeof v === 'number' || (typeof v === 'string' && plain.test(v.trim()))));
    }
  return new Set([...seen].filter(([, ok]) => ok).map(([k]) => k));
}

/** A header parameter value as RFC 8187 has it: percent-encoded UTF-8, `'()*` too. */
const rfc8187 = (s: string) => encodeURIComponent(s).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

/** Keeps the rows an outcome left out beside the file (the last check's or import's: a later one takes its place). */
async function keepLeftOut(jobs: ImportJobs, job: ImportJob, body: z.infer<typeof PlanBody>, crs: string | null, outcome: ImportOutcome): Promise<void> {
  const value: LeftOut = {
    layer: body.layer,
    crs,
    problems: outcome.problems.filter((p) => p.index >= 0).map((p) => [p.index, p.code, p.subject ?? '', p.message]),
  };
  await jobs.keep(job, 'left-out', value);
}

/** How many positions a geometry has, and its box. */
function extentOf(g: GeoJSON.Geometry): [number, [number, number, number, number]] {
  let n = 0;
  const box: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c: unknown): void => {
    if (!Array.isArray(c)) return;
    if (typeof c[0] === 'number') {
      n++;
      box[0] = Math.min(box[0], c[0]);
      box[1] = Math.min(box[1], c[1] as number);
      box[2] = Math.max(box[2], c[0]);
      box[3] = Math.max(box[3], c[1] as number);
    } else for (const x of c) walk(x);
  };
  if (g.type === 'GeometryCollection') for (const p of g.geometries) walk('coordinates' in p ? p.coordinates : []);
  else walk(g.coordinates);
  return [n, box];
}
