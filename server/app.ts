import { bodyLimit } from 'hono/body-limit';
import { compress } from 'hono/compress';
import { secureHeaders } from 'hono/secure-headers';
import { authenticate, POLICY, sameOrigin } from './http/auth.ts';
import { InputError } from './domain/errors.ts';
import { jsonBodies, MAX_JSON_DEPTH, tooLarge, utf8GeoJson, type BodyLimit } from './http/body.ts';
import { ReadCache } from './http/cache.ts';
import { TileCache } from './http/tile-cache.ts';
import { draftScope } from './http/draft.ts';
import { onError } from './http/errors.ts';
import { EventBus, eventStream, LiveStreams } from './http/events.ts';
import { nowOf, router, type AppOptions } from './http/router.ts';
import { authRoutes } from './routes/auth.ts';
import { backupRoutes } from './routes/backups.ts';
import { autosplitRoutes } from './routes/autosplit.ts';
import { barrierRoutes } from './routes/barriers.ts';
import { coverageRoutes } from './routes/coverage.ts';
import { dispatchRoutes } from './routes/dispatches.ts';
import { editRoutes } from './routes/edits.ts';
import { fieldRoutes, MAX_PHOTO_BYTES } from './routes/field.ts';
import { householdRoutes } from './routes/households.ts';
import { importRoutes } from './routes/imports.ts';
import { ruleRoutes } from './routes/rules.ts';
import { compareRoutes } from './routes/compare.ts';
import { draftRoutes } from './routes/drafts.ts';
import { settingsRoutes } from './routes/settings.ts';
import { exportRoutes } from './routes/exports.ts';
import { incidentAnalyticsRoutes, incidentRoutes } from './routes/incidents.ts';
import { staffRoutes } from './routes/staff.ts';
import { statsRoutes } from './routes/stats.ts';
import { tileRoutes } from './routes/tiles.ts';
import { metaRoutes } from './routes/meta.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { patrolRoutes } from './routes/patrols.ts';
import { regionRoutes } from './routes/regions.ts';
import { userRoutes } from './routes/users.ts';

/** Routes that take more than the default JSON body (and may wait for the write). */
const LARGE_BODIES: Record<string, 'import' | 'geometry'> = {
  'POST /api/regions/import': 'import',
  'POST /api/regions/:id/autosplit': 'geometry',
  'POST /api/regions': 'geometry',
  'PATCH /api/regions/:id': 'geometry',
  'POST /api/regions/:id/split': 'geometry',
};
/** Routes that read their own body as a stream, with their own limit. */
const STREAMED = new Set([
  'POST /api/households/import',
  'POST /api/incidents/import',
  'POST /api/incidents/:id/photos',
  'POST /api/dispatches/:id/photos',
  'POST /api/imports',
]);

/** The read cache an app keeps when it is given none. */
export const newReadCache = (options: AppOptions) =>
  new ReadCache({ soleWriter: options.db.driver === 'pglite', now: () => nowOf({ get: () => options }).getTime() });

/** The tile cache an app keeps when it is given none: on PostgreSQL another process may write, so tiles also expire. */
export const newTileCache = (options: AppOptions) =>
  new TileCache({ ttlMs: options.db.driver === 'pglite' ? Infinity : 60_000, now: () => nowOf({ get: () => options }).getTime() });
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function createApp(options: AppOptions) {
  const { maxJsonBytes = 20 * 1024 * 1024, maxUploadBytes = 200 * 1024 * 1024 } = options;
  const events = options.events ?? new EventBus();
  const streams = new LiveStreams(options.db, options.streamLimits);
  const app = router();
  // HSTS for this host only: on a county's shared domain, includeSubDomains would force HTTPS on its other sites.
  app.use('*', secureHeaders({ contentSecurityPolicy: undefined, crossOriginEmbedderPolicy: false, strictTransportSecurity: 'max-age=15552000' }));
  app.use('/api/*', async (c, next) => {
    c.set('db', options.db);
    c.set('options', options);
    c.set('events', events);
    c.set('streams', streams);
    await next();
  });
  app.use('/api/*', sameOrigin());
  const cache = options.cache === false ? null : (options.cache ?? newReadCache(options));
  app.use(
    '/api/*',
    authenticate((retire) => cache?.onChange((domains) => void (domains.includes('plan') && retire()))),
  );
  // Bodies are read only once the caller may send them: without a session, a few KB at most.
  const limits: Record<'public' | 'default' | 'geometry' | 'import', BodyLimit> = {
    public: { maxBytes: 4 * 1024, maxDepth: 4 },
    default: { maxBytes: 256 * 1024, maxDepth: MAX_JSON_DEPTH },
    geometry: { maxBytes: Math.min(maxJsonBytes, 5 * 1024 * 1024), maxDepth: MAX_JSON_DEPTH },
    import: { maxBytes: maxJsonBytes, maxDepth: MAX_JSON_DEPTH },
  };
  app.use(
    '/api/*',
    jsonBodies((key) => {
      if (key === null || POLICY[key] === 'public') return limits.public;
      if (STREAMED.has(key)) return null;
      return limits[LARGE_BODIES[key] ?? 'default'];
    }),
  );
  const uploadLimit = bodyLimit({
    maxSize: maxUploadBytes,
    onError: () => {
      throw tooLarge(maxUploadBytes);
    },
  });
  const photoLimit = bodyLimit({
    maxSize: MAX_PHOTO_BYTES,
    onError: () => {
      throw tooLarge(MAX_PHOTO_BYTES);
    },
  });
  app.use('/api/households/import', uploadLimit, utf8GeoJson);
  app.use('/api/incidents/import', uploadLimit, utf8GeoJson);
  app.use('/api/imports', uploadLimit);
  app.use('/api/incidents/:id/photos', photoLimit);
  app.use('/api/dispatches/:id/photos', photoLimit);
  app.use('/api/*', compress());
  if (cache) {
    // Before any live listener hears of a new incident, answers that counted incidents retire. An escalation
    // moves only a dispatch up a level, which no kept answer reads: at city scale the minute's escalations
    // would otherwise retire every heatmap at once, and the embedded database would spend half a minute
    // recounting them while edits waited (bench:load --city).
    events.subscribe(({ event }) => {
      if (event.action !== 'escalate') cache.bump(['incidents']);
    });
    app.use('/api/*', cache.middleware());
  }
  // Vector tiles: after every write that succeeded, the tiles it touched retire (a streamed write's when its stream ends).
  const tiles = options.tiles === false ? null : (options.tiles ?? newTileCache(options));
  app.use('/api/*', async (c, next) => {
    c.set('tiles', tiles);
    await next();
    if (!tiles || !WRITE_METHODS.has(c.req.method) || c.res.status >= 400) return;
    await tiles.sync(options.db);
    const body = c.res.body;
    if (!body || !(c.res.headers.get('content-type') ?? '').includes('ndjson')) return;
    const done = new TransformStream<Uint8Array, Uint8Array>({ flush: () => tiles.sync(options.db) });
    c.res = new Response(body.pipeThrough(done), c.res);
  });
  app.use('/api/*', draftScope());
  app.onError(onError);

  const routes = app
    .route('/api', metaRoutes())
    .route('/api', authRoutes())
    .route('/api', userRoutes())
    .route('/api', regionRoutes())
    .route('/api', tileRoutes())
    .route('/api', householdRoutes())
    .route('/api', importRoutes())
    .route('/api', ruleRoutes())
    .route('/api', compareRoutes())
    .route('/api', draftRoutes())
    .route('/api', settingsRoutes())
    .route('/api', exportRoutes())
    .route('/api', editRoutes())
    .route('/api', coverageRoutes())
    .route('/api', autosplitRoutes())
    .route('/api', barrierRoutes())
    .route('/api', incidentRoutes())
    .route('/api', incidentAnalyticsRoutes())
    .route('/api', statsRoutes())
    .route('/api', dispatchRoutes())
    .route('/api', staffRoutes())
    .route('/api', fieldRoutes())
    .route('/api', notificationRoutes())
    .route('/api', patrolRoutes())
    .route('/api', backupRoutes());
  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'GridPlan API', version: '0.1.0', description: 'Regions, grids, households and coverage of grid-based governance.' },
  });
  // Server-sent events for wall displays: new and changed incidents as they happen.
  app.get('/api/events', (c) => eventStream(c, events, streams));
  app.all('/api/*', (c) => {
    throw new InputError('not_found', `no API route ${c.req.method} ${c.req.path}`, c.req.path);
  });
  return routes;
}

export type { AppOptions };
export type AppType = ReturnType<typeof createApp>;
