import { createRoute, z } from '@hono/zod-openapi';
import { basename } from 'node:path';
import { backup, listBackups, pruneBackups } from '../db/backup.ts';
import { recordChange } from '../db/regions.ts';
import { InputError } from '../domain/errors.ts';
import { actorOf } from '../http/auth.ts';
import { nowOf, router } from '../http/router.ts';
import { errorResponses } from './schemas.ts';

const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });
const Backup = z.object({ file: z.string(), bytes: z.number().int(), at: z.string() }).openapi('Backup');

const createRouteDef = createRoute({
  method: 'post',
  path: '/backups',
  summary: 'Back up the whole database now, while the server runs (admin, or `npm run backup` on the server)',
  responses: { 201: { description: 'Written', ...json(Backup) }, ...errorResponses(401, 403, 422) },
});
const listRoute = createRoute({
  method: 'get',
  path: '/backups',
  summary: 'The backups kept, newest first (admin)',
  responses: { 200: { description: 'Backups', ...json(z.array(Backup)) }, ...errorResponses(401, 403) },
});

/** Names only: where the server keeps its files is the server's business. */
const named = (b: { file: string; bytes: number; at: string }) => ({ ...b, file: basename(b.file) });

export function backupRoutes() {
  return router()
    .openapi(createRouteDef, async (c) => {
      const options = c.get('options');
      if (!options.backups) throw new InputError('backups_off', 'this server has no backup folder configured', '');
      const written = await backup(c.get('db'), options.backups.dir, nowOf(c));
      if (options.backups.keep > 0) await pruneBackups(options.backups.dir, Math.max(options.backups.keep, 1));
      await c
        .get('db')
        .transaction((tx) =>
          recordChange(tx, { actor: actorOf(c), action: 'backup', entity: 'database', entityId: null, before: null, after: named(written) }),
        );
      return c.json(named(written), 201);
    })
    .openapi(listRoute, async (c) => {
      const dir = c.get('options').backups?.dir;
      return c.json(dir ? (await listBackups(dir)).map(named) : [], 200);
    });
}
