import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formulaSafe, writeLayers } from '../../server/files/write.ts';

const dir = mkdtempSync(join(tmpdir(), 'gridplan-csv-'));

const number = /^-?(0|[1-9]\d*)(\.\d+)?(e[+-]?\d+)?$/i;

/** A CSV read back by GDAL's own ogr2ogr (not ours): each row's cells as text, by column. */
function readBack(file: string): Record<string, string>[] {
  const out = execFileSync('ogr2ogr', ['-f', 'GeoJSON', '/vsistdout/', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return (JSON.parse(out) as { features: { properties: Record<string, unknown> }[] }).features.map((f) =>
    // (a number as C's printf writes it, -1e-06, or as JavaScript does, -0.000001: the same number; 0874 is no number)
    Object.fromEntries(Object.entries(f.properties).map(([k, v]) => [k, v === null ? '' : number.test(String(v)) ? String(Number(v)) : String(v)])),
  );
}

// cells as exports hold them: words with commas, quotes, line breaks and spaces, a formula's start, numbers, nothing
const cell = fc.oneof(
  fc.string({ unit: fc.constantFrom('甲', '乙', 'a', ',', '"', '\n', ' ', '=', '-', '1', '号', "'", ';'), maxLength: 12 }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.integer({ min: -1_800_000_000, max: 1_800_000_000 }).map((n) => n / 1e7),
  fc.constant(null),
);
const columns = ['编号', '描述', '地址', '经度', 'note'];

describe('tables written as CSV without GDAL', () => {
  it('read back by GDAL the same as the CSV GDAL itself writes from the same rows', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(cell, cell, cell, cell, cell), { minLength: 1, maxLength: 20 }), async (cells) => {
        const rows = cells.map((c) => Object.fromEntries(columns.map((k, i) => [k, c[i]])));
        const ours = join(dir, `ours-${++n}.csv`);
        writeFileSync(
          ours,
          (
            await writeLayers(`csv-${n}`, [{ name: 't', sheet: 't', geometryType: null, rows: rows.map((properties) => ({ properties, geometry: null })) }], {
              format: 'csv',
              crs: 'EPSG:4326',
              encoding: 'UTF-8',
            })
          ).bytes,
        );
        // GDAL's own writing of the same rows, with the same guard against formulas
        const guarded = rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, formulaSafe(v)])));
        const source = join(dir, `rows-${n}.geojson`);
        writeFileSync(
          source,
          JSON.stringify({ type: 'FeatureCollection', features: guarded.map((properties) => ({ type: 'Feature', properties, geometry: null })) }),
        );
        const theirs = join(dir, `gdal-${n}.csv`);
        execFileSync('ogr2ogr', ['-f', 'CSV', '-lco', 'WRITE_BOM=YES', theirs, source]);
        expect(readBack(ours), `${readFileSync(ours, 'utf8')}\n---\n${readFileSync(theirs, 'utf8')}`).toEqual(readBack(theirs));
        expect(readFileSync(ours).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
      }),
      { numRuns: 40 },
    );
  });
});
