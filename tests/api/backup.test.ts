import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups, pruneBackups, restore } from '../../server/db/backup.ts';
import { openDb, type Db, type Queryable } from '../../server/db/db.ts';
import { withDatabase } from '../support/template.ts';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/** Every table of ours, each as a checksum of its rows in a fixed order. */
async function fingerprint(db: Queryable): Promise<Record<string, string>> {
  const { rows: tables } = await db.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
      AND table_name <> 'spatial_ref_sys' ORDER BY 1`,
  );
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const { rows } = await db.query<{ n: number; sum: string | null }>(
      `SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS sum FROM "${name}" t`,
    );
    out[name] = `${rows[0]!.n}:${rows[0]!.sum}`;
  }
  return out;
}

const jpeg = (n: number) => {
  const b = new Uint8Array(n).fill(9);
  b.set([0xff, 0xd8, 0xff, 0xe0]);
  return b;
};

/** A backup's name for a moment, as the server writes it (20300101-080000Z). */
const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .replace('T', '-');

for (const driver of DRIVERS) {
  describe(`backup and restore (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let dir: string;
    const cleanups: (() => Promise<unknown>)[] = [];
    // Backups are named by the second of the app's clock.
    let now = new Date('2030-01-01T08:00:00Z');

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      dir = await mkdtemp(join(tmpdir(), 'gridplan-backup-'));
      ctx = await apiContext(t.db, { backups: { dir, keep: 2 }, controlToken: 'local-control-secret-of-this-test', clock: () => now });
    });
    afterAll(async () => {
      for (const c of cleanups) await c().catch(() => {});
      await dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it('backs up the running database after edits and photos, and restores every table into an empty database', async () => {
      // edits, an incident with a photo, an account: everything a county keeps
      const {
        rows: [g],
      } = await ctx.db.query<{ id: number; x: number; y: number }>(
        `SELECT id, ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y FROM region WHERE level = 'grid' ORDER BY id LIMIT 1`,
      );
      const version = (await ctx.request('GET', `/api/regions/${g!.id}`)).body.properties.version;
      expect((await ctx.request('PATCH', `/api/regions/${g!.id}`, { version, name: '备份前改名' })).status).toBe(200);
      const incident = await ctx.request('POST', '/api/incidents', { lon: g!.x, lat: g!.y, category: 'fire', severity: 2, description: '备份测试' });
      expect(incident.status).toBe(201);
      const photo = await ctx.app.request(`/api/incidents/${incident.body.id}/photos`, {
        method: 'POST',
        body: jpeg(20_000),
        headers: { 'content-type': 'image/jpeg', ...(await ctx.cookie({ username: 'tester', role: 'admin' })) },
      });
      expect(photo.status).toBe(201);

      // `npm run backup` asks the running server with the control token; nobody else may
      expect((await ctx.request('POST', '/api/backups', undefined, { cookie: '', 'x-gridplan-control': 'wrong' })).status).toBe(401);
      expect((await ctx.request('POST', '/api/backups', undefined, await ctx.cookie({ username: 'backup-planner', role: 'planner' }))).status).toBe(403);
      // what the backup must hold (its own entry in the change log comes after it)
      const expected = await fingerprint(ctx.db);
      const written = await ctx.request('POST', '/api/backups', undefined, { cookie: '', 'x-gridplan-control': 'local-control-secret-of-this-test' });
      expect(written.status, JSON.stringify(written.body)).toBe(201);
      expect(written.body.file).toMatch(driver === 'pglite' ? /^gridplan-\d{8}-\d{6}Z\.pglite\.tar\.gz$/ : /^gridplan-\d{8}-\d{6}Z\.pgdump$/);
      expect(written.body.bytes).toBeGreaterThan(100_000);
      expect(Object.keys(expected)).toEqual(
        expect.arrayContaining(['region', 'household', 'incident', 'incident_photo', 'change', 'app_user', 'dispatch', 'grid_staff']),
      );

      // into an empty database of the same kind
      const file = join(dir, written.body.file);
      let restored: Db;
      if (driver === 'pglite') {
        const target = join(dir, 'restored');
        await restore(file, { dataDir: target });
        restored = await openDb({ dataDir: target });
      } else {
        const name = `gridplan_restored_${process.pid}`;
        const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${name}`);
        await admin.query(`CREATE DATABASE ${name}`);
        await admin.end();
        const url = withDatabase(process.env.DATABASE_URL!, name);
        // as CI makes its databases: PostGIS already there
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        await c.query('CREATE EXTENSION postgis');
        await c.end();
        await restore(file, { databaseUrl: url });
        restored = await openDb({ databaseUrl: url });
        cleanups.push(async () => {
          const a = new pg.Client({ connectionString: process.env.DATABASE_URL });
          await a.connect();
          await a.query(`DROP DATABASE IF EXISTS ${name}`);
          await a.end();
        });
      }
      try {
        expect(await fingerprint(restored)).toEqual(expected);
        const { rows } = await restored.query<{ name: string }>('SELECT name FROM region WHERE id = $1', [g!.id]);
        expect(rows[0]!.name).toBe('备份前改名');
      } finally {
        await restored.close();
      }
    });

    it('never restores into a database that is not empty, and keeps only the newest backups', async () => {
      if (driver === 'pglite') {
        const busy = join(dir, 'busy');
        await writeFile(join(dir, 'placeholder'), '');
        await expect(restore(join(dir, 'placeholder'), { dataDir: busy })).rejects.toThrow(/not a GridPlan backup/);
        await writeFile(join(dir, 'gridplan-x.pglite.tar.gz'), 'x');
        await rm(busy, { recursive: true, force: true });
        await openDb({ dataDir: busy }).then((d) => d.close());
        await expect(restore(join(dir, 'gridplan-x.pglite.tar.gz'), { dataDir: busy })).rejects.toThrow(/is not empty/);
      } else {
        await writeFile(join(dir, 'gridplan-x.pgdump'), 'x');
        await expect(restore(join(dir, 'gridplan-x.pgdump'), { databaseUrl: ctx.db.url! })).rejects.toThrow(/not empty/);
      }
      // (the stand-ins above are no backups to keep or list)
      await rm(join(dir, driver === 'pglite' ? 'gridplan-x.pglite.tar.gz' : 'gridplan-x.pgdump'), { force: true });
      // two older ones by hand (stand-ins: a real backup of the embedded database takes seconds), then a real one
      const suffix = driver === 'pglite' ? '.pglite.tar.gz' : '.pgdump';
      for (const minutes of [2, 1]) await writeFile(join(dir, `gridplan-${stamp(new Date(now.getTime() + minutes * 60_000))}${suffix}`), 'x');
      now = new Date(now.getTime() + 3 * 60_000);
      expect((await ctx.request('POST', '/api/backups')).status).toBe(201);
      const kept = (await ctx.request('GET', '/api/backups')).body;
      // the newest two by hand: the real one just made, and the newer stand-in
      expect(kept.length).toBe(2);
      expect(kept.map((k: { file: string }) => k.file)).toEqual([
        `gridplan-${stamp(now)}${suffix}`,
        `gridplan-${stamp(new Date(now.getTime() - 60_000))}${suffix}`,
      ]);
      // The nightly ones are kept apart: three later nights leave the two made by hand (the one before a risky change).
      for (const night of ['20300601-190000Z', '20300602-190000Z', '20300603-190000Z']) await writeFile(join(dir, `gridplan-daily-${night}${suffix}`), 'x');
      await pruneBackups(dir, 2);
      const left = (await listBackups(dir)).map((b) => basename(b.file));
      expect(left).toEqual([
        `gridplan-daily-20300603-190000Z${suffix}`,
        `gridplan-daily-20300602-190000Z${suffix}`,
        ...kept.map((k: { file: string }) => k.file),
      ]);
    });
  });
}
