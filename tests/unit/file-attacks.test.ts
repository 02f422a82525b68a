import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../server/domain/errors.ts';
import { inspectFile, MAX_SHAPEFILES } from '../../server/files/read.ts';

/** Files made to hurt the server: each refused in words, and GDAL still serves the next file. */
describe('files made to keep GDAL busy or read what is not theirs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gridplan-attacks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  };
  const geojson = new TextEncoder().encode(
    JSON.stringify({
      type: 'FeatureCollection',
      features: [{ type: 'Feature', properties: { name: '甲' }, geometry: { type: 'Point', coordinates: [103.8, 25.6] } }],
    }),
  );

  it('does not open a GDAL VRT sent as KML: it would read other files and run SQL as its rows were counted', async () => {
    const vrt =
      '<OGRVRTDataSource><OGRVRTLayer name="q"><SrcDataSource>CSV:/usr/share/proj/proj.ini</SrcDataSource>' +
      '<SrcSQL dialect="SQLite">WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c</SrcSQL></OGRVRTLayer></OGRVRTDataSource>';
    const err = await refusal(inspectFile('attack-vrt', 'sql.kml', new TextEncoder().encode(vrt)));
    expect(err.code).toBe('unreadable_file');
    expect(err.message).not.toMatch(/object Object/);
    // and the thread reads the next file
    expect((await inspectFile('attack-after-vrt', 'ok.geojson', geojson)).layers[0]).toMatchObject({ count: 1 });
  });

  it(`refuses a zip of more than ${MAX_SHAPEFILES} Shapefiles before opening any`, async () => {
    const one = join(dir, 'one.geojson');
    writeFileSync(one, geojson);
    execFileSync('ogr2ogr', ['-f', 'ESRI Shapefile', join(dir, 's.shp'), one]);
    const parts = Object.fromEntries(['shp', 'shx', 'dbf'].map((x) => [x, new Uint8Array(readFileSync(join(dir, `s.${x}`)))]));
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i <= MAX_SHAPEFILES; i++) for (const [x, bytes] of Object.entries(parts)) files[`s${i}.${x}`] = bytes;
    const err = await refusal(inspectFile('attack-many', 'many.zip', zipSync(files)));
    expect(err).toMatchObject({ code: 'too_many_layers', path: 'file', details: { count: MAX_SHAPEFILES + 1, limit: MAX_SHAPEFILES } });
  });

  it('stops GDAL on a GeoPackage whose layer never ends (a recursive view), says so, and starts it afresh for the next file', async () => {
    const gpkg = join(dir, 'slow.gpkg');
    execFileSync('ogr2ogr', ['-f', 'GPKG', gpkg, join(dir, 'one.geojson')]);
    execFileSync('ogrinfo', [gpkg, '-sql', 'CREATE VIEW slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS fid, x FROM c']);
    execFileSync('ogrinfo', [gpkg, '-sql', "INSERT INTO gpkg_contents (table_name, data_type, identifier) VALUES ('slow', 'attributes', 'slow')"]);
    // the thread warm first, so that the limit is the file's
    await inspectFile('attack-warm', 'ok.geojson', geojson);
    const before = process.env.GRIDPLAN_GDAL_TIMEOUT_S;
    process.env.GRIDPLAN_GDAL_TIMEOUT_S = '3';
    try {
      const err = await refusal(inspectFile('attack-slow', 'slow.gpkg', new Uint8Array(readFileSync(gpkg))));
      expect(err).toMatchObject({ code: 'too_slow', path: 'file' });
    } finally {
      if (before === undefined) delete process.env.GRIDPLAN_GDAL_TIMEOUT_S;
      else process.env.GRIDPLAN_GDAL_TIMEOUT_S = before;
    }
    expect((await inspectFile('attack-after-slow', 'ok.geojson', geojson)).layers[0]).toMatchObject({ count: 1 });
  });

  it("takes a .prj's authority only when it is one PROJ knows", async () => {
    const one = join(dir, 'one.geojson');
    execFileSync('ogr2ogr', ['-f', 'ESRI Shapefile', join(dir, 'p.shp'), one, '-a_srs', 'EPSG:4326']);
    const prj = readFileSync(join(dir, 'p.prj'), 'utf8').replace(/\]\]$/, ',AUTHORITY["<b>x</b>","4326"]]');
    const files = Object.fromEntries(['shp', 'shx', 'dbf'].map((x) => [`p.${x}`, new Uint8Array(readFileSync(join(dir, `p.${x}`)))]));
    const got = await inspectFile('attack-prj', 'p.zip', zipSync({ ...files, 'p.prj': new TextEncoder().encode(prj) }));
    expect(got.layers[0]!.crs ?? '').not.toMatch(/<b>/);
  });
});
