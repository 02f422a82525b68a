import { splitBlock, type Atom, type InfeasibleReason, type SplitRule, type XY } from '../domain/autosplit.ts';
import { InputError, notFound } from '../domain/errors.ts';
import type { Position } from '../domain/geojson-input.ts';
import { rangeStatus, type GridType, type RangeStatus } from '../domain/grid-types.ts';
import { LocalFrame } from '../domain/local-frame.ts';
import type { Queryable } from './db.ts';
import { BARRIER_CLASSES, type BarrierClass, type BarrierPreference } from '../domain/barrier-classes.ts';
import { gridsToKeep } from './autosplit-rebalance.ts';
import { barrierPreferences } from './barriers.ts';
import { multiPolygonEwkb } from './ewkb.ts';

/** Work per incident of the last 12 months, in households: four incidents a year weigh as one household. */
export const DEFAULT_INCIDENT_WEIGHT = 0.25;

export interface AutosplitOptions {
  /** Applies to every village; by default each village's own type. */
  gridType?: GridType | undefined;
  min?: number | undefined;
  max?: number | undefined;
  target?: number | undefined;
  /** Roads, rivers, railways drawn for this split: lines no grid should cross. */
  barriers?: Position[][] | undefined;
  /** Whether to cut along the imported lines (GET /api/barriers) crossing the area: by default, yes. */
  importedBarriers?: boolean | undefined;
  /** How each class of imported line is treated, over the defaults (main roads, rivers, railways: never crossed; the rest: followed). */
  barrierClasses?: Partial<Record<BarrierClass, BarrierPreference>> | undefined;
  /** Grids to keep as they are; only the rest of their village is divided. */
  keep?: number[] | undefined;
  /**
   * Minimal change: keep every grid that still meets its rule and divide only the rest (grids out
   * of range, land without a grid), releasing a kept neighbour where the rest is too small alone.
   */
  rebalance?: boolean | undefined;
  /** Where the households are: the seed stages them in a temporary table. */
  householdTable?: 'household' | 'seed_household';
  onProgress?: ((done: number, total: number) => void | Promise<void>) | undefined;
  /** false: only fill `autosplit_grid` (the seed needs no per-grid report). */
  describe?: boolean;
  /** Work per incident of the last 12 months, in households (workload = households + weight × incidents). */
  incidentWeight?: number | undefined;
  /** Balance the workload, not only the households (the counts still keep to the range). */
  balanceWorkload?: boolean | undefined;
  /** Count each grid's incidents and workload (implied by the two above). */
  workload?: boolean | undefined;
  /** How far apart (m) a grid's households may lie (walking distance in scattered villages): wider groups are cut again where the range allows. */
  maxWidthM?: number | undefined;
  /** false: the households' own Voronoi outlines (the engine before straight borders); for comparison. */
  straight?: boolean;
}

export interface PlannedVillage {
  id: number;
  code: string;
  name: string;
  version: number;
  gridType: GridType;
  /** The type was not set for the village nor shown by its grids: taken from its name (社区 a residential community, else rural). */
  typeByName?: boolean;
  rule: SplitRule;
}

export interface PlannedGrid {
  ord: number;
  villageId: number;
  households: number;
  gridType: GridType;
  min: number;
  max: number;
  status: RangeStatus;
  /** Polsby–Popper: 4πA/P², 1 for a disc. */
  compactness: number;
  areaM2: number;
  /** The grid's widest span, corner to corner (m): how far its worker may have to walk across it. */
  widthM: number;
  /** Border drawn inside the area (m): not on the village's outline or a kept grid's (null: not measured, see `borders`). */
  borderM: number | null;
  /** Of that border, the length not along an imported or drawn line (m). */
  offBarrierM: number | null;
  /** Incidents reported in it in the last 12 months (null: not counted — only when the workload is asked for). */
  incidents: number | null;
  /** Households plus incidents × the incident weight: the work a grid asks of its worker. */
  workload: number;
  parts: number;
  reason: InfeasibleReason | null;
  /** The grid spans a line no grid should cross (drawn, or a class marked `never`). */
  crossesBarrier: boolean;
  /** Straight borders (a power cell); false: between the houses, where straight ones would leave the range. */
  straight: boolean;
}

/**
 * Plans grids for every village in or under `regionId` into the temporary table `autosplit_grid`
 * (village_id, ord, geom), from which a proposal is read or a commit is written.
 *
 *   village − kept grids ─► blocks cut by barriers ─► small blocks join a neighbour
 *   ─► per block: addresses ─► splitBlock ─► cells ∩ block ─► fragments join a neighbour
 */
/**
 * Plans new grids for every village under a region, lap by lap: villages → blocks (cut along the
 * barriers) → addresses per block → pieces (small blocks merged) → groups (`splitBlock`) → clipped
 * to their pieces → described. The plan sits in temporary tables for the caller to commit.
 */
export async function planGrids(
  tx: Queryable,
  regionId: number,
  options: AutosplitOptions,
): Promise<{ villages: PlannedVillage[]; grids: PlannedGrid[]; keep: number[]; released: number[] }> {
  const lap = stopwatch();
  const villages = await villagesOf(tx, regionId, options);
  await tx.query(
    `CREATE TEMP TABLE IF NOT EXISTS autosplit_block (village_id int, block int, hard int, piece int, households int, geom geometry) ON COMMIT DROP`,
  );
  await tx.query(`CREATE TEMP TABLE IF NOT EXISTS autosplit_piece (village_id int, piece int, blocks int, geom geometry) ON COMMIT DROP`);
  await tx.query(`CREATE TEMP TABLE IF NOT EXISTS autosplit_grid (village_id int, piece int, ord int, reason text, geom geometry) ON COMMIT DROP`);
  await tx.query('TRUNCATE autosplit_block, autosplit_piece, autosplit_grid');
  lap('villages');
  let keep = await checkKeep(tx, villages, options.keep ?? []);
  let released: number[] = [];
  if (options.rebalance) {
    const minOf = new Map(villages.map((v) => [v.id, v.rule.min]));
    const kept = await gridsToKeep(tx, regionId, minOf, { min: options.min, max: options.max });
    const asked = new Set(keep);
    keep = [...new Set([...keep, ...kept.keep])].sort((a, b) => a - b);
    released = kept.released.filter((id) => !asked.has(id));
  }
  const barriers = options.barriers?.length ? JSON.stringify({ type: 'MultiLineString', coordinates: options.barriers }) : null;
  const preference = barrierPreferences(options.barrierClasses);
  const use: BarrierUse =
    options.importedBarriers === false
      ? { never: [], prefer: [] }
      : { never: BARRIER_CLASSES.filter((c) => preference[c] === 'never'), prefer: BARRIER_CLASSES.filter((c) => preference[c] === 'prefer') };
  await cutBlocks(tx, villages, keep, barriers, use);
  lap('blocks');
  const table = options.householdTable ?? 'household';
  const addresses = await addressesPerBlock(tx, table);
  lap('blocks+addresses');
  const pieces = await mergeSmallBlocks(tx, villages, addresses);
  lap('pieces');
  const loads = options.balanceWorkload && table === 'household' ? await incidentsPerAddress(tx) : null;
  const weight = options.incidentWeight ?? DEFAULT_INCIDENT_WEIGHT;
  const grids = await splitPieces(
    villages,
    pieces,
    options.onProgress,
    { straight: options.straight !== false, maxWidth: options.maxWidthM },
    loads && { loads, weight },
  );
  lap('split');
  await clipToPieces(tx, grids);
  lap('clip');
  const straightOrds = new Set(grids.filter((g) => g.straight).map((g) => g.ord));
  const described =
    options.describe === false ? [] : (await describe(tx, villages, table, workloadWeight(options))).map((g) => ({ ...g, straight: straightOrds.has(g.ord) }));
  lap('describe');
  return { villages, grids: described, keep, released };
}

/** An area (SQL) cut along lines (SQL, a MultiLineString or null) into faces; dangling ends of a line cut nothing. */
const cutAlong = (area: string, lines: string) =>
  `CASE WHEN ${lines} IS NULL OR NOT ST_Intersects(${area}, ${lines}) THEN ${area} ELSE (
     SELECT ST_Collect(f.geom) FROM ST_Dump((SELECT ST_Polygonize(l.lines) FROM (SELECT ST_Union(ST_Boundary(${area}), ST_Intersection(${lines},
       ${area}, gp_grid()), gp_grid()) AS lines) AS l)) f
     WHERE ST_Intersects(${area}, ST_PointOnSurface(f.geom))) END`;

/**
 * Each village's area (less the grids kept) cut into blocks: first along the lines no grid may cross
 * (drawn barriers, imported classes marked `never`) into hard blocks, then each hard block along the
 * lines grids should follow (`prefer`). Blocks too small for a grid join a neighbour later.
 */
async function cutBlocks(tx: Queryable, villages: PlannedVillage[], keep: number[], drawn: string | null, classes: BarrierUse): Promise<void> {
  await tx.query(
    `WITH area AS (
       SELECT v.id, gp_difference(v.geom, (SELECT ST_Union(g.geom, gp_grid()) FROM region g WHERE g.parent_id = v.id AND g.id = ANY($2::int[]))) AS geom
       FROM region v WHERE v.id = ANY($1::int[])
     ),
     drawn AS (SELECT ST_SetSRID(ST_GeomFromGeoJSON($3), 4326) AS geom),
     lined AS (
       SELECT a.id, a.geom,
              (SELECT ST_Collect(d.geom) FROM (
                 SELECT drawn.geom AS g FROM drawn WHERE drawn.geom && a.geom
                 UNION ALL SELECT b.geom FROM barrier b WHERE b.present AND b.class = ANY($4::text[]) AND b.geom && a.geom) x,
                 ST_Dump(x.g) d) AS hard,
              (SELECT ST_Collect(d.geom) FROM barrier b, ST_Dump(b.geom) d WHERE b.present AND b.class = ANY($5::text[]) AND b.geom && a.geom) AS soft
       FROM area a WHERE NOT ST_IsEmpty(a.geom)
     ),
     hard AS (
       SELECT c.id, c.soft, row_number() OVER (PARTITION BY c.id ORDER BY ST_XMin(d.geom), ST_YMin(d.geom), ST_Area(d.geom)) AS hard, d.geom
       FROM (SELECT l.id, l.soft, ${cutAlong('l.geom', 'l.hard')} AS geom FROM lined l) c, ST_Dump(c.geom) d
     )
     INSERT INTO autosplit_block (village_id, block, hard, geom)
     SELECT c.id, row_number() OVER (PARTITION BY c.id ORDER BY ST_XMin(d.geom), ST_YMin(d.geom), ST_Area(d.geom)), c.hard, d.geom
     FROM (SELECT h.id, h.hard, ${cutAlong('h.geom', 'h.soft')} AS geom FROM hard h) c, ST_Dump(c.geom) d
     -- seams under a square metre between the grids kept and the rest are no block
     WHERE cardinality($2::int[]) = 0 OR gp_area_m2(d.geom) >= 1`,
    [villages.map((v) => v.id), keep, drawn, classes.never, classes.prefer],
  );
}

/**
 * Addresses per block: households at one location count together; one block each (a point on a
 * barrier takes the first). Sent as one row of arrays per block: far cheaper than a row per address.
 */
async function addressesPerBlock(tx: Queryable, table: string) {
  const { rows: perBlock } = await tx.query<{ village_id: number; block: number; xs: number[]; ys: number[]; ns: number[] }>(
    `SELECT village_id, block, array_agg(x ORDER BY x, y) AS xs, array_agg(y ORDER BY x, y) AS ys, array_agg(n ORDER BY x, y) AS ns FROM (
       SELECT village_id, block, x, y, count(*)::int AS n FROM (
         SELECT DISTINCT ON (h.id) b.village_id, b.block, ST_X(h.geom) AS x, ST_Y(h.geom) AS y
         FROM autosplit_block b JOIN ${table} h ON h.geom && b.geom AND ST_Intersects(b.geom, h.geom)
         ORDER BY h.id, b.village_id, b.block) AS located
       GROUP BY village_id, block, x, y) AS address
     GROUP BY village_id, block ORDER BY village_id, block`,
  );
  return perBlock.flatMap((b) => b.xs.map((x, i) => ({ village_id: b.village_id, block: b.block, x, y: b.ys[i]!, n: b.ns[i]! })));
}

/**
 * Incidents of the last 12 months, each counted at the address nearest to it in its block (for
 * balancing the workload): keyed by the address's lon,lat.
 */
async function incidentsPerAddress(tx: Queryable): Promise<Map<string, number>> {
  const { rows } = await tx.query<{ x: number; y: number; n: number }>(
    `SELECT near.x, near.y, count(*)::int AS n
     FROM autosplit_block b JOIN incident i ON i.geom && b.geom AND ST_Intersects(b.geom, i.geom) AND i.reported_at > now() - interval '12 months',
       LATERAL (SELECT ST_X(h.geom) AS x, ST_Y(h.geom) AS y FROM household h WHERE h.geom && b.geom AND ST_Intersects(b.geom, h.geom)
                ORDER BY h.geom <-> i.geom, h.id LIMIT 1) near
     GROUP BY near.x, near.y`,
  );
  return new Map(rows.map((r) => [`${r.x},${r.y}`, r.n]));
}

type SplitPiece = Awaited<ReturnType<typeof mergeSmallBlocks>>[number];

/** Every piece's addresses split into groups in a local frame in metres; a piece without households stays one empty grid. */
async function splitPieces(
  villages: PlannedVillage[],
  pieces: SplitPiece[],
  onProgress: AutosplitOptions['onProgress'],
  how: { straight: boolean; maxWidth: number | undefined },
  work: { loads: Map<string, number>; weight: number } | null,
) {
  const grids: (Planned & { straight: boolean })[] = [];
  let done = 0;
  for (const v of villages) {
    for (const piece of pieces.filter((p) => p.villageId === v.id)) {
      const frame = new LocalFrame(piece.walls[0]?.[0] ?? [0, 0]);
      const atoms: Atom[] = [];
      const where: Position[] = [];
      for (const a of piece.addresses) {
        const [x, y] = frame.toXY([a.x, a.y]);
        atoms.push(work ? { x, y, weight: a.n, load: a.n + work.weight * (work.loads.get(`${a.x},${a.y}`) ?? 0) } : { x, y, weight: a.n });
        where.push([a.x, a.y]);
      }
      const walls = piece.walls.map((ring) => ring.map((p) => frame.toXY(p) as XY));
      const groups = atoms.length > 0 ? splitBlock(atoms, walls, v.rule, how) : [];
      if (groups.length === 0) {
        grids.push({ village: v.id, piece: piece.piece, ord: grids.length + 1, reason: 'too_few_households', wkb: '', homes: [], straight: false });
        continue;
      }
      for (const g of groups) {
        const polygons = g.polygons.map((poly) => poly.map((ring) => ring.map((p) => frame.toLonLat(p))));
        grids.push({
          village: v.id,
          piece: piece.piece,
          ord: grids.length + 1,
          reason: g.reason,
          wkb: multiPolygonEwkb(polygons),
          homes: g.atoms.map((a) => ({ at: where[a]!, households: atoms[a]!.weight })),
          straight: g.straight,
        });
      }
    }
    await onProgress?.(++done, villages.length);
  }
  return grids;
}

async function villagesOf(tx: Queryable, regionId: number, options: AutosplitOptions): Promise<PlannedVillage[]> {
  const {
    rows: [region],
  } = await tx.query<{ level: string; name: string }>(`SELECT r.level, r.name FROM region r WHERE r.id = $1`, [regionId]);
  if (!region) throw notFound('region', regionId);
  if (region.level === 'grid') throw new InputError('not_divisible', `${region.name} is a grid: choose its village (or a township) to divide`, 'id');
  // Each village is divided by its own district's rules (a city holds several districts, each with its own).
  const { rows } = await tx.query<{
    id: number;
    code: string;
    name: string;
    version: number;
    grid_type: GridType | null;
    usual: GridType | null;
    district_id: number | null;
  }>(
    `SELECT v.id, v.code, v.name, v.version, v.grid_type,
            (SELECT g.grid_type FROM region g WHERE g.parent_id = v.id AND g.grid_type IS NOT NULL GROUP BY g.grid_type ORDER BY count(*) DESC,
              g.grid_type LIMIT 1) AS usual,
            (SELECT a.id FROM gp_ancestors(ARRAY[v.id]) a JOIN region d ON d.id = a.id WHERE d.level = 'district') AS district_id
     FROM gp_subtree($1) down JOIN region v ON v.id = down.id WHERE down.level = 'village' ORDER BY v.code`,
    [regionId],
  );
  if (rows.length === 0) throw new InputError('no_villages', `${region.name} has no villages or communities to divide into grids`, 'id');
  const districts = [...new Set(rows.map((v) => v.district_id).filter((d): d is number => d !== null))];
  const { rows: rules } = await tx.query<{ district_id: number | null; grid_type: GridType; min: number; max: number; target: number }>(
    `SELECT district_id, grid_type, min_households AS min, max_households AS max, target_households AS target FROM grid_type_rule
     WHERE district_id IS NULL OR district_id = ANY($1::int[]) ORDER BY district_id NULLS FIRST`,
    [districts],
  );
  const defaults = new Map(rules.filter((r) => r.district_id === null).map((r) => [r.grid_type, r]));
  const ruleOf = (district: number | null, type: GridType) =>
    rules.find((r) => r.district_id !== null && r.district_id === district && r.grid_type === type) ?? defaults.get(type);
  return rows.map((v) => {
    // A village nobody typed and without grids yet (a county's first split): a 社区 is a town's, divided as
    // 小区型; a 村 (or anything else) as 农村型 — said in the summary, never silently.
    const byName = !options.gridType && !v.grid_type && !v.usual;
    const gridType = options.gridType ?? v.grid_type ?? v.usual ?? (/社区$|居委会$|小区$/.test(v.name.trim()) ? 'residential' : 'rural');
    const base = ruleOf(v.district_id, gridType)!;
    const rule = { min: options.min ?? base.min, max: options.max ?? base.max, target: options.target ?? base.target };
    if (options.target === undefined && (rule.target < rule.min || rule.target > rule.max)) rule.target = Math.round((rule.min + rule.max) / 2);
    if (rule.min > rule.max)
      throw new InputError('invalid_range', `min ${rule.min} is above max ${rule.max} (${gridType})`, options.min !== undefined ? 'min' : 'max');
    if (rule.target < rule.min || rule.target > rule.max) {
      throw new InputError('invalid_range', `target ${rule.target} lies outside ${rule.min}–${rule.max} (${gridType})`, 'target');
    }
    return { id: v.id, code: v.code, name: v.name, version: v.version, gridType, rule, ...(byName ? { typeByName: true } : {}) };
  });
}

async function checkKeep(tx: Queryable, villages: PlannedVillage[], keep: number[]): Promise<number[]> {
  if (keep.length === 0) return [];
  const { rows } = await tx.query<{ id: number; level: string; parent_id: number | null; name: string }>(
    'SELECT id, level, parent_id, name FROM region WHERE id = ANY($1::int[])',
    [keep],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const inArea = new Set(villages.map((v) => v.id));
  keep.forEach((id, i) => {
    const r = byId.get(id);
    if (!r) throw notFound('region', id, `keep[${i}]`);
    if (r.level !== 'grid' || !inArea.has(r.parent_id!))
      throw new InputError('not_in_area', `${r.name} (${id}) is not a grid of the area being divided`, `keep[${i}]`);
  });
  return keep;
}

interface BarrierUse {
  never: string[];
  prefer: string[];
}

interface Piece {
  villageId: number;
  piece: number;
  addresses: { x: number; y: number; n: number }[];
  walls: Position[][];
}

/**
 * A detached part of a village (飞地) too small for a grid of its own — farmland across another
 * village, most often with nobody living there — borders no other block: it joins the nearest block
 * in another part of the village, whose grid then lies in both (the coverage check takes such a grid
 * as whole). Not a block walled in by grids that are kept: that one lies in a part with other blocks.
 */
async function joinDetachedParts(
  tx: Queryable,
  blocks: { village_id: number; block: number }[],
  roots: Set<number>,
  weight: number[],
  near: Map<number, unknown>[],
  minOf: Map<number, number>,
  join: (r: number, into: number) => void,
  find: (i: number) => number,
): Promise<void> {
  const lonely = [...roots].filter((r) => weight[r]! < minOf.get(blocks[r]!.village_id)! && near[r]!.size === 0);
  if (lonely.length === 0) return;
  const villages = [...new Set(lonely.map((r) => blocks[r]!.village_id))];
  // each block of those villages: the part of its village it lies in
  const { rows } = await tx.query<{ village_id: number; block: number; part: number }>(
    `SELECT b.village_id, b.block, (SELECT p.path[1] FROM ST_Dump(v.geom) p WHERE p.geom && b.geom AND ST_Intersects(p.geom, ST_PointOnSurface(b.geom))
                                     ORDER BY p.path[1] LIMIT 1) AS part
     FROM autosplit_block b JOIN region v ON v.id = b.village_id WHERE b.village_id = ANY($1::int[])`,
    [villages],
  );
  const index = new Map(blocks.map((b, i) => [`${b.village_id}:${b.block}`, i]));
  const partOf = new Map(rows.map((r) => [index.get(`${r.village_id}:${r.block}`)!, r.part]));
  for (const r of lonely.sort((a, b) => weight[a]! - weight[b]! || a - b)) {
    if (find(r) !== r) continue;
    const mine = blocks.flatMap((b, i) => (find(i) === r ? [i] : []));
    const parts = new Set(mine.map((i) => partOf.get(i)));
    // the whole of its part(s)? (else it is walled in by kept grids, and stays as it was)
    const others = blocks.flatMap((b, i) => (b.village_id === blocks[r]!.village_id && find(i) !== r ? [i] : []));
    if (others.length === 0 || others.some((i) => parts.has(partOf.get(i)))) continue;
    const {
      rows: [nearest],
    } = await tx.query<{ block: number }>(
      `SELECT b.block FROM autosplit_block a JOIN autosplit_block b ON b.village_id = a.village_id
       WHERE a.village_id = $1 AND a.block = ANY($2::int[]) AND b.block = ANY($3::int[])
       ORDER BY ST_Distance(a.geom, b.geom), b.block LIMIT 1`,
      [blocks[r]!.village_id, mine.map((i) => blocks[i]!.block), others.map((i) => blocks[i]!.block)],
    );
    if (nearest) join(r, find(index.get(`${blocks[r]!.village_id}:${nearest.block}`)!));
  }
}

/**
 * Blocks with fewer households than a grid's minimum cannot be grids of their own: each joins the
 * neighbouring block it shares the longest border with (its grid will cross that barrier).
 */
async function mergeSmallBlocks(
  tx: Queryable,
  villages: PlannedVillage[],
  addresses: { village_id: number; block: number; x: number; y: number; n: number }[],
): Promise<Piece[]> {
  const { rows: blocks } = await tx.query<{ village_id: number; block: number }>('SELECT village_id, block FROM autosplit_block ORDER BY village_id, block');
  const key = (v: number, b: number) => `${v}:${b}`;
  const index = new Map(blocks.map((b, i) => [key(b.village_id, b.block), i]));
  // Union–find over blocks; each root keeps its households and its borders with the other roots.
  const parent = blocks.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const weight = blocks.map(() => 0);
  for (const a of addresses) weight[index.get(key(a.village_id, a.block))!]! += a.n;
  const near = blocks.map(() => new Map<number, { m: number; same: number }>());
  if (blocks.length > 1) {
    const { rows: borders } = await tx.query<{ village_id: number; a: number; b: number; m: number; same: boolean }>(
      `SELECT a.village_id, a.block AS a, b.block AS b, ST_Length(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom), gp_grid())) AS m,
              a.hard = b.hard AS same
       FROM autosplit_block a JOIN autosplit_block b ON a.village_id = b.village_id AND a.block < b.block AND a.geom && b.geom
         AND ST_Intersects(a.geom, b.geom)`,
    );
    for (const e of borders) {
      if (!(e.m > 0)) continue;
      const [i, j] = [index.get(key(e.village_id, e.a))!, index.get(key(e.village_id, e.b))!];
      const add = { m: e.m, same: e.same ? e.m : 0 };
      near[i]!.set(j, add);
      near[j]!.set(i, { ...add });
    }
  }
  const minOf = new Map(villages.map((v) => [v.id, v.rule.min]));
  // Smallest first, so a tiny block joins before its neighbour is judged; each joins the neighbour
  // across a line to follow before one across a line not to cross, then the one it shares most border with.
  const roots = new Set(blocks.map((_, i) => i));
  for (;;) {
    const short = [...roots]
      .filter((r) => weight[r]! < minOf.get(blocks[r]!.village_id)! && near[r]!.size > 0)
      .sort((a, b) => weight[a]! - weight[b]! || blocks[a]!.village_id - blocks[b]!.village_id || blocks[a]!.block - blocks[b]!.block);
    const r = short[0];
    if (r === undefined) break;
    let best: { other: number; m: number; same: number } | null = null;
    for (const [other, e] of near[r]!) {
      if (!best || e.same > best.same || (e.same === best.same && (e.m > best.m || (e.m === best.m && blocks[other]!.block < blocks[best.other]!.block)))) {
        best = { other, ...e };
      }
    }
    const into = best!.other;
    parent[r] = into;
    roots.delete(r);
    weight[into]! += weight[r]!;
    // The borders of the two add up; every neighbour of r now borders `into`.
    near[into]!.delete(r);
    for (const [other, e] of near[r]!) {
      if (other === into) continue;
      const sum = near[into]!.get(other) ?? { m: 0, same: 0 };
      const merged = { m: sum.m + e.m, same: sum.same + e.same };
      near[into]!.set(other, merged);
      near[other]!.delete(r);
      near[other]!.set(into, { ...merged });
    }
    near[r]!.clear();
  }
  await joinDetachedParts(
    tx,
    blocks,
    roots,
    weight,
    near,
    minOf,
    (r, into) => {
      parent[r] = into;
      roots.delete(r);
      weight[into]! += weight[r]!;
    },
    find,
  );
  const map = blocks.map((b, i) => ({ v: b.village_id, block: b.block, piece: blocks[find(i)]!.block }));
  await tx.query(
    `UPDATE autosplit_block b SET piece = t.piece FROM unnest($1::int[], $2::int[], $3::int[]) AS t(village_id, block, piece)
     WHERE b.village_id = t.village_id AND b.block = t.block`,
    [map.map((m) => m.v), map.map((m) => m.block), map.map((m) => m.piece)],
  );
  await tx.query(
    `INSERT INTO autosplit_piece (village_id, piece, blocks, geom)
     SELECT village_id, piece, count(*), CASE WHEN count(*) = 1 THEN ST_Multi((array_agg(geom))[1]) ELSE ST_Multi(ST_Union(geom, gp_grid())) END
     FROM autosplit_block GROUP BY village_id, piece`,
  );
  const { rows } = await tx.query<{ village_id: number; piece: number; geometry: { type: string; coordinates: Position[][][] } }>(
    'SELECT village_id, piece, ST_AsGeoJSON(geom)::json AS geometry FROM autosplit_piece ORDER BY village_id, piece',
  );
  const pieceOf = new Map(map.map((m) => [key(m.v, m.block), m.piece]));
  const inPiece = new Map<string, typeof addresses>();
  for (const a of addresses) {
    const k = key(a.village_id, pieceOf.get(key(a.village_id, a.block))!);
    const list = inPiece.get(k);
    if (list) list.push(a);
    else inPiece.set(k, [a]);
  }
  return rows.map((r) => ({
    villageId: r.village_id,
    piece: r.piece,
    addresses: inPiece.get(key(r.village_id, r.piece)) ?? [],
    walls: r.geometry.coordinates.flat(),
  }));
}

/**
 * Clips each group's cells to its piece. A group stays one polygon, save household-less slivers
 * where the piece's border bends: each joins the neighbour it shares the longest border with.
 */
/** A planned grid before it is clipped: its polygons (EWKB hex) and where its households are. */
interface Planned {
  village: number;
  piece: number;
  ord: number;
  reason: InfeasibleReason | null;
  wkb: string;
  homes: { at: Position; households: number }[];
}

async function clipToPieces(tx: Queryable, grids: Planned[]): Promise<void> {
  for (let i = 0; i < grids.length; i += 5000) {
    const batch = grids.slice(i, i + 5000);
    await tx.query(
      `WITH g AS (
         SELECT t.village_id, t.piece, t.ord, t.reason, ST_GeomFromEWKB(decode(nullif(t.wkb, ''), 'hex')) AS geom
         FROM unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::text[]) AS t(village_id, piece, ord, reason, wkb)
       )
       INSERT INTO autosplit_grid (village_id, piece, ord, reason, geom)
       SELECT g.village_id, g.piece, g.ord, g.reason,
              ST_Multi(CASE WHEN g.geom IS NULL THEN p.geom
                   WHEN ST_Within(g.geom, p.geom) THEN ST_ReducePrecision(g.geom, gp_grid())
                   ELSE ST_CollectionExtract(ST_Intersection(g.geom, p.geom, gp_grid()), 3) END)
       FROM g JOIN autosplit_piece p ON p.village_id = g.village_id AND p.piece = g.piece`,
      [batch.map((g) => g.village), batch.map((g) => g.piece), batch.map((g) => g.ord), batch.map((g) => g.reason), batch.map((g) => g.wkb)],
    );
  }
  const byOrd = new Map(grids.map((g) => [g.ord, g]));
  // A grid clipped to its piece can fall apart (a household its group took in across a wall, or a
  // cell reaching round a corner of the piece): the part holding most of its households stays, the
  // others join the neighbour they share most border with. (Keeping the part of the group's first
  // household once gave a bridged lone house the grid and 18 households to the neighbour: 1 and 37
  // where the plan said 19 and 19.) A fragment may first land on a neighbour it touches only through
  // another fragment: repeat.
  for (let pass = 0; pass < 4; pass++) {
    // (a grid also holding a detached part of its village is whole: one piece in each part)
    const { rows: split } = await tx.query<{ ord: number }>('SELECT ord FROM autosplit_grid WHERE gp_split_grid(geom, village_id)');
    if (split.length === 0) break;
    await joinFragments(
      tx,
      split.flatMap(({ ord }) => byOrd.get(ord)?.homes.map((h) => ({ ord, ...h })) ?? []),
    );
  }
}

/** Each grid in pieces keeps its part with most households (`homes`: the households of those grids); its other parts join a neighbour. */
async function joinFragments(tx: Queryable, homes: { ord: number; at: Position; households: number }[]): Promise<void> {
  await tx.query(
    `WITH home AS MATERIALIZED (
       SELECT h.ord, ST_SetSRID(ST_MakePoint(h.lon, h.lat), 4326) AS geom, h.n
       FROM unnest($1::int[], $2::float8[], $3::float8[], $4::float8[]) AS h(ord, lon, lat, n)
     ),
     piece AS (
       SELECT g.village_id, g.piece, g.ord, d.geom, row_number() OVER () AS part_id
       FROM autosplit_grid g, LATERAL ST_Dump(ST_CollectionExtract(g.geom, 3)) AS d
       WHERE gp_split_grid(g.geom, g.village_id)
     ),
     part AS (
       SELECT p.*, (SELECT coalesce(sum(h.n), 0) FROM home h WHERE h.ord = p.ord AND h.geom && p.geom AND ST_Intersects(p.geom, h.geom)) AS home
       FROM piece p
     ),
     ranked AS (SELECT *, row_number() OVER (PARTITION BY ord ORDER BY home DESC, ST_Area(geom) DESC, part_id) AS rank FROM part),
     main AS (SELECT g.village_id, g.piece, g.ord, coalesce(r.geom, g.geom) AS geom FROM autosplit_grid g LEFT JOIN ranked r ON r.ord = g.ord AND r.rank = 1),
     fragment AS (
       SELECT DISTINCT ON (f.part_id) f.part_id, coalesce(m.ord, f.ord) AS ord, f.geom
       FROM ranked f
       LEFT JOIN main m ON m.village_id = f.village_id AND m.piece = f.piece AND m.ord <> f.ord AND m.geom && f.geom AND ST_Intersects(m.geom, f.geom)
       WHERE f.rank > 1
       ORDER BY f.part_id, ST_Length(ST_Intersection(ST_Boundary(m.geom), ST_Boundary(f.geom), gp_grid())) DESC NULLS LAST, m.ord
     ),
     joined AS (
       SELECT ord, ST_Multi(ST_Union(geom, gp_grid())) AS geom FROM (
         SELECT m.ord, m.geom FROM main m WHERE m.ord IN (SELECT ord FROM part UNION SELECT ord FROM fragment)
         UNION ALL SELECT ord, geom FROM fragment) AS x
       GROUP BY ord
     )
     UPDATE autosplit_grid g SET geom = j.geom FROM joined j WHERE g.ord = j.ord`,
    [homes.map((h) => h.ord), homes.map((h) => h.at[0]), homes.map((h) => h.at[1]), homes.map((h) => h.households)],
  );
}

/** How far (degrees, about 1 cm) a border may stray from a line and still run along it. */
const ALONG = 1e-7;

async function describe(tx: Queryable, villages: PlannedVillage[], table: string, incidentWeight: number | null): Promise<Omit<PlannedGrid, 'straight'>[]> {
  const { rows } = await tx.query<{
    ord: number;
    village_id: number;
    households: number;
    incidents: number | null;
    area: number;
    perimeter: number;
    width: number;
    parts: number;
    reason: InfeasibleReason | null;
    crosses: boolean;
  }>(
    `SELECT g.ord, g.village_id, g.reason, gp_area_m2(g.geom) AS area, ST_Perimeter(g.geom::geography) AS perimeter, ST_NumGeometries(g.geom) AS parts,
            coalesce(ST_Length(ST_LongestLine(g.geom, g.geom)::geography), 0) AS width,
            (SELECT count(*)::int FROM ${table} h WHERE h.geom && g.geom AND ST_Intersects(g.geom, h.geom)) AS households,
            ${
              table === 'household' && incidentWeight !== null
                ? `(SELECT count(*)::int FROM incident i
                    WHERE i.geom && g.geom AND ST_Intersects(g.geom, i.geom) AND i.reported_at > now() - interval '12 months')`
                : 'NULL::int'
            } AS incidents,
            -- across a line not to cross: more blocks between such lines than parts of the village (each detached part
            -- is a block of its own, and the grid that holds one crosses nothing)
            p.blocks > 1 AND (SELECT count(DISTINCT b.hard) - count(DISTINCT (SELECT vp.path[1] FROM region v, ST_Dump(v.geom) vp
                                 WHERE v.id = b.village_id AND vp.geom && b.geom AND ST_Intersects(vp.geom, ST_PointOnSurface(b.geom)) LIMIT 1))
               FROM autosplit_block b WHERE b.village_id = g.village_id AND b.piece = g.piece AND b.geom && g.geom
               AND gp_area_m2(ST_Intersection(b.geom, g.geom, gp_grid())) > 1) > 0 AS crosses
     FROM autosplit_grid g JOIN autosplit_piece p ON p.village_id = g.village_id AND p.piece = g.piece
     ORDER BY g.ord`,
  );
  const border = await borders(tx);
  const byId = new Map(villages.map((v) => [v.id, v]));
  // A village nobody lives in (desert, forest, a reservoir) is one grid of no households: within its rule, as the
  // coverage check takes it, not a grid that cannot be made to it.
  const lived = new Set(rows.filter((r) => r.households > 0).map((r) => r.village_id));
  return rows.map((r) => {
    const v = byId.get(r.village_id)!;
    const status = lived.has(r.village_id) ? rangeStatus(r.households, v.rule) : 'within';
    // The border drawn inside the area (not its outline), and the part of it along a road, river or other line.
    const b = border?.get(r.ord);
    const borderM = b ? Math.max(0, r.perimeter - b.outline) : null;
    const onBarrierM = b && borderM !== null ? Math.min(borderM, Math.max(0, (b.blocks - b.outline) / 2)) : 0;
    return {
      ord: r.ord,
      villageId: r.village_id,
      households: r.households,
      incidents: r.incidents,
      workload: Math.round((r.households + (incidentWeight ?? 0) * (r.incidents ?? 0)) * 100) / 100,
      gridType: v.gridType,
      min: v.rule.min,
      max: v.rule.max,
      status,
      compactness: r.perimeter > 0 ? (4 * Math.PI * r.area) / r.perimeter ** 2 : 0,
      areaM2: r.area,
      widthM: Math.round(r.width),
      borderM: borderM === null ? null : Math.round(borderM),
      offBarrierM: borderM === null ? null : Math.round(borderM - onBarrierM),
      parts: r.parts,
      reason: !lived.has(r.village_id) ? null : (r.reason ?? (status === 'within' ? null : 'no_balanced_cut')),
      crossesBarrier: r.crosses === true,
    };
  });
}

/**
 * Per grid: the length of its outline on the area's outline, and on its blocks' outlines summed (a
 * border along a road between two blocks lies on both, so it counts twice there). Null where GEOS
 * cannot overlay the shapes: the report then leaves the borders out rather than failing the split.
 */
async function borders(tx: Queryable): Promise<Map<number, { outline: number; blocks: number }> | null> {
  await tx.query('SAVEPOINT autosplit_borders');
  try {
    const { rows } = await tx.query<{ ord: number; outline: number; blocks: number | null }>(
      // Outlines cut into pieces of at most 256 corners: a county-sized outline is not overlaid whole with each grid.
      `WITH outline AS (
         SELECT village_id, ST_Subdivide(ST_Buffer(ST_Boundary(ST_Union(geom, gp_grid())), ${ALONG}), 256) AS geom FROM autosplit_block GROUP BY village_id),
       edges AS (
         SELECT village_id, ST_Subdivide(ST_Buffer(ST_Boundary(geom), ${ALONG}), 256) AS geom FROM autosplit_block
         WHERE village_id IN (SELECT village_id FROM autosplit_block GROUP BY village_id HAVING count(*) > 1)),
       o AS (SELECT g.ord, sum(ST_Length(ST_Intersection(ST_Boundary(g.geom), o.geom)::geography)) AS m
             FROM autosplit_grid g JOIN outline o ON o.village_id = g.village_id AND o.geom && g.geom GROUP BY g.ord),
       e AS (SELECT g.ord, sum(ST_Length(ST_Intersection(ST_Boundary(g.geom), e.geom)::geography)) AS m
             FROM autosplit_grid g JOIN edges e ON e.village_id = g.village_id AND e.geom && g.geom GROUP BY g.ord)
       SELECT g.ord, coalesce(o.m, 0) AS outline, e.m AS blocks
       FROM autosplit_grid g LEFT JOIN o ON o.ord = g.ord LEFT JOIN e ON e.ord = g.ord`,
    );
    await tx.query('RELEASE SAVEPOINT autosplit_borders');
    return new Map(rows.map((r) => [r.ord, { outline: r.outline, blocks: r.blocks ?? r.outline }]));
  } catch {
    await tx.query('ROLLBACK TO SAVEPOINT autosplit_borders');
    return null;
  }
}

/** The incident weight when the workload is asked for (balanced, weighed or shown), else null: incidents are not counted. */
function workloadWeight(options: AutosplitOptions): number | null {
  return options.balanceWorkload || options.workload || options.incidentWeight !== undefined ? (options.incidentWeight ?? DEFAULT_INCIDENT_WEIGHT) : null;
}

/** GRIDPLAN_PROFILE=1 prints how long each stage took. */
function stopwatch(): (stage: string) => void {
  let t = performance.now();
  return (stage) => {
    if (!process.env.GRIDPLAN_PROFILE) return;
    const now = performance.now();
    console.log(`autosplit ${stage}: ${Math.round(now - t)} ms`);
    t = now;
  };
}
