import { postgis } from '@electric-sql/pglite-postgis';
import type { Extension } from '@electric-sql/pglite';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { createTar, parseTar } from 'nanotar';

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

/**
 * PostGIS for the embedded database without what GridPlan never loads. The package's bundle holds
 * three libraries of WebAssembly (postgis 17 MB, postgis_raster 16 MB, postgis_topology 15 MB), and
 * PGlite unpacks and compiles every one of them each time a database opens. Without raster,
 * topology and the tiger geocoder an open takes 2.3–2.7 s instead of 3.9–5.3 s and 3.4 s of CPU
 * instead of 5.1–7.2 s (`npm start`, every restart, every test's database). The trimmed copy is made
 * once from the installed package's own bundle and kept beside it in a cache; the package's setup
 * (its environment for PROJ and GDAL) is used unchanged.
 */
const UNUSED = /(?:^|\/)postgis_(?:raster|topology|tiger_geocoder)\b|\/address_standardizer/;

let trimmed: Promise<URL | null> | null = null;

export function postgisExtension(): Extension {
  return {
    name: 'postgis',
    setup: async (pg, emscriptenOpts) => {
      const original = await postgis.setup(pg, emscriptenOpts);
      const bundle = await (trimmed ??= trimBundle(original.bundlePath));
      return bundle ? { ...original, bundlePath: bundle } : original;
    },
  };
}

/** The cached trimmed bundle for the installed package's `bundlePath`, made on first use; null (the full bundle) if it cannot be. */
async function trimBundle(source: URL | undefined): Promise<URL | null> {
  if (!source || source.protocol !== 'file:') return null;
  const from = fileURLToPath(source);
  const { size, mtimeMs } = statSync(from);
  const name = `postgis-${size}-${Math.round(mtimeMs)}.tar.gz`;
  for (const dir of [resolve(from, '..', '..', '..', '..', '.cache', 'gridplan'), join(tmpdir(), 'gridplan-cache')]) {
    const target = join(dir, name);
    if (existsSync(target)) return new URL(`file://${target}`);
    try {
      await mkdir(dir, { recursive: true });
      const entries = parseTar(await gunzipAsync(await readFile(from)));
      const kept = entries.filter((e) => !UNUSED.test(e.name) && (e.type === 'file' || e.type === 'directory' || e.type === undefined));
      const tar = createTar(kept.map((e) => ({ name: e.type === 'directory' && !e.name.endsWith('/') ? `${e.name}/` : e.name, data: e.data, attrs: e.attrs })));
      // Written under a name of its own and renamed: two processes starting at once each see a whole file.
      const part = `${target}.${process.pid}.part`;
      await writeFile(part, await gzipAsync(tar, { level: 1 }));
      await rename(part, target);
      return new URL(`file://${target}`);
    } catch {
      await rm(join(dir, `${name}.${process.pid}.part`), { force: true }).catch(() => undefined);
    }
  }
  return null;
}
