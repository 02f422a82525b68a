/**
 * Mapbox Vector Tiles of the plan: the boundaries of each level and the households, cut to the
 * tile by the database. On PostgreSQL the database encodes the tile itself (`ST_AsMVT`); the
 * embedded database's PostGIS has no `ST_AsMVT`, so there it hands the features of the tile, as
 * GeoJSON clipped to the tile and its margin, to `geojson-vt` (which cuts and simplifies them
 * exactly as MapLibre does GeoJSON sources) and `vt-pbf` (which writes the tile). Both answer
 * the same features with the same properties under the same layer name; a test holds them to it.
 */
import GeoJSONVT from 'geojson-vt';
import vtpbf from 'vt-pbf';
import type { Queryable } from './db.ts';
import { filterSql, type IncidentFilter } from './incidents.ts';
import { householdsAt, planAt, type PlanTime } from './region-queries.ts';

export const TILE_LAYERS = ['city', 'district', 'township', 'village', 'grid', 'households'] as const;
export type TileLayer = (typeof TILE_LAYERS)[number];

/** Tile units per side, and the margin drawn beyond each edge (lines and labels that cross it join up). */
const EXTENT = 4096;
const BUFFER = 64;
/** Below this zoom households come as counts per cell of CELL tile units (16 of the map's 256 px). */
export const HOUSEHOLD_POINTS_ZOOM = 14;
const CELL = 256;
export const MAX_TILE_ZOOM = 22;
/**
 * Grid tiles carry the grid's and its worker's names from this zoom, where a grid is big enough
 * to be read; zoomed out they leave them out, so renaming a grid retires only these tiles
 * (migration 032 records such a change as 'grid-names').
 */
export const GRID_NAMES_ZOOM = 14;

/** The tile's bounds in lon/lat, its margin included. */
export function tileBounds(z: number, x: number, y: number, margin = BUFFER / EXTENT): [number, number, number, number] {
  const n = 2 ** z;
  const lon = (tx: number) => (tx / n) * 360 - 180;
  const lat = (ty: number) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * ty) / n))) * 180) / Math.PI;
  return [lon(x - margin), lat(y + 1 + margin), lon(x + 1 + margin), lat(y - margin)].map((v, i) =>
    i % 2 === 0 ? Math.max(-180, Math.min(180, v)) : Math.max(-85.06, Math.min(85.06, v)),
  ) as [number, number, number, number];
}

/** The columns of a region tile: what the map styles and labels by (a grid's names only from GRID_NAMES_ZOOM). */
function regionColumns(layer: TileLayer, at: PlanTime, z: number): string {
  const named = layer !== 'grid' || z >= GRID_NAMES_ZOOM;
  const common = `r.id, ${named ? 'r.name, ' : ''}r.code, ${at ? householdsAt('r') : 'r.household_count'} AS households`;
  if (layer !== 'grid') return common;
  const worker = named ? ` ${at ? 'NULL::text' : 'w.name'} AS "workerName",` : '';
  return `${common}, r.parent_id AS "parentId", r.grid_type AS "gridType", r.worker_id AS "workerId",${worker}
    CASE WHEN gr.lo IS NOT NULL AND ${at ? householdsAt('r') : 'r.household_count'} < gr.lo THEN 'under'
         WHEN gr.hi IS NOT NULL AND ${at ? householdsAt('r') : 'r.household_count'} > gr.hi THEN 'over' ELSE 'within' END AS status,
    ${at ? 'NULL::boolean' : 'gr.passes'} AS passes`;
}

/**
 * The rows of a tile with their geometry as `geom` (lon/lat), from `$1..$4` (the box) and `$5` (zoom);
 * households also from `$6`, the area whose households alone are shown (null: all of them).
 */
function tileRows(layer: TileLayer, at: PlanTime, z: number): string {
  const box = 'ST_MakeEnvelope($1, $2, $3, $4, 4326)';
  if (layer === 'households') {
    // Counts per cell below HOUSEHOLD_POINTS_ZOOM, the households themselves above: the cell is CELL
    // tile units, in Web Mercator metres at this zoom; its point is the mean of its households.
    // Whoever is given an area sees its households only: those filed in a region of it.
    const inArea = '($6::int IS NULL OR h.region_id IN (SELECT id FROM gp_subtree($6::int)))';
    return `SELECT * FROM (
      SELECT NULL::int AS id, count(*)::int AS count, sum(h.size)::int AS people, ST_Centroid(ST_Collect(h.geom)) AS geom
      FROM household h
      WHERE $5 < ${HOUSEHOLD_POINTS_ZOOM} AND h.geom && ${box} AND ${inArea}
      GROUP BY ST_SnapToGrid(ST_Transform(h.geom, 3857), 40075016.68557849 / 2 ^ $5 / ${EXTENT / CELL})
      UNION ALL
      SELECT h.id, 1, h.size, h.geom FROM household h WHERE $5 >= ${HOUSEHOLD_POINTS_ZOOM} AND h.geom && ${box} AND ${inArea}) AS hh`;
  }
  const joins = `${at ? '' : 'LEFT JOIN worker w ON w.id = r.worker_id'} ${layer === 'grid' ? 'LEFT JOIN grid_range gr ON gr.grid_id = r.id' : ''}`;
  return `SELECT ${regionColumns(layer, at, z)}, r.geom FROM ${planAt(at)} r ${joins}
    WHERE r.level = '${layer}' AND r.geom && ${box}`;
}

const DEFAULT_LAYER_NAME: Record<TileLayer, string> = {
  city: 'city',
  district: 'district',
  township: 'township',
  village: 'village',
  grid: 'grid',
  households: 'households',
};

/**
 * One tile of one layer, encoded; an empty tile is a valid tile of no bytes. `area`: the region whose
 * households alone the households layer shows (a principal given an area), else all.
 */
export async function vectorTile(
  db: Queryable & { driver?: 'pg' | 'pglite' },
  layer: TileLayer,
  z: number,
  x: number,
  y: number,
  at: PlanTime = null,
  area: number | null = null,
): Promise<Uint8Array> {
  const bounds = tileBounds(z, x, y);
  const params = layer === 'households' ? [...bounds, z, area] : bounds;
  return encodeRows(db, DEFAULT_LAYER_NAME[layer], tileRows(layer, at, z), params, columnsOf(layer, z), z, x, y);
}

/** Below this zoom incidents come as counts per cell of 16 of the map's 256 px; from it, one point each. */
export const INCIDENT_POINTS_ZOOM = 14;

/**
 * One tile of the incidents matching the analyze filters: below INCIDENT_POINTS_ZOOM the count of
 * each cell (`count`, and the highest `severity` in it) at the mean of its incidents, from it each
 * incident with `id`, `category`, `status` and `severity`. Cells are square in lon/lat, a sixteenth
 * of the tile wide and as tall on the ground at the tile's middle, so that a cell never straddles two tiles.
 */
export async function incidentTile(db: Queryable & { driver?: 'pg' | 'pglite' }, filter: IncidentFilter, z: number, x: number, y: number): Promise<Uint8Array> {
  const bounds = tileBounds(z, x, y, 0);
  const f = filterSql({ ...filter, bbox: tileBounds(z, x, y) }, 1);
  if (z >= INCIDENT_POINTS_ZOOM) {
    const rows = `SELECT i.id, 1 AS count, i.severity::int AS severity, i.category, i.status, i.geom FROM incident i WHERE ${f.where}`;
    return encodeRows(db, 'incidents', rows, f.params, 'g.id, g.count, g.severity, g.category, g.status', z, x, y);
  }
  const width = (bounds[2] - bounds[0]) / (EXTENT / CELL);
  const middle = ((bounds[1] + bounds[3]) / 2) * (Math.PI / 180);
  const n = f.params.length;
  const rows = `SELECT NULL::int AS id, count(*)::int AS count, max(i.severity)::int AS severity, ST_Centroid(ST_Collect(i.geom)) AS geom
    FROM incident i WHERE ${f.where}
    GROUP BY floor((ST_X(i.geom) - $${n + 1}::float8) / $${n + 3}::float8), floor((ST_Y(i.geom) - $${n + 2}::float8) / $${n + 4}::float8)`;
  return encodeRows(db, 'incidents', rows, [...f.params, bounds[0], bounds[1], width, width * Math.cos(middle)], 'g.id, g.count, g.severity', z, x, y);
}

/**
 * Rows (SQL whose `geom` is lon/lat, with `params` as $1…) as the one layer `name` of tile z/x/y,
 * with the properties `columns` (of `g`, the row with its geometry encoded).
 */
async function encodeRows(
  db: Queryable & { driver?: 'pg' | 'pglite' },
  name: string,
  rows: string,
  params: unknown[],
  columns: string,
  z: number,
  x: number,
  y: number,
): Promise<Uint8Array> {
  const n = params.length;
  if (db.driver === 'pg') {
    const { rows: out } = await db.query<{ tile: Uint8Array | null }>(
      `SELECT ST_AsMVT(f, '${name}', ${EXTENT}, 'geom', 'id') AS tile FROM (
         SELECT t.*, ST_AsMVTGeom(ST_Transform(t.geom, 3857), ST_TileEnvelope($${n + 1}, $${n + 2}, $${n + 3}), ${EXTENT}, ${BUFFER}, true) AS mvt
         FROM (${rows}) t) AS g
       CROSS JOIN LATERAL (SELECT g.mvt AS geom, ${columns}) AS f
       WHERE g.mvt IS NOT NULL`,
      [...params, z, x, y],
    );
    return new Uint8Array(out[0]?.tile ?? new Uint8Array(0));
  }
  // The embedded database: features clipped to the tile and its margin, cut and written in JS.
  // Zoomed out, a shape comes simplified to a quarter of a tile unit (a city's 21,500 grids in a few tiles would
  // otherwise cross the thread as every vertex); geojson-vt then simplifies to its own tolerance, as MapLibre would.
  const quarterUnit = 360 / 2 ** z / EXTENT / 4;
  const box = `ST_MakeEnvelope($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, 4326)`;
  // As one text: the embedded database hands over one long row far faster than thousands of short ones.
  const {
    rows: [packed],
  } = await db.query<{ fs: string | null }>(
    `SELECT '[' || string_agg(json_build_object('type', 'Feature', 'id', t.id, 'properties', to_jsonb(t) - 'geom' - 'id' - 'f',
       'geometry', ST_AsGeoJSON(CASE WHEN GeometryType(t.geom) = 'POINT' THEN t.geom
                                     ELSE ST_ClipByBox2D(${z < 14 ? `ST_Simplify(t.geom, ${quarterUnit}, true)` : 't.geom'}, ${box}) END, 7)::json)::text,
       ',') || ']' AS fs
     FROM (${rows}) t`,
    [...params, ...tileBounds(z, x, y)],
  );
  const features = packed?.fs ? (JSON.parse(packed.fs) as GeoJSON.Feature[]) : [];
  if (features.length === 0) return new Uint8Array(0);
  const index = new GeoJSONVT(
    { type: 'FeatureCollection', features: features.map((f) => (f.id === null ? { ...f, id: undefined } : f)) },
    { maxZoom: z, indexMaxZoom: 0, indexMaxPoints: 0, extent: EXTENT, buffer: BUFFER, tolerance: 3 },
  );
  const tile = index.getTile(z, x, y);
  if (!tile || tile.features.length === 0) return new Uint8Array(0);
  return vtpbf.fromGeojsonVt({ [name]: tile }, { version: 2, extent: EXTENT });
}

/** The properties each layer carries, as columns of `g` (the row with its encoded geometry). */
function columnsOf(layer: TileLayer, z: number): string {
  if (layer === 'households') return 'g.id, g.count, g.people';
  if (layer !== 'grid') return 'g.id, g.name, g.code, g.households';
  const names = z >= GRID_NAMES_ZOOM ? 'g.name, g."workerName", ' : '';
  return `g.id, ${names}g.code, g.households, g."parentId", g."gridType", g."workerId", g.status, g.passes`;
}
