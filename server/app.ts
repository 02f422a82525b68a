import { bodyLimit } from 'hono/body-limit';
import { compress } from 'hono/compress';
import { csrf } from 'hono/csrf';
import { secureHeaders } from 'hono/secure-headers';
import { InputError } from './domain/errors.ts';
import { authenticate } from './http/auth.ts';
import { ReadCache } from './http/cache.ts';
import { onError } from './http/errors.ts';
import { EventBus, eventStream } from './http/events.ts';
import { router, type AppOptions } from './http/router.ts';
import { authRoutes } from './routes/auth.ts';
import { autosplitRoutes } from './routes/autosplit.ts';
import { coverageRoutes } from './routes/coverage.ts';
import { dispatchRoutes } from './routes/dispatches.ts';
import { editRoutes } from './routes/edits.ts';
import { fieldRoutes, MAX_PHOTO_BYTES } from './routes/field.ts';
import { householdRoutes } from './routes/households.ts';
import { incidentRoutes } from './routes/incidents.ts';
import { staffRoutes } from './routes/staff.ts';
import { statsRoutes } from './routes/stats.ts';
import { metaRoutes } from './routes/meta.ts';
import { regionRoutes } from './routes/regions.ts';
import { userRoutes } from './routes/users.ts';

export function createApp(options: AppOptions) {
  const { maxJsonBytes = 20 * 1024 * 1024, maxUploadBytes = 200 * 1024 * 1024 } = options;
  const tooLarge = (limit: number) => () => {
    throw new InputError('payload_too_large', `request body exceeds the limit of ${limit} bytes`, 'body', 413);
  };
  const events = options.events ?? new EventBus();
  const app = router();
  app.use('*', secureHeaders({ contentSecurityPolicy: undefined, crossOriginEmbedderPolicy: false }));
  app.use('/api/*', async (c, next) => {
    c.set('db', options.db);
    c.set('options', options);
    c.set('events', events);
    await next();
  });
  // Cross-site form posts are refused (forms always send a content type); the session cookie is SameSite=Lax besides.
  const crossSite = csrf();
  app.use('/api/*', (c, next) => (c.req.header('content-type') ? crossSite(c, next) : next()));
  app.use('/api/*', authenticate());
  const uploads = ['/api/households/import', '/api/incidents/import'];
  const uploadLimit = bodyLimit({ maxSize: maxUploadBytes, onError: tooLarge(maxUploadBytes) });
  const jsonLimit = bodyLimit({ maxSize: maxJsonBytes, onError: tooLarge(maxJsonBytes) });
  const photoLimit = bodyLimit({ maxSize: MAX_PHOTO_BYTES, onError: tooLarge(MAX_PHOTO_BYTES) });
  app.use('/api/*', (c, next) => {
    // Reads have no body; looking for one would build a full web Request for each of them.
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    if (/^\/api\/incidents\/[^/]+\/photos$/.test(c.req.path)) return photoLimit(c, next);
    return (uploads.includes(c.req.path) ? uploadLimit : jsonLimit)(c, next);
  });
  app.use('/api/*', compress());
  if (options.cache !== false) {
    const cache = options.cache ?? new ReadCache({ soleWriter: options.db.driver === 'pglite' });
    // Before any live listener hears of a new incident, answers that counted incidents retire.
    events.subscribe(() => cache.bump(['incidents']));
    app.use('/api/*', cache.middleware());
  }
  app.onError(onError);

  const routes = app.route('/api', metaRoutes()).route('/api', authRoutes()).route('/api', userRoutes()).route('/api', regionRoutes()).route('/api', householdRoutes()).route('/api', editRoutes()).route('/api', coverageRoutes()).route('/api', autosplitRoutes()).route('/api', incidentRoutes()).route('/api', statsRoutes()).route('/api', dispatchRoutes()).route('/api', staffRoutes()).route('/api', fieldRoutes());
  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'GridPlan API', version: '0.1.0', description: 'Regions, grids, households and coverage of grid-based governance.' },
  });
  // Server-sent events for wall displays: new and changed incidents as they happen.
  app.get('/api/events', (c) => eventStream(c, events));
  app.all('/api/*', (c) => c.json({ error: { code: 'not_found', message: `no API route ${c.req.method} ${c.req.path}`, path: c.req.path } }, 404));
  return routes;
}

export type { AppOptions };
export type AppType = ReturnType<typeof createApp>;
