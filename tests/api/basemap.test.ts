import { join } from 'node:path';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { PMTiles, type RangeResponse, type Source } from 'pmtiles';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.ts';
import { openBasemap } from '../../server/files/basemap.ts';
import { cloneTestDb } from '../support/db.ts';
import { sessionCookie } from '../support/auth.ts';
import type { Db } from '../../server/db/db.ts';

/** Made by GDAL's PMTiles driver (scripts/fixtures/basemap-fixture.ts): 沾益区's outline, a lake and three roads. */
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'basemap', 'zhanyi.pmtiles');

describe('offline basemap (PMTiles)', () => {
  let db: Db;
  let dispose: () => Promise<void>;
  let app: ReturnType<typeof createApp>;
  let cookie: string;

  beforeAll(async () => {
    const t = await cloneTestDb('pglite');
    db = t.db;
    dispose = t.dispose;
    app = createApp({ db, basemap: await openBasemap(FIXTURE) });
    cookie = await sessionCookie(db, { username: 'basemap-viewer', role: 'analyst' });
  });
  afterAll(() => dispose());

  it('says what it holds in /api/config, and the PMTiles client reads its tiles through the server in ranges', async () => {
    const config = await (await app.request('/api/config')).json();
    expect(config.pmtiles).toMatchObject({ url: '/api/basemap.pmtiles', kind: 'vector', format: 'mvt', minZoom: 6, maxZoom: 12 });
    expect(config.pmtiles.layers.sort()).toEqual(['earth', 'roads', 'water']);
    expect(config.tianditu).toBeNull();

    // The library the browser uses, its bytes fetched from our route.
    const asked: string[] = [];
    const source: Source = {
      getKey: () => 'basemap',
      async getBytes(offset: number, length: number): Promise<RangeResponse> {
        const range = `bytes=${offset}-${offset + length - 1}`;
        asked.push(range);
        const res = await app.request('/api/basemap.pmtiles', { headers: { cookie, range } });
        expect(res.status).toBe(206);
        expect(res.headers.get('content-range')).toMatch(new RegExp(`^bytes ${offset}-\\d+/\\d+$`));
        return { data: await res.arrayBuffer() };
      },
    };
    const archive = new PMTiles(source);
    // the tile at zoom 10 holding 沾益 (103.82° E, 25.6° N)
    const tile = await archive.getZxy(10, 807, 436);
    expect(tile).toBeDefined();
    const layers = new VectorTile(new PbfReader(new Uint8Array(tile!.data))).layers;
    expect(Object.keys(layers)).toEqual(expect.arrayContaining(['earth', 'roads']));
    expect(asked.length).toBeGreaterThan(1);
  });

  it('refuses what is not one range of it, and strangers', async () => {
    const size = (await openBasemap(FIXTURE)).size;
    const no = await app.request('/api/basemap.pmtiles', { headers: { cookie } });
    expect(no.status).toBe(400);
    expect((await no.json()).error).toMatchObject({ code: 'range_required', path: 'range' });
    const two = await app.request('/api/basemap.pmtiles', { headers: { cookie, range: 'bytes=0-10,20-30' } });
    expect(two.status).toBe(400);
    const past = await app.request('/api/basemap.pmtiles', { headers: { cookie, range: `bytes=${size}-${size + 10}` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${size}`);
    const tail = await app.request('/api/basemap.pmtiles', { headers: { cookie, range: `bytes=${size - 10}-` } });
    expect([tail.status, (await tail.arrayBuffer()).byteLength]).toEqual([206, 10]);
    expect((await app.request('/api/basemap.pmtiles', { headers: { range: 'bytes=0-99' } })).status).toBe(401);
    // a server without one says so
    const bare = createApp({ db });
    const none = await bare.request('/api/basemap.pmtiles', { headers: { cookie, range: 'bytes=0-99' } });
    expect(none.status).toBe(404);
    expect((await (await bare.request('/api/config')).json()).pmtiles).toBeNull();
  });

  it('gives Tianditu’s map and labels with the key when one is set', async () => {
    const tdt = createApp({ db, tiandituToken: 'abc 123' });
    const config = await (await tdt.request('/api/config')).json();
    expect(config.tianditu.vector).toContain('LAYER=vec');
    expect(config.tianditu.labels).toContain('LAYER=cva');
    expect(config.tianditu.vector).toContain('tk=abc%20123');
    expect(config.tianditu.vector).toContain('TILEMATRIX={z}&TILEROW={y}&TILECOL={x}');
  });

  it('refuses, with the reason, a file that is not a PMTiles archive', async () => {
    await expect(openBasemap(join(import.meta.dirname, '..', 'fixtures', 'basemap', '..', '..', '..', 'package.json'))).rejects.toThrow();
  });
});
