import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

/**
 * Geometry tests as files you can open (the Turf way): `tests/fixtures/<function>/in/<case>.geojson`
 * is the input, `out/<case>.geojson` what the function made of it, styled (simplestyle: stroke,
 * fill) so that any GeoJSON viewer shows it readably. `REGEN=1 npm test` writes the outputs anew;
 * otherwise each run must reproduce them.
 */
export interface FixtureCase {
  name: string;
  input: GeoJSON.FeatureCollection;
  outPath: string;
}

const ROOT = join(import.meta.dirname, '..', 'fixtures');

export function fixtureCases(fn: string): FixtureCase[] {
  const dir = join(ROOT, fn, 'in');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.geojson'))
    .sort()
    .map((f) => ({ name: f.replace(/\.geojson$/, ''), input: JSON.parse(readFileSync(join(dir, f), 'utf8')), outPath: join(ROOT, fn, 'out', f) }));
}

/** Numbers to 9 decimals (~0.1 mm in degrees): output files are stable across platforms. */
const rounded = (v: unknown): unknown =>
  typeof v === 'number'
    ? Math.round(v * 1e9) / 1e9
    : Array.isArray(v)
      ? v.map(rounded)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rounded(x)]))
        : v;

export function expectFixture(c: FixtureCase, actual: GeoJSON.FeatureCollection): void {
  const out = rounded(actual);
  if (process.env.REGEN === '1' || !existsSync(c.outPath)) {
    mkdirSync(join(c.outPath, '..'), { recursive: true });
    writeFileSync(c.outPath, `${JSON.stringify(out, null, 1)}\n`);
  }
  expect(out, `${c.name}: differs from ${c.outPath} (REGEN=1 writes it anew)`).toEqual(JSON.parse(readFileSync(c.outPath, 'utf8')));
}

/** simplestyle-spec properties for a viewer. */
export const style = (stroke: string, fill?: string, opacity = 0.35) => ({
  stroke,
  'stroke-width': 2,
  ...(fill ? { fill, 'fill-opacity': opacity } : { 'fill-opacity': 0 }),
});
