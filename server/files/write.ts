import gcoord from 'gcoord';
import type { ExportRegion } from '../db/export.ts';
import { GCJ02 } from '../domain/crs.ts';
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
  { field: 'parent_cd', zh: '上级编码', en: "parent's code" },
  { field: 'parent_nm', zh: '上级名称', en: "parent's name" },
  { field: 'grid_type', zh: '网格类型', en: 'grid type (scattered, residential, unit, commercial, rural)' },
  { field: 'households', zh: '户数', en: 'households' },
  { field: 'area_m2', zh: '面积（平方米）', en: 'area in m²' },
  { field: 'worker', zh: '专职网格员', en: 'full-time grid worker' },
  { field: 'phone', zh: '专职网格员电话', en: "the worker's phone" },
  { field: 'staff', zh: '其他网格力量', en: 'the other staff: role name phone; …' },
  { field: 'passes', zh: '是否达标', en: '1 when the grid meets its rules (households in range, a worker, one polygon)' },
];

const LEVEL_ZH: Record<Level, string> = { district: '区县', township: '乡镇街道', village: '村社区', grid: '网格' };

export interface ExportOptions {
  format: ExportFormat;
  /** EPSG:4326, EPSG:4490, a CGCS2000 Gauss–Krüger zone (EPSG:4513–4554) or GCJ-02. */
  crs: string;
  /** Shapefile text: UTF-8, or GBK for older desktop GIS. */
  encoding: 'UTF-8' | 'GBK';
  levels: Level[];
}

const gisProperties = (r: ExportRegion) => ({
  code: r.code,
  stat_code: r.statCode,
  name: r.name,
  level: r.level,
  parent_cd: r.parentCode,
  parent_nm: r.parentName,
  grid_type: r.gridType,
  households: r.households,
  area_m2: r.areaM2,
  worker: r.worker,
  phone: r.phone,
  staff: r.staff.map((s) => `${s.roleZh} ${s.name} ${s.phone}`.trim()).join('；') || null,
  passes: r.passes === null ? null : r.passes ? 1 : 0,
});

function mapCoordinates(g: GeoJSON.MultiPolygon, f: (p: [number, number]) => [number, number]): GeoJSON.MultiPolygon {
  return { type: 'MultiPolygon', coordinates: g.coordinates.map((poly) => poly.map((ring) => ring.map((p) => f([p[0]!, p[1]!])))) };
}

function collection(rows: ExportRegion[], crs: string, properties: (r: ExportRegion) => object, geometry = true): string {
  const shift = crs === GCJ02 ? (p: [number, number]) => gcoord.transform(p, gcoord.WGS84, gcoord.GCJ02) as [number, number] : null;
  return JSON.stringify({
    type: 'FeatureCollection',
    features: rows.map((r) => ({
      type: 'Feature',
      properties: properties(r),
      geometry: geometry ? (shift ? mapCoordinates(r.geometry, shift) : r.geometry) : null,
    })),
  });
}

/** How GDAL labels or reprojects our lon/lat for the system asked for. */
function crsArgs(crs: string, format: ExportFormat): string[] {
  if (format === 'kml' || format === 'xlsx') return []; // KML is WGS 84 by definition; a workbook has no geometry
  if (crs === 'EPSG:4326' || crs === GCJ02) return ['-a_srs', 'EPSG:4326'];
  if (crs === 'EPSG:4490') return ['-a_srs', 'EPSG:4490'];
  return ['-s_srs', 'EPSG:4490', '-t_srs', crs];
}

const XLSX_HEADERS = (r: ExportRegion) => ({
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
        是否达标: r.passes ? '达标' : '未达标',
      }
    : { 户数: r.households, 面积平方米: r.areaM2 }),
});

/** The file's bytes, its name's extension and its media type. */
export async function writeExport(job: string, rows: ExportRegion[], o: ExportOptions): Promise<{ bytes: Uint8Array; ext: string; type: string }> {
  // every level asked for is a layer, an empty one too (a village not yet divided has no grids)
  const byLevel = o.levels.map((level) => ({ level, rows: rows.filter((r) => r.level === level) }));
  const layers = (props: (r: ExportRegion) => object, geometry = true) =>
    byLevel.map((l) => ({ name: o.format === 'xlsx' ? LEVEL_ZH[l.level] : l.level, geojson: collection(l.rows, o.crs, props, geometry) }));
  const crs = crsArgs(o.crs, o.format);
  switch (o.format) {
    case 'geojson':
      return {
        bytes: await gdalWrite(
          job,
          [{ name: 'regions', geojson: collection(rows, o.crs, gisProperties) }],
          ['-f', 'GeoJSON', ...crs, '-lco', 'COORDINATE_PRECISION=9'],
          'plan.geojson',
        ),
        ext: 'geojson',
        type: 'application/geo+json',
      };
    case 'csv':
      return {
        bytes: await gdalWrite(
          job,
          [{ name: 'regions', geojson: collection(rows, o.crs, gisProperties) }],
          ['-f', 'CSV', ...crs, '-lco', 'GEOMETRY=AS_WKT', '-lco', 'WRITE_BOM=YES'],
          'plan.csv',
        ),
        ext: 'csv',
        type: 'text/csv; charset=utf-8',
      };
    case 'shp':
      return {
        bytes: await gdalWrite(
          job,
          layers(gisProperties),
          ['-f', 'ESRI Shapefile', ...crs, '-lco', `ENCODING=${o.encoding}`, '-nlt', 'MULTIPOLYGON'],
          'plan.shp.zip',
        ),
        ext: 'zip',
        type: 'application/zip',
      };
    case 'gpkg':
      return {
        bytes: await gdalWrite(job, layers(gisProperties), ['-f', 'GPKG', ...crs, '-nlt', 'MULTIPOLYGON'], 'plan.gpkg'),
        ext: 'gpkg',
        type: 'application/geopackage+sqlite3',
      };
    case 'kml':
      return {
        bytes: await gdalWrite(job, layers(gisProperties), ['-f', 'KML', '-dsco', 'NameField=name'], 'plan.kml'),
        ext: 'kml',
        type: 'application/vnd.google-earth.kml+xml',
      };
    case 'xlsx': {
      // the roster: every grid's people, the full-time worker first
      const roster = rows
        .filter((r) => r.level === 'grid')
        .flatMap((r) => [
          ...(r.worker ? [{ 网格编码: r.code, 网格名称: r.name, 职务: '专职网格员', 姓名: r.worker, 电话: r.phone ?? '' }] : []),
          ...r.staff.map((s) => ({ 网格编码: r.code, 网格名称: r.name, 职务: s.roleZh, 姓名: s.name, 电话: s.phone })),
        ]);
      const sheets = [
        ...layers(XLSX_HEADERS, false),
        ...(roster.length
          ? [
              {
                name: '人员名册',
                geojson: JSON.stringify({ type: 'FeatureCollection', features: roster.map((p) => ({ type: 'Feature', properties: p, geometry: null })) }),
              },
            ]
          : []),
      ];
      return {
        bytes: await gdalWrite(job, sheets, ['-f', 'XLSX'], 'plan.xlsx'),
        ext: 'xlsx',
        type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      };
    }
  }
}
