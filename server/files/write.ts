import Papa from 'papaparse';
import gcoord from 'gcoord';
import type { ExportHousehold, ExportIncident, ExportRegion } from '../db/export.ts';
import { GCJ02 } from '../domain/crs.ts';
import { InputError } from '../domain/errors.ts';
import { GRID_TYPE_NAMES, type GridType } from '../domain/grid-types.ts';
import type { Level } from '../domain/hierarchy.ts';
import { gdalWrite } from './gdal.ts';

/**
 * The plan as files other systems read, written by GDAL (the engine that reads imports):
 * GeoJSON, a zipped Shapefile, GeoPackage, KML, CSV (WKT geometry) and Excel. Attribute names in
 * the GIS formats are ASCII of at most 10 characters (a Shapefile's limit; see EXPORT_FIELDS);
 * the Excel workbook has Chinese headers, a sheet per level and the staff roster.
 */
export const EXPORT_FORMATS = ['geojson', 'shp', 'gpkg', 'kml', 'csv', 'xlsx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The attributes of the GIS formats: name (≤ 10 characters), Chinese and English meaning. */
export const EXPORT_FIELDS: { field: string; zh: string; en: string }[] = [
  { field: 'code', zh: '编码', en: 'GridPlan code' },
  { field: 'stat_code', zh: '统计用区划代码', en: '12-digit statistical division code, where known' },
  { field: 'name', zh: '名称', en: 'name' },
  { field: 'level', zh: '层级', en: 'district, township, village or grid' },
  { field: 'level_zh', zh: '层级（中文）', en: 'the level in Chinese (区县 乡镇街道 村社区 网格)' },
  { field: 'parent_cd', zh: '上级编码', en: "parent's code" },
  { field: 'parent_nm', zh: '上级名称', en: "parent's name" },
  { field: 'grid_type', zh: '网格类型', en: 'grid type (scattered, residential, unit, commercial, rural)' },
  { field: 'type_zh', zh: '网格类型（中文）', en: 'grid type in Chinese (散居型 小区型 单位型 商圈型 农村型)' },
  { field: 'households', zh: '户数', en: 'households' },
  { field: 'area_m2', zh: '面积（平方米）', en: 'area in m²' },
  { field: 'worker', zh: '专职网格员', en: 'full-time grid worker' },
  { field: 'phone', zh: '专职网格员电话', en: "the worker's phone" },
  { field: 'staff', zh: '其他网格力量', en: 'the other staff: role name phone; …' },
  { field: 'passes', zh: '是否达标', en: '1 when the grid meets its rules (households in range, a worker, one polygon)' },
];

export const LEVEL_ZH: Record<Level, string> = { city: '市', district: '区县', township: '乡镇街道', village: '村社区', grid: '网格' };

const gisProperties = (r: ExportRegion) => ({
  code: r.code,
  stat_code: r.statCode,
  name: r.name,
  level: r.level,
  level_zh: LEVEL_ZH[r.level],
  parent_cd: r.parentCode,
  parent_nm: r.parentName,
  grid_type: r.gridType,
  type_zh: r.gridType ? GRID_TYPE_NAMES[r.gridType as GridType].zh : null,
  households: r.households,
  area_m2: r.areaM2,
  worker: r.worker,
  phone: r.phone,
  staff: r.staff.map((s) => `${s.roleZh} ${s.name} ${s.phone}`.trim()).join('；') || null,
  // (grids only: a layer of villages, all of them empty, would make it a text field beside the grids' integer)
  ...(r.level === 'grid' ? { passes: r.passes === null ? null : r.passes ? 1 : 0 } : {}),
});

function mapPositions(g: GeoJSON.Geometry, f: (p: [number, number]) => [number, number]): GeoJSON.Geometry {
  const ring = (r: GeoJSON.Position[]) => r.map((p) => f([p[0]!, p[1]!]));
  switch (g.type) {
    case 'Point':
      return { type: 'Point', coordinates: f([g.coordinates[0]!, g.coordinates[1]!]) };
    case 'MultiPolygon':
      return { type: 'MultiPolygon', coordinates: g.coordinates.map((poly) => poly.map(ring)) };
    case 'Polygon':
      return { type: 'Polygon', coordinates: g.coordinates.map(ring) };
    default:
      return g;
  }
}

/** One layer to write: its name (a Chinese one for a workbook's sheet), rows and the geometry type GDAL is told. */
export interface OutLayer {
  name: string;
  sheet: string;
  geometryType: 'MULTIPOLYGON' | 'POINT' | null;
  rows: { properties: Record<string, unknown>; geometry: GeoJSON.Geometry | null }[];
}

export interface WriteOptions {
  format: ExportFormat;
  /** EPSG:4326, EPSG:4490, a CGCS2000 Gauss–Krüger zone (EPSG:4513–4554) or GCJ-02. */
  crs: string;
  /** Shapefile text: UTF-8, or GBK for older desktop GIS. */
  encoding: 'UTF-8' | 'GBK';
}

/**
 * GCJ-02 has no EPSG code: a file in it is labelled with a geographic system of its own name (its
 * datum named GCJ-02), so that no GIS takes its points for WGS 84 — which they are 300–500 m off —
 * and our import reads the name back as GCJ-02.
 */
export const GCJ02_WKT =
  'GEOGCS["GCJ-02 (Amap, Tencent; WGS 84 offset)",DATUM["GCJ_02",SPHEROID["WGS 84",6378137,298.257223563]],' +
  'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]';

/** How GDAL labels or reprojects our lon/lat for the system asked for. */
function crsArgs(crs: string, format: ExportFormat): string[] {
  if (format === 'kml' || format === 'xlsx') return []; // KML is WGS 84 by definition; a workbook has no geometry
  if (crs === GCJ02) return ['-a_srs', GCJ02_WKT];
  if (crs === 'EPSG:4326') return ['-a_srs', 'EPSG:4326'];
  if (crs === 'EPSG:4490') return ['-a_srs', 'EPSG:4490'];
  return ['-s_srs', 'EPSG:4490', '-t_srs', crs];
}

const MEDIA: Record<ExportFormat, { ext: string; type: string; output: string; args: string[] }> = {
  geojson: { ext: 'geojson', type: 'application/geo+json', output: 'out.geojson', args: ['-f', 'GeoJSON'] },
  csv: { ext: 'csv', type: 'text/csv; charset=utf-8', output: 'out.csv', args: ['-f', 'CSV', '-lco', 'GEOMETRY=AS_WKT', '-lco', 'WRITE_BOM=YES'] },
  shp: { ext: 'zip', type: 'application/zip', output: 'out.shp.zip', args: ['-f', 'ESRI Shapefile'] },
  gpkg: { ext: 'gpkg', type: 'application/geopackage+sqlite3', output: 'out.gpkg', args: ['-f', 'GPKG'] },
  kml: { ext: 'kml', type: 'application/vnd.google-earth.kml+xml', output: 'out.kml', args: ['-f', 'KML', '-dsco', 'NameField=name'] },
  xlsx: { ext: 'xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', output: 'out.xlsx', args: ['-f', 'XLSX'] },
};

/** Rows as a CSV table for Excel: a byte-order mark (Excel's sign of UTF-8), every row's columns in the order first met, an empty cell for none. */
function csvTable(rows: Record<string, unknown>[]): Uint8Array {
  const fields = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const text = Papa.unparse({ fields, data: rows.map((r) => fields.map((c) => r[c] ?? null)) }, { newline: '\r\n' });
  return new TextEncoder().encode(`\uFEFF${text}\r\n`);
}

/**
 * A CSV cell that starts like a formula (= + - @, a tab or return; also after spaces or a semicolon, which a
 * spreadsheet may trim or split on) is opened by Excel as one: it leaves behind an apostrophe, as text.
 */
export const formulaSafe = (v: unknown): unknown => (typeof v === 'string' && /^[\s;]*[=+\-@]|^[\t\r]/.test(v) ? `'${v}` : v);

/**
 * Layers as one file: GeoJSON and CSV hold one layer (the layers' rows together), the others a
 * layer (a workbook a sheet) each. Geometries leave in the system asked for; a workbook has none.
 */
export async function writeLayers(job: string, layers: OutLayer[], o: WriteOptions): Promise<{ bytes: Uint8Array; ext: string; type: string }> {
  const shift = o.crs === GCJ02 ? (p: [number, number]) => gcoord.transform(p, gcoord.WGS84, gcoord.GCJ02) as [number, number] : null;
  // KML is WGS 84 by definition: never shifted
  const geometry = (g: GeoJSON.Geometry | null) => (o.format === 'xlsx' || !g ? null : shift && o.format !== 'kml' ? mapPositions(g, shift) : g);
  const cell = (v: unknown) => (o.format === 'csv' ? formulaSafe(v) : v);
  const props = (p: Record<string, unknown>) => (o.format === 'csv' ? Object.fromEntries(Object.entries(p).map(([k, v]) => [k, cell(v)])) : p);
  const text = (rows: OutLayer['rows']) =>
    JSON.stringify({
      type: 'FeatureCollection',
      features: rows.map((r) => ({ type: 'Feature', properties: props(r.properties), geometry: geometry(r.geometry) })),
    });
  const single = o.format === 'geojson' || o.format === 'csv';
  const inputs = single
    ? [{ name: layers.map((l) => l.name).join('_') || 'layer', geojson: text(layers.flatMap((l) => l.rows)) }]
    : layers.map((l) => ({
        name: o.format === 'xlsx' ? l.sheet : l.name,
        geojson: text(l.rows),
        args: l.geometryType && (o.format === 'shp' || o.format === 'gpkg') ? ['-nlt', l.geometryType] : [],
      }));
  const m = MEDIA[o.format];
  // a table without shapes (incidents as a CSV, with 经度/纬度) gets no empty WKT column
  const shapeless = layers.every((l) => l.rows.every((r) => !r.geometry));
  // …and nothing for GDAL to do: Papa Parse writes it, some ten times faster (200,000 incidents: 17 s in
  // GDAL's WebAssembly build, 2 s here), the same table GDAL reads back (tests/api/exports.test.ts)
  if (shapeless && o.format === 'csv') return { bytes: csvTable(layers.flatMap((l) => l.rows.map((r) => props(r.properties)))), ext: m.ext, type: m.type };
  const own = shapeless && o.format === 'csv' ? m.args.filter((a, i, all) => a !== 'GEOMETRY=AS_WKT' && all[i + 1] !== 'GEOMETRY=AS_WKT') : m.args;
  const args = [...own, ...crsArgs(o.crs, o.format), ...(o.format === 'shp' ? ['-lco', `ENCODING=${o.encoding}`] : [])];
  return { bytes: await gdalWrite(job, inputs, args, m.output, o.format === 'kml' && inputs.length > 1), ext: m.ext, type: m.type };
}

const XLSX_REGION = (r: ExportRegion) => ({
  编码: r.code,
  统计用区划代码: r.statCode ?? '',
  名称: r.name,
  上级编码: r.parentCode ?? '',
  上级名称: r.parentName ?? '',
  ...(r.level === 'grid'
    ? {
        网格类型: r.gridType ? GRID_TYPE_NAMES[r.gridType as GridType].zh : '',
        户数: r.households,
        面积平方米: r.areaM2,
        专职网格员: r.worker ?? '',
        电话: r.phone ?? '',
        其他网格力量: r.staff.map((s) => `${s.roleZh} ${s.name} ${s.phone}`.trim()).join('；'),
        是否达标: r.passes ? '达标' : '未达标',
      }
    : { 户数: r.households, 面积平方米: r.areaM2 }),
});

/** The plan's regions: a layer per level (GeoJSON and CSV: one), and in a workbook the staff roster. */
export async function writeExport(
  job: string,
  rows: ExportRegion[],
  o: WriteOptions & { levels: Level[] },
): Promise<{ bytes: Uint8Array; ext: string; type: string }> {
  // every level asked for is a layer, an empty one too (a village not yet divided has no grids)
  const layers: OutLayer[] = o.levels.map((level) => ({
    name: level,
    sheet: LEVEL_ZH[level],
    geometryType: 'MULTIPOLYGON',
    rows: rows.filter((r) => r.level === level).map((r) => ({ properties: o.format === 'xlsx' ? XLSX_REGION(r) : gisProperties(r), geometry: r.geometry })),
  }));
  if (o.format === 'geojson' || o.format === 'csv') layers.splice(0, layers.length, { ...layers[0]!, name: 'regions', rows: layers.flatMap((l) => l.rows) });
  if (o.format === 'xlsx') {
    // the roster: every grid's people, the full-time worker first; a grid without one has that line blank, to fill
    // in and bring back as a staff list (the import passes over lines left blank)
    const roster = rows
      .filter((r) => r.level === 'grid')
      .flatMap((r) => [
        { 网格编码: r.code, 网格名称: r.name, 职务: '专职网格员', 姓名: r.worker ?? '', 电话: r.worker ? (r.phone ?? '') : '' },
        ...r.staff.map((s) => ({ 网格编码: r.code, 网格名称: r.name, 职务: s.roleZh, 姓名: s.name, 电话: s.phone })),
      ]);
    if (roster.length) layers.push({ name: 'staff', sheet: '人员名册', geometryType: null, rows: roster.map((p) => ({ properties: p, geometry: null })) });
  }
  return writeLayers(job, layers, o);
}

/** Household points (roles that may read households): GIS fields and the workbook's Chinese headers. */
export const HOUSEHOLD_FIELDS: { field: string; zh: string; en: string }[] = [
  { field: 'id', zh: '编号', en: 'household id' },
  { field: 'size', zh: '人口', en: 'people in the household' },
  { field: 'address', zh: '地址', en: 'address' },
  { field: 'grid_code', zh: '网格编码', en: "the grid's code" },
  { field: 'grid_name', zh: '网格名称', en: "the grid's name" },
];

/**
 * A table's 经度/纬度 columns in the system asked for, named in their headers: WGS 84, CGCS2000 (the
 * same numbers within a metre) or GCJ-02 (shifted). A Gauss–Krüger zone has no longitude to give.
 */
export function lonLatColumns(crs: string): { label: string; at: (p: number[]) => [number, number] } {
  if (crs === GCJ02) return { label: 'GCJ-02', at: (p) => gcoord.transform([p[0]!, p[1]!], gcoord.WGS84, gcoord.GCJ02) as [number, number] };
  if (crs === 'EPSG:4490') return { label: 'CGCS2000', at: (p) => [p[0]!, p[1]!] };
  if (crs === 'EPSG:4326') return { label: 'WGS 84', at: (p) => [p[0]!, p[1]!] };
  throw new InputError(
    'table_crs',
    `a table gives longitude and latitude: choose WGS 84, CGCS2000 or GCJ-02 (${crs}, a Gauss–Krüger zone, needs a GIS format)`,
    'crs',
  );
}

/** `people`: with each household's head and phone (户主, 联系电话), for those who may read them. */
export function householdLayer(rows: ExportHousehold[], format: ExportFormat, crs = 'EPSG:4326', people = false): OutLayer {
  const cols = format === 'xlsx' ? lonLatColumns(crs) : null;
  return {
    name: 'household',
    sheet: '户',
    geometryType: 'POINT',
    rows: rows.map((h) => ({
      properties:
        format === 'xlsx'
          ? {
              编号: h.id,
              人口: h.size,
              地址: h.address,
              ...(people ? { 户主: h.head, 联系电话: h.phone } : {}),
              网格编码: h.gridCode ?? '',
              网格名称: h.gridName ?? '',
              [`经度（${cols!.label}）`]: cols!.at(h.geometry.coordinates)[0],
              [`纬度（${cols!.label}）`]: cols!.at(h.geometry.coordinates)[1],
            }
          : { id: h.id, size: h.size, address: h.address, ...(people ? { head: h.head, phone: h.phone } : {}), grid_code: h.gridCode, grid_name: h.gridName },
      geometry: h.geometry,
    })),
  };
}

/** Incidents (the analyze filters): GIS fields and the workbook's Chinese headers. */
export const INCIDENT_FIELDS: { field: string; zh: string; en: string }[] = [
  { field: 'id', zh: '编号', en: 'incident id' },
  { field: 'category', zh: '类别代码', en: 'category code' },
  { field: 'cat_zh', zh: '类别', en: 'category (Chinese)' },
  { field: 'severity', zh: '等级', en: 'severity 1–4' },
  { field: 'status', zh: '状态', en: 'reported, dispatched, resolved or closed' },
  { field: 'source', zh: '来源', en: 'worker, hotline or import' },
  { field: 'reported', zh: '上报时间', en: 'reported at (China time)' },
  { field: 'descr', zh: '描述', en: 'description' },
  { field: 'address', zh: '地址', en: 'address' },
  { field: 'grid_code', zh: '网格编码', en: "the grid's code" },
  { field: 'grid_name', zh: '网格名称', en: "the grid's name" },
  { field: 'filed_code', zh: '上报时网格编码', en: 'the code of the grid it was filed in at its time' },
  { field: 'filed_name', zh: '上报时网格', en: 'the name of that grid then' },
  { field: 'dept', zh: '承办部门', en: 'department' },
  { field: 'resolved', zh: '办结时间', en: 'resolved at' },
  { field: 'closed', zh: '归档时间', en: 'closed at' },
];

/** Severity in the words the report form and the dispatch cards use. */
const SEVERITY_ZH: Record<number, string> = { 1: '一般', 2: '较重', 3: '严重', 4: '紧急' };
const STATUS_ZH: Record<string, string> = { reported: '已上报', dispatched: '已派单', resolved: '已办结', closed: '已归档' };
const SOURCE_ZH: Record<string, string> = { worker: '网格员上报', hotline: '12345 热线', import: '导入' };

export function incidentLayer(rows: ExportIncident[], format: ExportFormat, crs = 'EPSG:4326'): OutLayer {
  // a table (a workbook, or a CSV a clerk opens in Excel) in Chinese with 经度/纬度; a GIS layer with short field names.
  // What a case lacks is an empty cell, not empty text: a column of times stays times in Excel (办结时间 − 上报时间)
  const table = format === 'xlsx' || format === 'csv';
  const cols = table ? lonLatColumns(crs) : null;
  return {
    name: 'incident',
    sheet: '事件',
    geometryType: 'POINT',
    rows: rows.map((i) => ({
      properties: table
        ? {
            编号: i.id,
            类别: i.categoryZh,
            等级: SEVERITY_ZH[i.severity] ?? i.severity,
            状态: STATUS_ZH[i.status] ?? i.status,
            来源: SOURCE_ZH[i.source] ?? i.source,
            上报时间: i.reportedAt,
            描述: i.description,
            地址: i.address ?? null,
            网格编码: i.gridCode ?? null,
            网格名称: i.gridName ?? null,
            上报时网格编码: i.filedCode ?? null,
            上报时网格: i.filedName ?? null,
            承办部门: i.department ?? null,
            办结时间: i.resolvedAt ?? null,
            归档时间: i.closedAt ?? null,
            [`经度（${cols!.label}）`]: cols!.at(i.geometry.coordinates)[0],
            [`纬度（${cols!.label}）`]: cols!.at(i.geometry.coordinates)[1],
          }
        : {
            id: i.id,
            category: i.category,
            cat_zh: i.categoryZh,
            severity: i.severity,
            status: i.status,
            source: i.source,
            reported: i.reportedAt,
            descr: i.description,
            address: i.address,
            grid_code: i.gridCode,
            grid_name: i.gridName,
            filed_code: i.filedCode,
            filed_name: i.filedName,
            dept: i.department,
            resolved: i.resolvedAt,
            closed: i.closedAt,
          },
      // (the table has 经度/纬度: no WKT column beside them)
      geometry: table ? null : i.geometry,
    })),
  };
}
