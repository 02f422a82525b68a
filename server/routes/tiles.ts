import { createRoute, z } from '@hono/zod-openapi';
import { incidentTile, INCIDENT_POINTS_ZOOM, MAX_TILE_ZOOM, TILE_LAYERS, vectorTile } from '../db/tiles.ts';
import { InputError } from '../domain/errors.ts';
import { AsOfQuery, asOfInstant } from '../domain/plan-time.ts';
import { areaOf, can } from '../domain/roles.ts';
import { principalOf } from '../http/auth.ts';
import { router } from '../http/router.ts';
import { cached, ranToNow } from '../http/cache.ts';
import { FilterQuery, filterOf, incidentsIn } from './incidents.ts';
import { errorResponses } from './schemas.ts';

export const MVT_TYPE = 'application/vnd.mapbox-vector-tile';

const coordinate = (name: string) =>
  z
    .string()
    .regex(name === 'y' ? /^\d{1,7}(\.mvt)?$/ : /^\d{1,7}$/, `must be a whole number${name === 'y' ? ' (with .mvt)' : ''}`)
    .transform((s) => Number(s.replace('.mvt', '')))
    .openapi({ param: { name, in: 'path' }, example: name === 'z' ? '12' : name === 'x' ? '3250' : '1730.mvt' });

const tileRoute = createRoute({
  method: 'get',
  path: '/tiles/{layer}/{z}/{x}/{y}',
  summary: 'A Mapbox Vector Tile of one layer of the plan: `/api/tiles/grid/12/3250/1730.mvt`',
  description:
    'Layers: `city`, `district`, `township`, `village` (id, name, code, households), `grid` (also parentId, gridType, workerId, ' +
    'workerName, status: under, within or over its type’s range, and passes: in range, staffed and one piece) and `households` ' +
    '(roles that may see households: below zoom 14 counts per cell of 16 px with `count` and `people`, from 14 the households with `people`). ' +
    'Tiles are 4096 units with a 64-unit margin, kept until an edit touches them. ' +
    `\`incidents\` (roles that may read incidents; the analyze filters \`region\`, \`from\`, \`to\`, \`category\`, \`status\`, \`grids\`): ` +
    `below zoom ${INCIDENT_POINTS_ZOOM} counts per cell of 16 px with \`count\` and the highest \`severity\`, from ${INCIDENT_POINTS_ZOOM} each incident ` +
    'with `id`, `category`, `status` and `severity`. ' +
    '`asOf`: the plan as it stood at the end of that day; `draft`: a draft’s plan.',
  request: {
    params: z.object({ layer: z.enum([...TILE_LAYERS, 'incidents']), z: coordinate('z'), x: coordinate('x'), y: coordinate('y') }),
    query: FilterQuery.extend({ asOf: AsOfQuery }),
  },
  responses: {
    200: { description: 'The tile (empty where the layer has nothing)', content: { [MVT_TYPE]: { schema: z.string().openapi({ format: 'binary' }) } } },
    ...errorResponses(400, 403),
  },
});

export function tileRoutes() {
  return router().openapi(tileRoute, async (c) => {
    const { layer, z: zoom, x, y } = c.req.valid('param');
    const { asOf } = c.req.valid('query');
    if (zoom > MAX_TILE_ZOOM) throw new InputError('invalid_tile', `z: at most ${MAX_TILE_ZOOM}`, 'param.z');
    const n = 2 ** zoom;
    if (x >= n) throw new InputError('invalid_tile', `x: below ${n} at zoom ${zoom}`, 'param.x');
    if (y >= n) throw new InputError('invalid_tile', `y: below ${n} at zoom ${zoom}`, 'param.y');
    if (layer === 'households' && !can(principalOf(c).role, 'households:read')) {
      throw new InputError('forbidden', 'household locations are for the roles that plan and lead', 'param.layer');
    }
    if (layer === 'incidents') {
      if (!can(principalOf(c).role, 'incidents:read'))
        throw new InputError('forbidden', 'the incident map is for the roles that analyse incidents', 'param.layer');
      // Incidents change with every report and the window runs to now: cached as the heatmap is, not with the plan's tiles.
      return cached(c, { reads: incidentsIn, clock: ranToNow, light: true }, async () => {
        const bytes = await incidentTile(c.get('db'), await filterOf(c, c.req.valid('query')), zoom, x, y);
        return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'content-type': MVT_TYPE, 'cache-control': 'private, no-cache' });
      });
    }
    const db = c.get('db');
    const at = asOfInstant(asOf);
    const tiles = c.get('draft') === null ? c.get('tiles') : null;
    // Households are personal data: whoever is given an area sees its households only, in a tile of its own.
    const area = layer === 'households' ? areaOf(principalOf(c)) : null;
    const key = `${layer}/${zoom}/${x}/${y}|${asOf ?? ''}${area === null ? '' : `|area ${area}`}`;
    await tiles?.sync(db, false);
    const since = tiles?.generation() ?? 0;
    let entry = tiles?.get(key) ?? null;
    c.header('x-cache', entry ? 'hit' : 'miss');
    if (!entry) {
      const bytes = await vectorTile(db, layer, zoom, x, y, at, area);
      entry = tiles ? tiles.put(key, layer, zoom, x, y, bytes, since) : { bytes, gzip: null, box: [0, 0, 0, 0], freshUntil: 0 };
    }
    const headers: Record<string, string> = { 'content-type': MVT_TYPE, 'cache-control': 'private, no-cache' };
    if (entry.gzip && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
      return c.body(entry.gzip as Uint8Array<ArrayBuffer>, 200, { ...headers, 'content-encoding': 'gzip', vary: 'Accept-Encoding' });
    }
    return c.body(entry.bytes as Uint8Array<ArrayBuffer>, 200, { ...headers, 'content-length': String(entry.bytes.length) });
  });
}
