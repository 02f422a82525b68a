import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { exportRegions } from '../db/export.ts';
import { regionLevel } from '../db/region-queries.ts';
import { GCJ02, isKnownCrs } from '../domain/crs.ts';
import { InputError, notFound } from '../domain/errors.ts';
import { LEVELS, type Level } from '../domain/hierarchy.ts';
import { EXPORT_FORMATS, writeExport } from '../files/write.ts';
import { router } from '../http/router.ts';
import { errorResponses, IdParam } from './schemas.ts';

const exportRoute = createRoute({
  method: 'get',
  path: '/regions/{id}/export',
  summary: 'The region and the levels below it as a file: GeoJSON, Shapefile (zip), GeoPackage, KML, CSV or Excel',
  description:
    'Attributes: code, stat_code (统计用区划代码), name, level, parent code and name, grid type, households, area in m², the full-time worker and phone, ' +
    'the other staff, whether a grid passes its rules. Excel: a sheet per level with Chinese headers and the staff roster. ' +
    '`crs`: EPSG:4326 (default), EPSG:4490, a CGCS2000 Gauss–Krüger zone (EPSG:4513–4554) or GCJ-02; KML is always WGS 84.',
  request: {
    params: IdParam,
    query: z.object({
      format: z.enum(EXPORT_FORMATS),
      levels: z
        .string()
        .max(64)
        .optional()
        .openapi({ description: 'comma-separated: district, township, village, grid (default: every level below the region)' }),
      crs: z.string().max(16).optional(),
      encoding: z.enum(['utf-8', 'gbk']).optional().openapi({ description: 'Shapefile text (default UTF-8; GBK for older desktop GIS)' }),
    }),
  },
  responses: { 200: { description: 'The file' }, ...errorResponses(400, 404, 422) },
});

export function exportRoutes() {
  return router().openapi(exportRoute, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const db = c.get('db');
    const region = await regionLevel(db, id);
    if (!region) throw notFound('region', id);
    const below = LEVELS.slice(LEVELS.indexOf(region.level));
    const levels = (q.levels ? q.levels.split(',').map((l) => l.trim()) : below.slice(1)) as Level[];
    const wrong = levels.find((l) => !below.includes(l));
    if (wrong !== undefined) throw new InputError('invalid_level', `${JSON.stringify(wrong)} is not ${region.name}'s level or one below it`, 'levels');
    if (levels.length === 0) throw new InputError('invalid_level', `${region.name} has no level below it; ask for levels=${region.level}`, 'levels');
    const crs = q.crs ?? 'EPSG:4326';
    if (crs !== GCJ02 && (!isKnownCrs(crs) || crs === 'BD-09')) throw new InputError('unknown_crs', `${crs} is not a system exports are written in`, 'crs');
    const rows = await exportRegions(db, id, levels);
    const file = await writeExport(`export-${randomUUID()}`, rows, { format: q.format, crs, encoding: q.encoding === 'gbk' ? 'GBK' : 'UTF-8', levels });
    const name = `${region.name}-${levels.join('-')}.${file.ext}`;
    return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': file.type,
      'content-disposition': `attachment; filename="export.${file.ext}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    });
  });
}
