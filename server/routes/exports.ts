import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { comparePlans } from '../db/compare.ts';
import type { Queryable } from '../db/db.ts';
import {
  countIncidents,
  exportHouseholds,
  exportIncidents,
  exportRegions,
  outlineOf,
  overviewParts,
  planVersion,
  printSheets,
  regionPath,
} from '../db/export.ts';
import { regionAt, regionLevel } from '../db/region-queries.ts';
import { GRID_TYPE_NAMES, type GridType } from '../domain/grid-types.ts';
import { GCJ02, isKnownCrs } from '../domain/crs.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { can } from '../domain/roles.ts';
import { LEVELS, type Level } from '../domain/hierarchy.ts';
import { EXPORT_FORMATS, householdLayer, incidentLayer, LEVEL_ZH, writeExport, writeLayers, type ExportFormat } from '../files/write.ts';
import { limited } from '../http/heavy.ts';
import { nowOf, router, type Env } from '../http/router.ts';
import { areaRegion, principalOf } from '../http/auth.ts';
import { FilterQuery, filterOf } from './incidents.ts';
import { categoryCodes } from '../db/incidents.ts';
import { listDepartments } from '../db/settings.ts';
import { CompareQuery, sideOf } from './compare.ts';
import { errorResponses, IdParam } from './schemas.ts';

/** At most this many incidents in one file: a year of a county's reports, several times over. */
export const INCIDENT_EXPORT_LIMIT = 200_000;

const CrsQuery = {
  crs: z.string().max(16).optional().openapi({ description: 'EPSG:4326 (default), EPSG:4490, a CGCS2000 Gauss–Krüger zone (EPSG:4513–4554) or GCJ-02' }),
  encoding: z.enum(['utf-8', 'gbk']).optional().openapi({ description: 'Shapefile text (default UTF-8; GBK for older desktop GIS)' }),
};

function crsOf(crs: string | undefined): string {
  const c = crs ?? 'EPSG:4326';
  if (c !== GCJ02 && (!isKnownCrs(c) || c === 'BD-09')) throw new InputError('unknown_crs', `${c} is not a system exports are written in`, 'crs');
  return c;
}

const options = (q: { format: ExportFormat; crs?: string | undefined; encoding?: 'utf-8' | 'gbk' | undefined }) => ({
  format: q.format,
  crs: crsOf(q.crs),
  encoding: q.encoding === 'gbk' ? ('GBK' as const) : ('UTF-8' as const),
});

/** A header parameter value as RFC 8187 has it: percent-encoded UTF-8, `'()*` too. */
const rfc8187 = (s: string) => encodeURIComponent(s).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

/** A file's name says its coordinate system when it is not WGS 84 (石箐村-网格-GCJ02.geojson): a CSV cannot say it inside. */
const crsSuffix = (crs: string | undefined) =>
  !crs || crs === 'EPSG:4326' ? '' : crs === GCJ02 ? '-GCJ02' : crs === 'EPSG:4490' ? '-CGCS2000' : `-${crs.replace(':', '')}`;

/** The file as a download named for what it holds (the ASCII name for old clients, the Chinese one in filename*). */
function download(c: Context<Env>, file: { bytes: Uint8Array; ext: string; type: string }, base: string, crs?: string) {
  const name = `${base}${file.ext === 'kml' ? '' : crsSuffix(crs)}`;
  return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
    'content-type': file.type,
    'content-disposition': `attachment; filename="export.${file.ext}"; filename*=UTF-8''${rfc8187(`${name}.${file.ext}`)}`,
    'cache-control': 'no-store',
  });
}

const job = () => `export-${randomUUID()}`;

/** Categories' Chinese names, in the order given. */
async function categoryNames(db: Queryable, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string; zh: string }>('SELECT code, zh FROM incident_category WHERE code = ANY($1::text[])', [codes]);
  return codes.map((x) => rows.find((r) => r.code === x)?.zh ?? x);
}

const regionExportRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/export',
  summary: 'The region and the levels below it as a file: GeoJSON, Shapefile (zip), GeoPackage, KML, CSV or Excel',
  description:
    'Attributes: code, stat_code (统计用区划代码), name, level, parent code and name, grid type, households, area in m², the full-time worker and phone, ' +
    'the other staff, whether a grid passes its rules. Excel: a sheet per level with Chinese headers and the staff roster. ' +
    'Households leave as counts per grid (their points: /regions/{id}/households/export). KML is always WGS 84.',
  request: {
    params: IdParam,
    query: z.object({
      format: z.enum(EXPORT_FORMATS),
      levels: z
        .string()
        .max(64)
        .optional()
        .openapi({ description: 'comma-separated: district, township, village, grid (default: every level below the region)' }),
      ...CrsQuery,
    }),
  },
  responses: { 200: { description: 'The file' }, ...errorResponses(400, 404, 422) },
});

const householdExportRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/households/export',
  summary:
    'The households within a region as points, with their size, address and grid (roles that may read households); head (户主) and phone for planners and admins',
  request: { params: IdParam, query: z.object({ format: z.enum(EXPORT_FORMATS), ...CrsQuery }) },
  responses: { 200: { description: 'The file' }, ...errorResponses(400, 403, 404, 422) },
});

const incidentExportRoute = createRoute({
  method: 'get',
  path: '/incidents/export',
  summary: 'Incidents matching the analyze filters as CSV, Excel or GeoJSON (a grid worker: their own grids)',
  request: {
    query: FilterQuery.extend({
      format: z.enum(['csv', 'xlsx', 'geojson']),
      bbox: z.string().max(100).optional().openapi({ description: 'west,south,east,north' }),
      crs: CrsQuery.crs,
    }),
  },
  responses: { 200: { description: 'The file' }, ...errorResponses(400, 404, 422) },
});

const compareExportRoute = createRoute({
  method: 'get',
  path: '/compare/export',
  summary: 'A comparison of two plans of a region as an Excel workbook: 概况, 新增网格, 去掉网格, 调整网格, 住户变动',
  request: { query: CompareQuery },
  responses: { 200: { description: 'The workbook' }, ...errorResponses(400, 404, 429) },
});

const departmentExportRoute = createRoute({
  method: 'get',
  path: '/settings/departments/export',
  summary: 'The departments as a list to edit in Excel and bring back through the import wizard, matched by 编码 (admin)',
  description:
    '编码, 部门名称, 英文名称, 联系人, 联系电话 and the categories routed to each (承办类别, for reading only). ' +
    'A row keeps its 编码, so a department renamed in the list is that department.',
  request: { query: z.object({ format: z.enum(['xlsx', 'csv']).default('xlsx') }) },
  responses: { 200: { description: 'The list' }, ...errorResponses(400, 401, 403) },
});

const RegionOut = z.object({
  id: z.number(),
  level: z.string(),
  code: z.string(),
  statCode: z.string().nullable(),
  name: z.string(),
  parentCode: z.string().nullable(),
  parentName: z.string().nullable(),
  gridType: z.string().nullable(),
  households: z.number(),
  areaM2: z.number(),
  geometry: z.any(),
});
const GridOut = RegionOut.extend({
  worker: z.string().nullable(),
  phone: z.string().nullable(),
  staff: z.array(z.object({ role: z.string(), roleZh: z.string(), name: z.string(), phone: z.string() })),
  passes: z.boolean().nullable(),
});

const printRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/print',
  summary: 'What a printed map book (township, village) or a grid poster (网格公示牌) shows: a sheet per village with its grids and people',
  request: { params: IdParam },
  responses: {
    200: {
      description: 'The sheets',
      content: {
        'application/json': {
          schema: z.object({
            region: z.object({ id: z.number(), name: z.string(), level: z.string(), code: z.string() }),
            path: z.array(z.object({ id: z.number(), name: z.string(), level: z.string(), code: z.string() })),
            version: z.object({
              op: z.number().nullable().openapi({ description: "the plan's last change (an operation of the change log)" }),
              at: z.string().nullable(),
              published: z
                .object({ id: z.number(), name: z.string(), effectiveFrom: z.string(), op: z.number().nullable() })
                .nullable()
                .openapi({ description: 'the published plan version in force for this region, if any; live edits may have followed it (op above)' }),
            }),
            printedAt: z.string(),
            focus: z.string().nullable().openapi({ description: "A grid's poster: the grid's code" }),
            outline: z.any().nullable().openapi({ description: "A township's book, a district's or city's overview: its outline, for the overview map" }),
            sheets: z.array(z.object({ village: RegionOut, grids: z.array(GridOut) })),
            overview: z
              .array(
                z.object({
                  id: z.number(),
                  code: z.string(),
                  name: z.string(),
                  level: z.string(),
                  households: z.number(),
                  townships: z.number(),
                  villages: z.number(),
                  grids: z.number(),
                  staffed: z.number(),
                  passing: z.number(),
                  geometry: z.any(),
                }),
              )
              .optional()
              .openapi({ description: 'A district or city: its parts (townships, or districts) with their figures, on one sheet; no village sheets' }),
          }),
        },
      },
    },
    ...errorResponses(400, 404, 422),
  },
});

export function exportRoutes() {
  return router()
    .openapi(departmentExportRoute, async (c) => {
      const { format } = c.req.valid('query');
      const db = c.get('db');
      const departments = await listDepartments(db);
      const names = new Map((await db.query<{ code: string; zh: string }>('SELECT code, zh FROM incident_category')).rows.map((r) => [r.code, r.zh]));
      const layer = {
        name: 'departments',
        sheet: '部门',
        geometryType: null,
        rows: departments.map((d) => ({
          geometry: null,
          // (the import wizard reads these back as the list's code, name, English name, contact and phone, and takes it
          // for a department list; 承办类别 is for reading only)
          properties: {
            编码: d.code,
            部门名称: d.zh,
            英文名称: d.en,
            联系人: d.contact,
            联系电话: d.phone,
            承办类别: d.categories.map((x) => names.get(x) ?? x).join('、'),
            // (the region it serves, by name and code: a city's list holds each county's own 公安)
            服务区域: d.regionId === null ? '全域' : (d.region?.name ?? '（区域已删除）'),
            区域代码: d.region?.code ?? '',
          },
        })),
      };
      const file = await writeLayers(job(), [layer], { format, crs: 'EPSG:4326', encoding: 'UTF-8' });
      return download(c, file, '部门');
    })
    .openapi(printRoute, async (c) => {
      const { id } = c.req.valid('param');
      const db = c.get('db');
      const path = await regionPath(db, id);
      const region = path.at(-1);
      if (!region) throw notFound('region', id);
      const printedAt = new Date(nowOf(c).getTime() + 8 * 3600_000).toISOString().slice(0, 10);
      // a district or a city: one overview sheet (its parts, their figures), each part printed as its own book
      if (region.level === 'district' || region.level === 'city') {
        return c.json(
          {
            region,
            path,
            version: await planVersion(db, region.id),
            printedAt,
            focus: null,
            outline: await outlineOf(db, region.id),
            sheets: [],
            overview: await overviewParts(db, region.id),
          },
          200,
        );
      }
      const root = region.level === 'grid' ? path.at(-2)!.id : region.id;
      return c.json(
        {
          region,
          path,
          version: await planVersion(db, region.id),
          printedAt,
          focus: region.level === 'grid' ? region.code : null,
          outline: region.level === 'township' ? await outlineOf(db, region.id) : null,
          sheets: await printSheets(db, root),
        },
        200,
      );
    })
    .openapi(regionExportRoute, async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const db = c.get('db');
      const region = await regionLevel(db, id);
      if (!region) throw notFound('region', id);
      const below = LEVELS.slice(LEVELS.indexOf(region.level));
      const levels = [...new Set(q.levels ? q.levels.split(',').map((l) => l.trim()) : below.slice(1))] as Level[];
      const wrong = levels.find((l) => !below.includes(l));
      if (wrong !== undefined) throw new InputError('invalid_level', `${JSON.stringify(wrong)} is not ${region.name}'s level or one below it`, 'levels');
      if (levels.length === 0) throw new InputError('invalid_level', `${region.name} has no level below it; ask for levels=${region.level}`, 'levels');
      const o = options(q);
      const file = await limited(c, async () => writeExport(job(), await exportRegions(db, id, levels), { ...o, levels }));
      return download(c, file, `${region.name}-${levels.map((l) => LEVEL_ZH[l]).join('-')}`, o.crs);
    })
    .openapi(householdExportRoute, async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const db = c.get('db');
      const region = await regionLevel(db, id);
      if (!region) throw notFound('region', id);
      // households (names, addresses) only of the area one is given, if any
      await areaRegion(c, id, 'id');
      const o = options(q);
      // who heads each household and their phone: only for those who may read them (not a leader's overview)
      const people = can(principalOf(c).role, 'households:people');
      const file = await limited(c, async () => writeLayers(job(), [householdLayer(await exportHouseholds(db, id), o.format, o.crs, people)], o));
      return download(c, file, `${region.name}-户`, o.crs);
    })
    .openapi(compareExportRoute, async (c) => {
      const { region, a, b } = c.req.valid('query');
      const db = c.get('db');
      const [sa, sb] = [await sideOf(db, a, 'a', nowOf(c), principalOf(c)), await sideOf(db, b, 'b', nowOf(c), principalOf(c))];
      if (!(await regionAt(db, region, sa.at)) && !(await regionAt(db, region, sb.at))) {
        throw new InputError('not_found', `region ${region} is in neither plan`, 'region');
      }
      // the comparison itself is the costly part: under the same one-at-a-time limit as the file
      return limited(c, async () => {
        const cmp = await comparePlans(db, region, sa, sb);
        const label = (s: string) => (s === 'live' ? '今天' : s.slice(5));
        const type = (t: string | null) => (t ? (GRID_TYPE_NAMES[t as GridType]?.zh ?? t) : '');
        const sheet = (name: string, title: string, rows: Record<string, unknown>[]) => ({
          name,
          sheet: title,
          geometryType: null,
          rows: rows.map((properties) => ({ properties, geometry: null })),
        });
        const grid = (f: unknown) => (f as { properties: { code: string; name: string; gridType: string | null; households: number } }).properties;
        const CHANGE_ZH: Record<string, string> = {
          shape: '边界',
          code: '编码',
          name: '名称',
          type: '类型',
          village: '所属村/社区',
          worker: '专职网格员',
          staff: '网格力量',
        };
        // numbers stay numbers (an empty cell, never '', which would make the column text), to two places
        const num = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
        const figure = (what: string, x: number | null, y: number | null) => ({ 指标: what, [label(a)]: num(x), [label(b)]: num(y) });
        const layers = [
          sheet('summary', '概况', [
            figure('网格数', cmp.a.grids, cmp.b.grids),
            figure('住户数（按今天的位置）', cmp.a.households, cmp.b.households),
            figure('格均户数', cmp.a.perGrid, cmp.b.perGrid),
            figure('户数达标网格占比%', cmp.a.inRange === null ? null : cmp.a.inRange * 100, cmp.b.inRange === null ? null : cmp.b.inRange * 100),
            figure('换了网格的住户', null, cmp.movedHouseholds),
          ]),
          sheet(
            'added',
            '新增网格',
            cmp.added.map((f) => ({ 网格编码: grid(f).code, 网格名称: grid(f).name, 网格类型: type(grid(f).gridType), 户数: grid(f).households })),
          ),
          sheet(
            'removed',
            '去掉网格',
            cmp.removed.map((f) => ({ 网格编码: grid(f).code, 网格名称: grid(f).name, 网格类型: type(grid(f).gridType), 户数: grid(f).households })),
          ),
          sheet(
            'changed',
            '调整网格',
            cmp.changed.map((x) => ({
              网格编码: x.code,
              网格名称: x.name,
              调整: x.changes.map((k) => CHANGE_ZH[k] ?? k).join('、'),
              原编码: x.before.code,
              原名称: x.before.name,
              原类型: type(x.before.gridType),
              原户数: x.before.households,
              现类型: type(x.after.gridType),
              现户数: x.after.households,
            })),
          ),
          sheet(
            'moves',
            '住户变动',
            cmp.moves.map((m) => ({
              原网格编码: m.from?.code ?? '',
              原网格: m.from?.name ?? '（不在网格内）',
              现网格编码: m.to?.code ?? '',
              现网格: m.to?.name ?? '（不在网格内）',
              户数: m.households,
            })),
          ),
        ];
        const o = { format: 'xlsx' as const, crs: 'EPSG:4326', encoding: 'UTF-8' as const };
        const file = await writeLayers(job(), layers, o);
        return download(c, file, `规划对比-${label(a)}-${label(b)}`);
      });
    })
    .openapi(incidentExportRoute, async (c) => {
      const q = c.req.valid('query');
      const o = { ...options({ ...q, encoding: undefined }) };
      const filter = await filterOf(c, q);
      // counted first: a request over the limit is refused before anything is read
      const total = await countIncidents(c.get('db'), filter);
      if (total > INCIDENT_EXPORT_LIMIT) {
        throw new InputError(
          'too_many_rows',
          `${total} incidents match; one file holds at most ${INCIDENT_EXPORT_LIMIT}: narrow the dates, region or categories`,
          'from',
          { total, limit: INCIDENT_EXPORT_LIMIT },
        );
      }
      const day = (d: string | undefined) => (d ? d.slice(0, 10) : '');
      // `to` is exclusive: a period to midnight of 2027-01-01 is named for its last day, 2026-12-31
      const lastDay = (d: string) => {
        const t = new Date(d);
        const midnight = /^\d{4}-\d{2}-\d{2}(T00:00(:00(\.0+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(d);
        return midnight && !Number.isNaN(t.getTime())
          ? new Date(Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10) - 1)).toISOString().slice(0, 10)
          : day(d);
      };
      const file = await limited(c, async () =>
        writeLayers(job(), [incidentLayer((await exportIncidents(c.get('db'), filter, INCIDENT_EXPORT_LIMIT)).rows, o.format, o.crs)], o),
      );
      // named for what it holds: the area and up to two categories, then the period
      const area = filter.regionId !== undefined ? ((await regionLevel(c.get('db'), filter.regionId))?.name ?? '') : '';
      // (more than two: the one or two left out, 除环境卫生, else how many, 5类 — a file of all but one said nothing of it)
      let cats = '';
      if (filter.categories && filter.categories.length <= 2) cats = (await categoryNames(c.get('db'), filter.categories)).join('、');
      else if (filter.categories) {
        const every = await categoryCodes(c.get('db'));
        const left = every.filter((x) => !filter.categories!.includes(x));
        if (left.length > 0) cats = left.length <= 2 ? `除${(await categoryNames(c.get('db'), left)).join('、')}` : `${filter.categories.length}类`;
      }
      const what = ['事件', area, cats].filter(Boolean).join('-');
      return download(c, file, `${what}-${day(q.from)}${q.to ? `至${lastDay(q.to)}` : ''}`.replace(/-$/, ''), o.crs);
    });
}
