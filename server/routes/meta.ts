import { createRoute, z } from '@hono/zod-openapi';
import { router, type AppOptions } from '../http/router.ts';
import { defaultGridTypes, healthFigures } from '../db/meta.ts';
import { listWorkers } from '../db/staff.ts';
import { WorkerListItemSchema } from '../schemas/staff.ts';
import { GridTypeSchema } from './schemas.ts';
import { cached, never } from '../http/cache.ts';
import { basemapBytes, MAX_RANGE_BYTES } from '../files/basemap.ts';
import { InputError } from '../domain/errors.ts';
import { areaOf } from '../domain/roles.ts';
import { principalOf } from '../http/auth.ts';
import { errorResponses } from './schemas.ts';

const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  summary: 'Which database driver and PostGIS version serve this instance',
  responses: {
    200: {
      description: 'Healthy',
      content: {
        'application/json': {
          schema: z.object({
            ok: z.literal(true),
            driver: z.enum(['pg', 'pglite']),
            postgis: z.string(),
            regions: z.number().int(),
            households: z.number().int(),
          }),
        },
      },
    },
  },
});

const configRoute = createRoute({
  method: 'get',
  path: '/config',
  summary: 'Settings the web app needs: the basemaps under its layers (none: a plain ground, no network)',
  responses: {
    200: {
      description: 'Config',
      content: {
        'application/json': {
          schema: z.object({
            basemapUrl: z.string().nullable().openapi({ description: 'an XYZ raster template (GRIDPLAN_BASEMAP_URL)' }),
            pmtiles: z
              .object({
                url: z.string(),
                kind: z.enum(['vector', 'raster']),
                format: z.string(),
                minZoom: z.number().int(),
                maxZoom: z.number().int(),
                bounds: z.tuple([z.number(), z.number(), z.number(), z.number()]),
                layers: z.array(z.string()),
                attribution: z.string().nullable(),
              })
              .nullable()
              .openapi({ description: 'the offline basemap the server holds (GRIDPLAN_BASEMAP_PMTILES)' }),
            tianditu: z
              .object({ vector: z.string(), labels: z.string() })
              .nullable()
              .openapi({ description: 'Tianditu vector map and labels, as XYZ templates carrying the key (GRIDPLAN_TIANDITU_TOKEN)' }),
          }),
        },
      },
    },
  },
});

const basemapRoute = createRoute({
  method: 'get',
  path: '/basemap.pmtiles',
  summary: 'The offline basemap archive, in byte ranges (`Range: bytes=a-b`, as the PMTiles client asks)',
  responses: {
    206: { description: 'The bytes asked for', content: { 'application/vnd.pmtiles': { schema: z.string().openapi({ format: 'binary' }) } } },
    ...errorResponses(400, 404),
  },
});

/** Tianditu's WMTS in Web Mercator (`_w`) as an XYZ template: `layer` vec (the map) or cva (its Chinese labels). */
const tianditu = (layer: 'vec' | 'cva', token: string) =>
  `https://t0.tianditu.gov.cn/${layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles` +
  `&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=${encodeURIComponent(token)}`;

const gridTypesRoute = createRoute({
  method: 'get',
  path: '/grid-types',
  summary: 'Grid types with their default household ranges',
  responses: {
    200: {
      description: 'Grid types',
      content: {
        'application/json': {
          schema: z.array(
            z.object({ gridType: GridTypeSchema, zh: z.string(), en: z.string(), min: z.number().int(), max: z.number().int(), target: z.number().int() }),
          ),
        },
      },
    },
  },
});

const workersRoute = createRoute({
  method: 'get',
  path: '/workers',
  summary: 'Grid workers, with the grid each one serves as its full-time worker (if any)',
  request: { query: z.object({ role: z.string().max(32).optional().openapi({ description: 'only people of this staffing role (e.g. full_time)' }) }) },
  responses: {
    200: {
      description: 'Workers',
      content: {
        'application/json': {
          schema: z.array(WorkerListItemSchema),
        },
      },
    },
  },
});

const pick = (b: NonNullable<AppOptions['basemap']>) => ({
  kind: b.kind,
  format: b.format,
  minZoom: b.minZoom,
  maxZoom: b.maxZoom,
  bounds: b.bounds,
  layers: b.layers,
  attribution: b.attribution,
});

export function metaRoutes() {
  return router()
    .openapi(healthRoute, async (c) => {
      const db = c.get('db');
      return c.json({ ok: true as const, driver: db.driver, ...(await healthFigures(db)) }, 200);
    })
    .openapi(workersRoute, async (c) =>
      cached(c, { reads: () => ['plan'], clock: never, vary: (c) => `area${areaOf(principalOf(c)) ?? ''}` }, async () =>
        c.json(await listWorkers(c.get('db'), c.req.valid('query').role, c.get('draft')?.regionId ?? null, areaOf(principalOf(c))), 200),
      ),
    )
    .openapi(configRoute, (c) => {
      const { basemapUrl, basemap, tiandituToken } = c.get('options');
      const pmtiles = basemap ? { url: '/api/basemap.pmtiles', ...pick(basemap) } : null;
      const tdt = tiandituToken ? { vector: tianditu('vec', tiandituToken), labels: tianditu('cva', tiandituToken) } : null;
      return c.json({ basemapUrl: basemapUrl ?? null, pmtiles, tianditu: tdt }, 200);
    })
    .openapi(basemapRoute, async (c) => {
      const basemap = c.get('options').basemap;
      if (!basemap) throw new InputError('not_found', 'this server has no offline basemap (GRIDPLAN_BASEMAP_PMTILES)', '');
      const range = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(c.req.header('range') ?? '');
      if (!range)
        throw new InputError('range_required', 'ask for bytes of the basemap with one Range header (bytes=start-end), as a PMTiles client does', 'range');
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : basemap.size - 1, basemap.size - 1, start + MAX_RANGE_BYTES - 1);
      if (start >= basemap.size || end < start) {
        return c.body(null, 416, { 'content-range': `bytes */${basemap.size}` });
      }
      const bytes = await basemapBytes(basemap, start, end);
      return c.body(bytes as Uint8Array<ArrayBuffer>, 206, {
        'content-type': 'application/vnd.pmtiles',
        'content-range': `bytes ${start}-${start + bytes.length - 1}/${basemap.size}`,
        'accept-ranges': 'bytes',
        etag: basemap.etag,
        'cache-control': 'private, max-age=86400',
      });
    })
    .openapi(gridTypesRoute, async (c) => cached(c, { reads: () => ['plan'], clock: never }, async () => c.json(await defaultGridTypes(c.get('db')), 200)));
}
