import type { Queryable } from '../db/db.ts';
import type { Level } from '../domain/hierarchy.ts';

export interface ChildSeed {
  parentId: number;
  lon: number;
  lat: number;
  code: string;
  name: string;
  gridType: string | null;
}

/**
 * Divides parents into children around seed points: Voronoi cells of each parent's seeds,
 * clipped to the parent. Children tile the parent because neighbouring cells share their
 * edges exactly. A clipped cell that falls apart (a concave parent) keeps its largest piece;
 * every other piece joins the neighbour it shares the longest border with, so each child is
 * one polygon.
 *
 *    seeds ──► Voronoi ──► ∩ parent ──► pieces ──► fragments join neighbours ──► children
 *
 * Seeds must be distinct and lie inside their parent.
 */
export async function subdivide(tx: Queryable, level: Level, seeds: ChildSeed[]): Promise<number> {
  if (seeds.length === 0) return 0;
  const { rows } = await tx.query<{ n: number }>(
    `WITH seed AS (
       SELECT s.ord, s.parent_id, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom, s.code, s.name, s.grid_type
       FROM unnest($1::int[], $2::float8[], $3::float8[], $4::text[], $5::text[], $6::text[])
         WITH ORDINALITY AS s(parent_id, lon, lat, code, name, grid_type, ord)
     ),
     -- Voronoi cells of each parent's seeds, extended past the parent's envelope
     -- (a lone seed has no Voronoi diagram: its cell is the whole envelope)
     cell AS (
       SELECT s.parent_id,
              (ST_Dump(CASE WHEN count(*) = 1 THEN ST_Expand(ST_Envelope(p.geom), 0.05)
                            ELSE ST_VoronoiPolygons(ST_Collect(s.geom), 0, ST_Expand(ST_Envelope(p.geom), 0.05)) END)).geom AS geom
       FROM seed s JOIN region p ON p.id = s.parent_id
       GROUP BY s.parent_id, p.geom
     ),
     -- each cell belongs to the seed inside it
     owned AS (
       SELECT s.ord, s.parent_id, c.geom
       FROM cell c JOIN seed s ON s.parent_id = c.parent_id AND c.geom && s.geom AND ST_Intersects(c.geom, s.geom)
     ),
     -- the cell clipped to its parent, cut into connected pieces
     piece AS (
       SELECT o.ord, o.parent_id, d.geom, row_number() OVER () AS piece_id
       FROM owned o JOIN region p ON p.id = o.parent_id,
         LATERAL ST_Dump(ST_CollectionExtract(ST_Intersection(o.geom, p.geom, gp_grid()), 3)) AS d
       WHERE NOT ST_IsEmpty(d.geom)
     ),
     ranked AS (
       SELECT *, row_number() OVER (PARTITION BY ord ORDER BY ST_Area(geom) DESC, piece_id) AS rank FROM piece
     ),
     main AS (SELECT ord, parent_id, geom FROM ranked WHERE rank = 1),
     -- every other piece joins the main piece it shares the longest border with
     fragment AS (
       SELECT DISTINCT ON (f.piece_id) coalesce(m.ord, f.ord) AS ord, f.geom
       FROM ranked f
       LEFT JOIN main m ON m.parent_id = f.parent_id AND m.ord <> f.ord AND m.geom && f.geom AND ST_Intersects(m.geom, f.geom)
       WHERE f.rank > 1
       ORDER BY f.piece_id, ST_Length(ST_Intersection(m.geom, f.geom, gp_grid())) DESC NULLS LAST
     ),
     child AS (
       SELECT ord, ST_Multi(ST_Union(geom, gp_grid())) AS geom
       FROM (SELECT ord, geom FROM main UNION ALL SELECT ord, geom FROM fragment) AS parts
       GROUP BY ord
     ),
     inserted AS (
       INSERT INTO region (parent_id, level, code, name, grid_type, geom)
       SELECT s.parent_id, $7, s.code, s.name, s.grid_type, c.geom
       FROM child c JOIN seed s ON s.ord = c.ord
       ORDER BY s.ord
       RETURNING id
     )
     SELECT count(*)::int AS n FROM inserted`,
    [
      seeds.map((s) => s.parentId),
      seeds.map((s) => s.lon),
      seeds.map((s) => s.lat),
      seeds.map((s) => s.code),
      seeds.map((s) => s.name),
      seeds.map((s) => s.gridType),
      level,
    ],
  );
  return rows[0]?.n ?? 0;
}
