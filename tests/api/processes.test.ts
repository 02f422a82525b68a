import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChild, stopChild, type ChildServer } from '../../scripts/lib/child-server.ts';
import { sessionCookie } from '../support/auth.ts';
import { cloneTestDb } from '../support/db.ts';
import type { Db } from '../../server/db/db.ts';

/**
 * Two server processes on one PostgreSQL, as behind a reverse proxy (or GRIDPLAN_WORKERS): what one
 * writes, the other's cached answers and tiles show at once — not when they expire (60 s, longer
 * than these waits) — and an incident reported through one reaches the live streams of the other.
 */
describe.runIf(!!process.env.DATABASE_URL)('several processes on one PostgreSQL', () => {
  let db: Db;
  let dispose: () => Promise<void>;
  let a: ChildServer;
  let b: ChildServer;
  let cookie: string;
  let grid: { id: number; lon: number; lat: number };

  beforeAll(async () => {
    const t = await cloneTestDb('pg');
    db = t.db;
    dispose = t.dispose;
    cookie = await sessionCookie(db, { username: 'two-processes', role: 'admin' });
    const env = { DATABASE_URL: t.where.databaseUrl! };
    [a, b] = await Promise.all([startChild(env), startChild(env)]);
    const { rows } = await db.query<{ id: number; lon: number; lat: number }>(
      `SELECT id, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM region WHERE level = 'grid' ORDER BY id LIMIT 1`,
    );
    grid = rows[0]!;
  }, 180_000);
  afterAll(async () => {
    await Promise.all([a && stopChild(a), b && stopChild(b)]);
    await dispose();
  });

  const get = (s: ChildServer, path: string) => fetch(s.url + path, { headers: { cookie } });
  const rename = async (name: string) => {
    const version = ((await (await get(a, `/api/regions/${grid.id}`)).json()) as { properties: { version: number } }).properties.version;
    const res = await fetch(`${a.url}/api/regions/${grid.id}`, {
      method: 'PATCH',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ version, name }),
    });
    expect(res.status).toBe(200);
  };

  it('retires the other process’s cached answers and tiles when one process writes', async () => {
    const read = async () => ((await (await get(b, `/api/regions/${grid.id}`)).json()) as { properties: { name: string } }).properties.name;
    await read();
    expect((await get(b, `/api/regions/${grid.id}`)).headers.get('x-cache')).toBe('hit');
    const n = 2 ** 15;
    const x = Math.floor(((grid.lon + 180) / 360) * n);
    const r = (grid.lat * Math.PI) / 180;
    const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
    const tileName = async () => {
      const bytes = new Uint8Array(await (await get(b, `/api/tiles/grid/15/${x}/${y}.mvt`)).arrayBuffer());
      const layer = new VectorTile(new PbfReader(bytes)).layers.grid!;
      for (let i = 0; i < layer.length; i++) if (layer.feature(i).id === grid.id) return layer.feature(i).properties.name;
      return null;
    };
    await tileName();
    expect((await get(b, `/api/tiles/grid/15/${x}/${y}.mvt`)).headers.get('x-cache')).toBe('hit');

    await rename('两个进程的网格');
    await expect.poll(read, { timeout: 30_000 }).toBe('两个进程的网格');
    await expect.poll(tileName, { timeout: 30_000 }).toBe('两个进程的网格');
  });

  it('brings an incident reported through one process to the live streams of the other', async () => {
    const controller = new AbortController();
    const stream = await fetch(`${b.url}/api/events`, { headers: { cookie, accept: 'text/event-stream' }, signal: controller.signal });
    expect(stream.status).toBe(200);
    let heard = '';
    const reader = stream.body!.getReader();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        heard += new TextDecoder().decode(value);
      }
    })();
    const made = await fetch(`${a.url}/api/incidents`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ lon: grid.lon, lat: grid.lat, category: 'fire', severity: 2, description: '另一进程上报' }),
    });
    expect(made.status).toBe(201);
    const id = ((await made.json()) as { id: number }).id;
    await expect.poll(() => heard.includes(`"id":${id}`) || heard.includes(`"incidentId":${id}`), { timeout: 30_000 }).toBe(true);
    controller.abort();
  });
});
