import { z } from '@hono/zod-openapi';
import { GRID_TYPES } from '../domain/grid-types.ts';
import { LEVELS } from '../domain/hierarchy.ts';

export const LevelSchema = z.enum(LEVELS);
export const GridTypeSchema = z.enum(GRID_TYPES);

/** Every region is stored as a MultiPolygon (lon/lat, EPSG:4326). */
const Geometry = z.object({ type: z.literal('MultiPolygon'), coordinates: z.array(z.array(z.array(z.array(z.number())))) }).openapi('MultiPolygon');

export const RegionPropertiesSchema = z
  .object({
    id: z.number().int(),
    parentId: z.number().int().nullable(),
    level: LevelSchema,
    code: z.string(),
    name: z.string(),
    /** The 12-digit 统计用区划代码 the region came with (imports keep it; exports give it back), if any. */
    statCode: z.string().nullable(),
    gridType: GridTypeSchema.nullable(),
    workerId: z.number().int().nullable(),
    workerName: z.string().nullable(),
    households: z.number().int(),
    children: z.number().int(),
    version: z.number().int(),
    areaM2: z.number(),
    label: z.tuple([z.number(), z.number()]).nullable(),
  })
  .openapi('RegionProperties');

export const RegionFeatureSchema = z
  .object({
    type: z.literal('Feature'),
    id: z.number().int(),
    geometry: Geometry,
    properties: RegionPropertiesSchema.extend({
      ancestors: z.array(z.object({ id: z.number().int(), level: LevelSchema, code: z.string(), name: z.string() })),
      bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]),
      staff: z
        .array(z.object({ workerId: z.number().int(), name: z.string(), phone: z.string(), role: z.string() }))
        .openapi({ description: "a grid's staff besides its full-time worker" }),
    }),
  })
  .openapi('Region');

export const RegionCollectionSchema = z
  .object({
    type: z.literal('FeatureCollection'),
    features: z.array(
      z.object({
        type: z.literal('Feature'),
        id: z.number().int(),
        geometry: Geometry,
        properties: RegionPropertiesSchema.extend({
          place: z.string().optional().openapi({ description: 'a search: where it lies (its county, township and village), to tell same names apart' }),
        }),
      }),
    ),
    more: z.boolean().optional().openapi({ description: 'a search: more regions match than the 20 given' }),
  })
  .openapi('RegionCollection');

export type RegionFeature = z.infer<typeof RegionFeatureSchema>;
export type RegionCollection = z.infer<typeof RegionCollectionSchema>;
