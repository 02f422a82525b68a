import { unzipSync, zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { LRUCache } from 'lru-cache';
import { declaredCrs, gdalReprojection, isLonLat, undoObfuscation, type CrsCode } from '../domain/crs.ts';
import { InputError } from '../domain/errors.ts';
import { fileText } from '../domain/text.ts';
import { headerRow } from '../domain/import-fields.ts';
import { GdalTimeout, gdalDrop, gdalOpen, gdalRead, gdalWrite, type GdalLayerInfo } from './gdal.ts';
import { kmlData, kmlFieldNames, kmlLayerData, type KmlData } from './kml-data.ts';

/**
 * Reading a county's files through GDAL: what kind of file it is (by its bytes), what is inside a
 * zip (checked for bombs before anything is unpacked), the text encoding where the file does not
 * say, and each layer's rows with their geometry in lon/lat.
 */
export type FileFormat = 'shapefile' | 'geopackage' | 'kml' | 'kmz' | 'geojson' | 'csv' | 'xlsx';

export interface LayerSummary {
  name: string;
  geometryType: string | null;
  count: number;
  fields: string[];
  /** The system the file declares (`EPSG:n`), or null when it says nothing. */
  crs: CrsCode | null;
  /** Text encoding of a Shapefile's attributes or a CSV: declared (.cpg) or detected. */
  encoding: string | null;
  /** The spreadsheet row (0-based) read as the header. */
  headerRow: number | null;
  /**
   * Shapes with a level field (层级, level: GridPlan's own export writes one): the levels its first features name —
   * a layer of villages carries an empty 网格类型 column too, and is still villages.
   */
  levels?: string[];
  /**
   * A layer of shapes that declares no system: the box of its first shapes' numbers as they stand, so the wizard can say at
   * once what they look like (lon/lat, a zone's metres) before the check reads the layer in the system guessed.
   */
  sampleBox?: [number, number, number, number];
}

/** Something the clerk should know of a file: a code the UI words, the English sentence, and what it concerns (a file or layer name, a row). */
export interface FileWarning {
  code: 'no_prj' | 'unreadable_prj' | 'gbk_without_cpg' | 'header_row' | 'too_many_rows';
  message: string;
  subject: string;
}

export interface Inspected {
  format: FileFormat;
  layers: LayerSummary[];
  warnings: FileWarning[];
}

export interface Row {
  properties: Record<string, unknown>;
  geometry: GeoJSON.Geometry | null;
}

/** Limits on what an upload may unpack to: a zip bomb is refused before it is unpacked. */
export const UNPACKED_LIMIT = 1024 * 1024 * 1024;
export const UNPACK_RATIO = 200;

const startsWith = (b: Uint8Array, s: string) => s.split('').every((c, i) => b[i] === c.charCodeAt(0));

interface ZipEntry {
  name: string;
  size: number;
}

function zipEntries(bytes: Uint8Array, file: string): ZipEntry[] {
  const entries: ZipEntry[] = [];
  try {
    unzipSync(bytes, {
      filter: (f) => {
        entries.push({ name: f.name, size: f.originalSize });
        return false;
      },
    });
  } catch {
    throw new InputError('broken_zip', `${file} is not a complete zip file (cut short, or damaged)`, 'file', { file });
  }
  const total = entries.reduce((s, e) => s + e.size, 0);
  if (total > UNPACKED_LIMIT || (total > 50 * 1024 * 1024 && total > UNPACK_RATIO * bytes.length)) {
    throw new InputError(
      'zip_too_large',
      `${file} would unpack to ${Math.round(total / 1024 / 1024)} MB; the limit is ${UNPACKED_LIMIT / 1024 / 1024} MB`,
      'file',
      { file, mb: Math.round(total / 1024 / 1024) },
    );
  }
  return entries;
}

/** The named entries of a zip, unpacked in one pass. */
function unzipSome(bytes: Uint8Array, names: Set<string>): Record<string, Uint8Array> {
  if (names.size === 0) return {};
  try {
    return unzipSync(bytes, { filter: (f) => names.has(f.name) });
  } catch {
    const [first] = names;
    throw new InputError('broken_zip', `${first} in the zip is damaged and cannot be unpacked`, 'file', { file: first });
  }
}

/**
 * A zip whose names GDAL can open. Zips made on a Chinese Windows (and by Info-ZIP on Linux) store
 * file names as raw GBK or UTF-8 bytes without the zip's UTF-8 flag; GDAL then takes them for
 * CP437 and, unable to recode them in its WebAssembly build, refuses the whole file. Such a zip is
 * packed again (stored, not compressed) with each name decoded — UTF-8 where the bytes are UTF-8,
 * else GBK — and flagged as UTF-8. A zip of ASCII or flagged names is left as it is.
 */
export function withUtf8Names(bytes: Uint8Array): Uint8Array {
  if (!startsWith(bytes, 'PK\u0003\u0004')) return bytes;
  let raw = false;
  try {
    unzipSync(bytes, {
      filter: (f) => {
        raw ||= isRawName(f.name);
        return false;
      },
    });
  } catch {
    return bytes; // a broken zip is reported as such when its entries are listed
  }
  if (!raw) return bytes;
  try {
    const renamed: Record<string, [Uint8Array, { level: 0 }]> = {};
    for (const [name, data] of Object.entries(unzipSync(bytes))) {
      const b = Buffer.from(name, 'latin1');
      renamed[isRawName(name) ? (isUtf8(b) ? b.toString('utf8') : iconv.decode(b, 'gb18030')) : name] = [data, { level: 0 }];
    }
    return zipSync(renamed);
  } catch {
    return bytes; // a damaged member: GDAL says the file cannot be read, as it would have
  }
}

/**
 * Whether fflate handed over an entry's name as raw bytes: it decodes a name without the UTF-8 flag
 * as Latin-1, one character per byte, so such a name has bytes over 0x7f and no character past 0xff
 * (a flagged Chinese name has). A flagged name of Latin-1 accents alone would be taken for raw too.
 */
const isRawName = (name: string) => /[\x80-\xff]/.test(name) && !/[\u0100-\uffff]/.test(name);

/** A KML's or KMZ's placemark attributes, which GDAL's KML driver leaves out (see kml-data.ts). */
function kmlAttributes(format: FileFormat, name: string, bytes: Uint8Array): KmlData {
  if (format !== 'kml' && format !== 'kmz') return new Map();
  const inner = format === 'kml' ? null : zipEntries(bytes, name).find((e) => e.name.toLowerCase().endsWith('.kml'))!.name;
  const doc = inner === null ? bytes : (unzipSome(bytes, new Set([inner]))[inner] ?? new Uint8Array(0));
  return kmlData(new TextDecoder().decode(doc));
}

/** Whether bytes are UTF-8 (ASCII is); else they are taken for GBK, the encoding of Chinese desktop GIS. */
function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A DBF's records (after its header) in UTF-8, or GBK when they are not. */
const dbfEncoding = (dbf: Uint8Array) => (dbf.length < 32 || isUtf8(dbf.subarray(dbf[8]! | (dbf[9]! << 8))) ? 'UTF-8' : 'GBK');

export function detectFormat(name: string, bytes: Uint8Array): FileFormat {
  const lower = name.toLowerCase();
  if (startsWith(bytes, 'PK\u0003\u0004')) {
    const names = zipEntries(bytes, name).map((e) => e.name.toLowerCase());
    if (names.includes('[content_types].xml') && names.some((n) => n.startsWith('xl/'))) return 'xlsx';
    if (names.some((n) => n.endsWith('.shp'))) return 'shapefile';
    if (names.some((n) => n.endsWith('.kml'))) return 'kmz';
    throw new InputError('unknown_zip', `${name} holds no Shapefile (.shp), KML or Excel sheet`, 'file', { file: name });
  }
  if (startsWith(bytes, 'SQLite format 3')) return 'geopackage';
  const head = new TextDecoder().decode(bytes.subarray(0, 512)).trimStart();
  if (lower.endsWith('.kml') || /^<\?xml[^>]*>\s*<kml/i.test(head) || head.startsWith('<kml')) return 'kml';
  if (lower.endsWith('.geojson') || lower.endsWith('.json') || head.startsWith('{')) return 'geojson';
  if (lower.endsWith('.csv') || lower.endsWith('.txt')) return 'csv';
  if (lower.endsWith('.shp') || lower.endsWith('.dbf') || lower.endsWith('.shx')) {
    throw new InputError('shapefile_not_zipped', 'send a Shapefile as one zip of its .shp, .shx, .dbf, .prj (and .cpg) files', 'file');
  }
  // an Excel workbook of the old kind (.xls, WPS's .et: an OLE2 compound file): said as such, with the way out
  if (lower.endsWith('.xls') || lower.endsWith('.et') || (bytes[0] === 0xd0 && bytes[1] === 0xcf && bytes[2] === 0x11 && bytes[3] === 0xe0)) {
    throw new InputError('old_excel', `${name} is an old Excel workbook (.xls): save it as .xlsx (Save As in Excel or WPS) and upload that`, 'file', {
      file: name,
    });
  }
  throw new InputError('unknown_format', `${name} is not a Shapefile (zip), GeoPackage, KML/KMZ, GeoJSON, CSV or Excel (.xlsx) file`, 'file', {
    file: name,
  });
}

/** How GDAL opens a file: the path inside GDAL's folder, virtual file systems, open options, and the encoding. */
interface Opening {
  files: { name: string; bytes: Uint8Array }[];
  /** The GDAL drivers that may open it: those of the format it was taken for. */
  drivers: string[];
  path: string;
  vsi: string[];
  openOptions: string[];
  encoding: string | null;
  warnings: FileWarning[];
  /** A Shapefile that came with a .prj. */
  prj?: boolean;
}

const SAFE_NAME = 'upload';
/** Formats of one layer, which takes the file's own name. */
const SINGLE_LAYER = new Set<FileFormat>(['geojson', 'csv']);
const stem = (name: string) => (name.split(/[\\/]/).pop() ?? name).replace(/\.[^.]*$/, '') || 'layer';

/** Each dataset in the file: a zip may hold several Shapefiles, each one layer. */
function openings(format: FileFormat, name: string, bytes: Uint8Array): Opening[] {
  return openingsOf(format, name, bytes).map((o) => ({ ...o, drivers: DRIVERS[format] }));
}

/** The GDAL drivers of each format (by their short names): no other may open a file taken for it. */
const DRIVERS: Record<FileFormat, string[]> = {
  shapefile: ['ESRI Shapefile'],
  geopackage: ['GPKG'],
  kml: ['KML', 'LIBKML'],
  kmz: ['KML', 'LIBKML'],
  geojson: ['GeoJSON', 'GeoJSONSeq', 'ESRIJSON', 'TopoJSON'],
  csv: ['CSV'],
  xlsx: ['XLSX'],
};

/** Most Shapefiles one zip may hold (each is a layer to open and list). */
export const MAX_SHAPEFILES = 50;

function openingsOf(format: FileFormat, name: string, bytes: Uint8Array): Omit<Opening, 'drivers'>[] {
  const ext = { shapefile: 'zip', geopackage: 'gpkg', kml: 'kml', kmz: 'kmz', geojson: 'geojson', csv: 'csv', xlsx: 'xlsx' }[format];
  const file = `${SAFE_NAME}.${ext}`;
  if (format === 'shapefile') {
    const entries = zipEntries(bytes, name);
    const shps = entries.filter((e) => e.name.toLowerCase().endsWith('.shp'));
    if (shps.length > MAX_SHAPEFILES) {
      throw new InputError(
        'too_many_layers',
        `${name} holds ${shps.length} Shapefiles; one upload takes at most ${MAX_SHAPEFILES}: zip fewer at a time`,
        'file',
        { file: name, count: shps.length, limit: MAX_SHAPEFILES },
      );
    }
    // (one pass over the names, and one over the zip for the small files read here: a look-up per Shapefile
    // over every entry, unpacking the zip again for each, took time growing with the square of their number)
    const byLower = new Map(entries.map((e) => [e.name.toLowerCase(), e.name]));
    const find = (base: string, x: string) => byLower.get(`${base}.${x}`.toLowerCase());
    const wanted = new Set(
      shps.flatMap((shp) => {
        const base = shp.name.slice(0, -4);
        const cpg = find(base, 'cpg');
        return cpg ? [cpg] : [find(base, 'dbf')].filter((n): n is string => !!n);
      }),
    );
    const small = unzipSome(bytes, wanted);
    return shps.map((shp) => {
      const base = shp.name.slice(0, -4);
      const missing = ['shx', 'dbf'].filter((x) => !find(base, x));
      if (missing.length) {
        throw new InputError(
          'shapefile_incomplete',
          `${shp.name} comes without its .${missing.join(' and .')} file: put all the files of the Shapefile in the zip`,
          'file',
          { file: shp.name, missing: missing.map((x) => `.${x}`).join(' ') },
        );
      }
      const prj = !!find(base, 'prj');
      const warnings: FileWarning[] = prj ? [] : [{ code: 'no_prj', message: `${shp.name} has no .prj: choose its coordinate system`, subject: shp.name }];
      const cpg = find(base, 'cpg');
      const encoding = cpg
        ? new TextDecoder()
            .decode(small[cpg] ?? new Uint8Array(0))
            .trim()
            .toUpperCase() || 'UTF-8'
        : dbfEncoding(small[find(base, 'dbf')!] ?? new Uint8Array(0));
      if (!cpg && encoding === 'GBK')
        warnings.push({ code: 'gbk_without_cpg', message: `${shp.name} has no .cpg; its text was read as GBK`, subject: shp.name });
      return {
        files: [{ name: file, bytes }],
        path: `${file}/${shp.name}`,
        vsi: ['vsizip'],
        openOptions: cpg ? [] : [`ENCODING=${encoding}`],
        encoding,
        warnings,
        prj,
      };
    });
  }
  if (format === 'xlsx') {
    zipEntries(bytes, name);
    return [{ files: [{ name: file, bytes }], path: file, vsi: [], openOptions: ['HEADERS=DISABLE', 'FIELD_TYPES=STRING'], encoding: null, warnings: [] }];
  }
  if (format === 'kmz') {
    const kml = zipEntries(bytes, name).find((e) => e.name.toLowerCase().endsWith('.kml'))!;
    return [{ files: [{ name: file, bytes }], path: `${file}/${kml.name}`, vsi: ['vsizip'], openOptions: [], encoding: null, warnings: [] }];
  }
  if (format === 'csv') {
    // GDAL reads CSV as UTF-8; a spreadsheet saved as CSV on a Chinese Windows is GBK
    const utf8 = isUtf8(bytes);
    const text = utf8 ? bytes : new Uint8Array(Buffer.from(iconv.decode(Buffer.from(bytes), 'gb18030'), 'utf8'));
    return [
      {
        files: [{ name: file, bytes: text }],
        path: file,
        vsi: [],
        openOptions: ['AUTODETECT_TYPE=NO', 'KEEP_GEOM_COLUMNS=YES'],
        encoding: utf8 ? 'UTF-8' : 'GBK',
        warnings: [],
      },
    ];
  }
  return [{ files: [{ name: file, bytes }], path: file, vsi: [], openOptions: [], encoding: null, warnings: [] }];
}

/** The arguments a sheet (no geometry, every row) is read out with, at upload and at the check alike. */
const SHEET_ARGS = ['-f', 'GeoJSON', '-lco', 'COORDINATE_PRECISION=9'];
/** Sheets up to this many rows are kept from the upload for the check (a bigger one is refused at the check anyway). */
const SHEET_KEEP_ROWS = 300_000;
/** Whole sheets as GDAL wrote them out at upload, by job and layer: the check reads them instead of opening the file again. */
const sheets = new LRUCache<string, Uint8Array>({ max: 2 });

/** The first features of a FeatureCollection GDAL wrote. */
function firstFeatures(bytes: Uint8Array, n: number): GeoJSON.FeatureCollection {
  const all = parseCollection(bytes);
  return { ...all, features: all.features.slice(0, n) };
}

/** The one kind (as multi) of a collection's shapes: MultiPolygon for Polygons and MultiPolygons, say; else Unknown. */
function kindOfShapes(fc: GeoJSON.FeatureCollection): string {
  const kinds = new Set(fc.features.map((f) => f.geometry?.type.replace(/^Multi/, '')).filter(Boolean));
  const [one] = kinds;
  return kinds.size === 1 && one !== 'GeometryCollection' ? `Multi${one}` : 'Geometry';
}

/**
 * What GDAL said of a file it could not open, in words fit for the person who sent it: GDAL's own message names its
 * working paths (`/vsizip//output/<job>/upload.zip/a.shp`), the SQL it asked of a GeoPackage, or (where it wrote
 * numbers JSON has none for) our parser's complaint. The file's own names are kept; everything of ours is not.
 */
export function gdalReason(message: string): string {
  const first = message.split('\n').find((l) => l.trim()) ?? '';
  const text = first.replace(/^\s*(ERROR|Warning)\s+\d+:\s*/i, '').trim();
  if (/sqlite|SELECT\s|file is not a database/i.test(text)) return 'it is not a GeoPackage (SQLite) database, or it is damaged';
  if (/is not valid JSON|Unexpected token|JSON/i.test(text))
    return 'it holds coordinates or values that are not numbers (too large, or not written as numbers)';
  // `/output/<job>/upload.xlsx`, `/vsizip//output/<job>/upload.zip/村界.shp`: the name inside the upload only
  const named = text.replace(/[`'"]?\/(?:vsi\w+\/+)?[^\s`'"]*\/([^/\s`'"]+)[`'"]?/g, (_m, base: string) => {
    const name = base.replace(/[.,;:]+$/, '');
    // (the upload itself is stored under a name of ours)
    return /^upload\.\w+$/.test(name) ? 'the file' : `“${name}”`;
  });
  if (/not recognized as a supported file format/i.test(named))
    return `${named.replace(/\s*not recognized as a supported file format\.?/i, '')} is not in a format GDAL reads, or is damaged`.trim();
  return named.length > 200 ? `${named.slice(0, 200)}…` : named || 'it is damaged, or not the format its name says';
}

/** Opens a dataset for a job, runs `fn`, and always lets GDAL drop it. */
async function withDataset<T>(job: string, o: Opening, fn: (layers: GdalLayerInfo[], warnings: string[]) => Promise<T>): Promise<T> {
  try {
    const opened = await gdalOpen(
      job,
      o.files.map((f) => ({ name: f.name, bytes: f.bytes.slice() })),
      o.path,
      o.openOptions,
      o.vsi,
      o.drivers,
    ).catch((err: Error) => {
      // (a file that keeps GDAL busy past its time limit, a GeoPackage view that never ends: 422 too_slow, the thread started afresh)
      if (err instanceof GdalTimeout) throw err;
      throw new InputError('unreadable_file', `GDAL cannot read the file: ${gdalReason(err.message)}`, 'file');
    });
    return await fn(opened.layers, opened.warnings);
  } finally {
    await gdalDrop(job);
  }
}

/** The rows of a spreadsheet layer read without a header: `Field1…n` as the cells of each row. */
function cellsOf(props: Record<string, unknown>): unknown[] {
  const out: unknown[] = [];
  for (const [k, v] of Object.entries(props)) {
    const m = /^Field(\d+)$/.exec(k);
    if (m) out[Number(m[1]) - 1] = v;
  }
  return out;
}

const parseCollection = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as GeoJSON.FeatureCollection;

/** Header names of a sheet: its header row's cells, blanks and repeats given a number. */
function headerNames(cells: unknown[]): string[] {
  const seen = new Set<string>();
  return cells.map((c, i) => {
    let n = c === null || c === undefined || String(c).trim() === '' ? `列${i + 1}` : String(c).trim();
    while (seen.has(n)) n = `${n}_${i + 1}`;
    seen.add(n);
    return n;
  });
}

/** The levels a layer's first features name in its level field (a sample that cannot be read: none, and the guess goes by the fields). */
async function levelsOf(job: string, layer: string, field: string): Promise<string[] | undefined> {
  try {
    const sample = parseCollection(await gdalRead(job, layer, ['-f', 'GeoJSON', '-limit', '20']));
    return [...new Set(sample.features.map((f) => String(f.properties?.[field] ?? '').trim()))].filter((v) => v !== '');
  } catch {
    return undefined;
  }
}

/** What a file holds: its layers, each with geometry type, count, fields, declared system and encoding. */
export async function inspectFile(job: string, name: string, upload: Uint8Array): Promise<Inspected> {
  const format = detectFormat(name, upload);
  // (after detectFormat, which refuses a zip bomb before anything is unpacked; a sheet's own names are GDAL's business)
  const bytes = format === 'shapefile' || format === 'kmz' ? withUtf8Names(upload) : upload;
  const layers: LayerSummary[] = [];
  const warnings: FileWarning[] = [];
  const kml = kmlAttributes(format, name, bytes);
  let sampled = 0;
  for (const o of openings(format, name, bytes)) {
    warnings.push(...o.warnings);
    await withDataset(job, o, async (infos) => {
      for (const l of infos) {
        const g = l.geometryFields[0];
        let fields = l.fields.map((f) => f.name);
        let header: number | null = null;
        let count = l.featureCount ?? 0;
        const extended = kmlLayerData(kml, l.name, count);
        if (extended) fields = [...fields, ...kmlFieldNames(extended).filter((f) => !fields.includes(f))];
        if (format === 'xlsx') {
          // A sheet GDAL has just parsed whole (its count needs that) is read out whole too, while it is
          // open, and kept for the check that follows: opening it again cost about 3 s for 130,000 rows.
          const whole = count <= SHEET_KEEP_ROWS ? await gdalRead(job, l.name, SHEET_ARGS) : null;
          if (whole) sheets.set(`${job}|${l.name}`, whole);
          const sample = whole ? firstFeatures(whole, 12) : parseCollection(await gdalRead(job, l.name, ['-f', 'GeoJSON', '-limit', '12']));
          const rows = sample.features.map((f) => cellsOf(f.properties ?? {}));
          header = headerRow(rows);
          fields = headerNames(rows[header] ?? []);
          count = Math.max(0, count - header - 1);
          if (header > 0) {
            warnings.push({
              code: 'header_row',
              message: `${l.name}: the header is row ${header + 1} (the rows above it look like merged headings)`,
              subject: String(header + 1),
            });
          }
        }
        // A layer GDAL calls Unknown (Geometry) because it mixes Polygon and MultiPolygon (a GeoJSON or KML file does, as
        // its tool wrote each shape): named by what its first shapes are when they are all of one kind.
        let geometryType = g?.type && g.type !== 'None' ? g.type : null;
        if ((geometryType === 'Unknown' || geometryType === 'Geometry') && count > 0)
          geometryType = kindOfShapes(parseCollection(await gdalRead(job, l.name, ['-f', 'GeoJSON', '-limit', '50'])));
        const levelField = geometryType ? fields.find((f) => /^(level|层级)$/i.test(f)) : undefined;
        const levels = levelField ? await levelsOf(job, l.name, levelField) : undefined;
        const crs = declaredCrs(g?.coordinateSystem?.projjson);
        // (the first layers' only: a GeoPackage of thousands of layers without a system is not read a thousand times more)
        const sampleBox =
          geometryType && !crs && count > 0 && sampled++ < MAX_SHAPEFILES
            ? boxOf(
                parseCollection(await gdalRead(job, l.name, ['-f', 'GeoJSON', '-limit', '50'])).features.map((f) => ({ properties: {}, geometry: f.geometry })),
              )
            : null;
        if (o.prj && !crs) {
          warnings.push({ code: 'unreadable_prj', message: `the .prj of ${l.name} cannot be read: choose its coordinate system`, subject: l.name });
        }
        layers.push({
          // a GeoJSON or CSV file is one layer, named as the file is (GDAL names it after our copy)
          name: SINGLE_LAYER.has(format) && infos.length === 1 ? stem(name) : l.name,
          geometryType,
          count,
          fields,
          crs,
          encoding: o.encoding,
          headerRow: header,
          ...(levels ? { levels } : {}),
          ...(sampleBox ? { sampleBox } : {}),
        });
      }
    });
  }
  if (layers.length === 0) throw new InputError('no_layers', `${name} holds no layer GDAL can read`, 'file');
  return { format, layers, warnings };
}

export interface ReadOptions {
  /** The system chosen in the wizard, over what the file declares (or where it declares none). */
  crs: CrsCode | null;
  /** For a layer without geometry: the fields holding the coordinates. */
  lon?: string | undefined;
  lat?: string | undefined;
  /** Only the first rows (a sample for guessing which field holds what). */
  limit?: number | undefined;
}

/**
 * Every row of a layer: its properties by field name, its geometry in lon/lat (WGS 84), and for a
 * sheet or CSV a point made from its coordinate fields (in the system chosen).
 */
export async function readLayer(job: string, name: string, upload: Uint8Array, layer: string, o: ReadOptions): Promise<{ rows: Row[]; crs: CrsCode | null }> {
  const format = detectFormat(name, upload);
  const bytes = format === 'shapefile' || format === 'kmz' ? withUtf8Names(upload) : upload;
  const all = openings(format, name, bytes);
  const opening = all.find((x) => x.path.endsWith(`/${layer}.shp`) || x.path.toLowerCase().endsWith(`/${layer.toLowerCase()}.shp`)) ?? all[0]!;
  // A whole sheet kept from the upload needs no opening at all (a sheet has no geometry and no system).
  const kept = format === 'xlsx' && o.limit === undefined ? sheets.get(`${job}|${layer}`) : undefined;
  const open = <T>(fn: (infos: GdalLayerInfo[]) => Promise<T>): Promise<T> =>
    kept ? fn([{ name: layer, geometryFields: [], fields: [] }]) : withDataset(job, opening, fn);
  return open(async (infos) => {
    const info = infos.find((l) => l.name === layer) ?? (SINGLE_LAYER.has(format) && infos.length === 1 ? infos[0] : undefined);
    if (!info) throw new InputError('unknown_layer', `the file has no layer ${JSON.stringify(layer)}`, 'layer');
    const declared = declaredCrs(info.geometryFields[0]?.coordinateSystem?.projjson);
    const hasGeometry = !!info.geometryFields[0]?.type && info.geometryFields[0].type !== 'None';
    const args = [
      '-f',
      'GeoJSON',
      '-lco',
      'COORDINATE_PRECISION=9',
      ...(hasGeometry ? gdalReprojection(declared, o.crs) : []),
      // (a sheet's header may sit a dozen rows down)
      // (KML's attributes are joined to its placemarks by count: read whole; KML is small)
      ...(o.limit !== undefined && format !== 'kml' && format !== 'kmz' ? ['-limit', String(o.limit + 12)] : []),
    ];
    const chosen = o.crs ?? declared;
    // Metres read as degrees (or degrees as metres) are numbers PROJ cannot take: say which choice is wrong.
    const mismatch = (box?: [number, number, number, number] | null) =>
      new InputError('crs_mismatch', `the coordinates of ${info.name} do not fit ${chosen}: choose another coordinate system`, 'crs', {
        crs: chosen ?? '',
        suggest: 'none',
        // the numbers as they are, for the caller to guess their system from
        ...(box ? { box } : {}),
      });
    const fc = parseCollection(
      kept ??
        (await gdalRead(job, info.name, args).catch((err: unknown) => {
          throw hasGeometry && chosen ? mismatch() : err;
        })),
    );
    let rows: Row[] = fc.features.map((f) => ({ properties: f.properties ?? {}, geometry: f.geometry }));
    if (hasGeometry && chosen && isLonLat(chosen) && !fitsLonLat(rows)) throw mismatch(boxOf(rows));
    const extended = kmlLayerData(kmlAttributes(format, name, bytes), info.name, rows.length);
    if (extended) rows = rows.map((r, i) => ({ ...r, properties: { ...extended[i], ...r.properties } }));
    if (format === 'xlsx') {
      const cells = rows.map((r) => cellsOf(r.properties));
      const h = headerRow(cells);
      const names = headerNames(cells[h] ?? []);
      rows = cells.slice(h + 1).map((c) => ({ properties: Object.fromEntries(names.map((n, i) => [n, c[i] ?? null])), geometry: null }));
    }
    if (o.limit !== undefined) rows = rows.slice(0, o.limit);
    // (a name as it reads: no control character, turn of direction or invisible character comes in from a file)
    rows = rows.map((r) => ({ ...r, properties: readable(r.properties) }));
    const crs = o.crs ?? declared;
    if (hasGeometry) {
      if (crs && !isLonLat(crs)) return { rows, crs };
      return { rows: rows.map((r) => ({ ...r, geometry: r.geometry && mapPositions(r.geometry, (p) => undoObfuscation(crs, p)) })), crs };
    }
    if (!o.lon || !o.lat) return { rows, crs };
    return { rows: await pointsFromFields(job, rows, o.lon, o.lat, crs ?? 'EPSG:4326'), crs: crs ?? 'EPSG:4326' };
  });
}

/** A row's cells as they read: see `fileText` (the field names stay as the file's layer gives them, which the fields are chosen by). */
function readable(properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(properties)) out[k] = typeof v === 'string' ? fileText(v) : v;
  return out;
}

/** The first rows' coordinates' box, as they stand. */
function boxOf(rows: Row[]): [number, number, number, number] | null {
  const b = [Infinity, Infinity, -Infinity, -Infinity] as [number, number, number, number];
  const visit = (c: unknown): void => {
    if (typeof (c as number[])[0] === 'number') {
      const [x, y] = c as [number, number];
      b[0] = Math.min(b[0], x);
      b[1] = Math.min(b[1], y);
      b[2] = Math.max(b[2], x);
      b[3] = Math.max(b[3], y);
    } else (c as unknown[]).forEach(visit);
  };
  for (const r of rows.slice(0, 5_000)) if (r.geometry && 'coordinates' in r.geometry) visit(r.geometry.coordinates);
  return b.every(Number.isFinite) ? b : null;
}

/** Whether the first rows' coordinates could be longitude and latitude at all. */
function fitsLonLat(rows: Row[]): boolean {
  let ok = true;
  const visit = (c: unknown): void => {
    if (!ok) return;
    if (typeof (c as number[])[0] === 'number') {
      const [x, y] = c as [number, number];
      if (!(Math.abs(x) <= 180 && Math.abs(y) <= 90)) ok = false;
    } else (c as unknown[]).forEach(visit);
  };
  for (const r of rows.slice(0, 5_000)) if (r.geometry && 'coordinates' in r.geometry) visit(r.geometry.coordinates);
  return ok;
}

function mapPositions(g: GeoJSON.Geometry, f: (p: [number, number]) => [number, number]): GeoJSON.Geometry {
  const walk = (c: unknown): unknown => (typeof (c as number[])[0] === 'number' ? f([(c as number[])[0]!, (c as number[])[1]!]) : (c as unknown[]).map(walk));
  return g.type === 'GeometryCollection'
    ? { ...g, geometries: g.geometries.map((x) => mapPositions(x, f)) }
    : ({ ...g, coordinates: walk(g.coordinates) } as GeoJSON.Geometry);
}

const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v.trim()) : NaN);

/** Points from two coordinate fields: lon/lat as they are (GCJ-02/BD-09 undone), metres through PROJ. */
async function pointsFromFields(job: string, rows: Row[], lon: string, lat: string, crs: CrsCode): Promise<Row[]> {
  const xy = rows.map((r) => [num(r.properties[lon]), num(r.properties[lat])] as [number, number]);
  const ok = (p: [number, number]) => Number.isFinite(p[0]) && Number.isFinite(p[1]);
  if (isLonLat(crs)) return rows.map((r, i) => ({ ...r, geometry: ok(xy[i]!) ? { type: 'Point', coordinates: undoObfuscation(crs, xy[i]!) } : null }));
  // (rows without both numbers have no point to project)
  const input = {
    type: 'FeatureCollection',
    features: xy.flatMap((p, i) => (ok(p) ? [{ type: 'Feature', properties: { i }, geometry: { type: 'Point', coordinates: p } }] : [])),
  };
  const out = parseCollection(
    await gdalWrite(
      job,
      [{ name: 'points', geojson: JSON.stringify(input) }],
      ['-f', 'GeoJSON', '-s_srs', crs, '-t_srs', 'EPSG:4490', '-lco', 'COORDINATE_PRECISION=9'],
      'points.geojson',
    ),
  );
  const byIndex = new Map(out.features.map((f) => [f.properties!.i as number, f.geometry]));
  return rows.map((r, i) => ({ ...r, geometry: byIndex.get(i) ?? null }));
}
