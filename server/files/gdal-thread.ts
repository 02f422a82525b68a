/**
 * GDAL (gdal3.js, WebAssembly) in a worker thread of its own: every GDAL call runs synchronously,
 * so on the server's thread a 20-second conversion would stall every request. One instance, used
 * one request at a time; each job keeps its files in `/output/<job>/` of GDAL's in-memory file
 * system and is dropped when done. Messages: `open`, `read`, `write`, `drop`.
 */
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { zipSync } from 'fflate';
import initGdalJs from 'gdal3.js/node.js';

export type Request =
  | {
      id: number;
      op: 'open';
      job: string;
      files: { name: string; bytes: Uint8Array }[];
      path: string;
      openOptions: string[];
      vsi: string[];
      /** The only GDAL drivers that may open it (by their short names): a file named .kml that is a VRT, say, is not opened as one. */
      drivers: string[];
    }
  | { id: number; op: 'read'; job: string; layer: string; args: string[] }
  | {
      id: number;
      op: 'write';
      job: string;
      inputs: { name: string; geojson: string; args?: string[] }[];
      args: string[];
      output: string;
      /** Gather the layers in a GeoPackage first and translate it at once (KML cannot add a layer to a file it wrote). */
      stage: boolean;
    }
  | { id: number; op: 'drop'; job: string };

export type Reply = { id: number; ok: true; value?: unknown; bytes?: Uint8Array } | { id: number; ok: false; message: string };

type GdalApi = Awaited<ReturnType<typeof initGdalJs>> & { Module: EmscriptenModule };
interface EmscriptenModule {
  FS: {
    mkdir(p: string): void;
    writeFile(p: string, data: Uint8Array | string): void;
    readFile(p: string): Uint8Array;
    readdir(p: string): string[];
    stat(p: string): { mode: number };
    isDir(mode: number): boolean;
    unlink(p: string): void;
    rmdir(p: string): void;
    analyzePath(p: string): { exists: boolean };
  };
  ccall(name: string, ret: string | null, types: string[], args: unknown[]): number;
  _malloc(n: number): number;
  _free(p: number): void;
  lengthBytesUTF8(s: string): number;
  stringToUTF8(s: string, p: number, n: number): void;
  setValue(p: number, v: number, type: string): void;
}

/** What GDAL said while the current request ran (its own messages are the best explanation of a failure). */
let said: string[] = [];

async function start(): Promise<GdalApi> {
  const dist = join(dirname(createRequire(import.meta.url).resolve('gdal3.js/package.json')), 'dist', 'package');
  // gdal3.js reads its files relative to the working directory (an absolute path loses its leading slash).
  return (await initGdalJs({
    path: relative(process.cwd(), dist) || '.',
    useWorker: false,
    logHandler: () => {},
    errorHandler: (m: string) => void said.push(m),
  })) as GdalApi;
}

const datasets = new Map<string, { pointer: number; path: string; type: string; info: object }>();

function removeTree(gdal: GdalApi, p: string): void {
  const FS = gdal.Module.FS;
  if (!FS.analyzePath(p).exists) return;
  if (FS.isDir(FS.stat(p).mode)) {
    for (const e of FS.readdir(p)) if (e !== '.' && e !== '..') removeTree(gdal, `${p}/${e}`);
    FS.rmdir(p);
  } else FS.unlink(p);
}

/**
 * GDALVectorTranslate through the C API: gdal3.js's own `ogr2ogr` appends the driver's extension
 * to the output, which rules out a zipped Shapefile (`….shp.zip`, written by the Shapefile driver
 * itself since GDAL 3.1).
 */
function translate(gdal: GdalApi, dataset: number, destination: string, args: string[]): void {
  const M = gdal.Module;
  const argv = cStrings(gdal, args);
  const options = M.ccall('GDALVectorTranslateOptionsNew', 'number', ['number', 'number'], [argv.ptr, 0]);
  const list = M._malloc(4);
  M.setValue(list, dataset, '*');
  try {
    const out = M.ccall('GDALVectorTranslate', 'number', ['string', 'number', 'number', 'number', 'number', 'number'], [destination, 0, 1, list, options, 0]);
    if (!out) throw new Error(said.at(-1) ?? 'GDAL could not write the file');
    M.ccall('GDALClose', null, ['number'], [out]);
  } finally {
    M.ccall('GDALVectorTranslateOptionsFree', null, ['number'], [options]);
    M._free(list);
    argv.free();
  }
}

const GDAL_OF_VECTOR = 0x04;
const GDAL_OF_VERBOSE_ERROR = 0x40;

/** A NULL-terminated C array of C strings (a null pointer for none), and how to free it. */
function cStrings(gdal: GdalApi, list: string[]): { ptr: number; free(): void } {
  if (list.length === 0) return { ptr: 0, free: () => {} };
  const M = gdal.Module;
  const ptrs = list.map((s) => {
    const n = M.lengthBytesUTF8(s) + 1;
    const p = M._malloc(n);
    M.stringToUTF8(s, p, n);
    return p;
  });
  const array = M._malloc(4 * (ptrs.length + 1));
  ptrs.forEach((p, i) => M.setValue(array + 4 * i, p, '*'));
  M.setValue(array + 4 * ptrs.length, 0, '*');
  return {
    ptr: array,
    free: () => {
      for (const p of ptrs) M._free(p);
      M._free(array);
    },
  };
}

async function handle(gdal: GdalApi, m: Request): Promise<Reply> {
  said = [];
  const dir = `/output/${m.job}`;
  try {
    switch (m.op) {
      case 'open': {
        removeTree(gdal, dir);
        gdal.Module.FS.mkdir(dir);
        for (const f of m.files) gdal.Module.FS.writeFile(`${dir}/${f.name}`, f.bytes);
        // GDALOpenEx with the drivers of the format we took the file for (gdal3.js's own open lets every driver try:
        // a VRT named .kml would read other files and run SQL as its rows were counted)
        const full = `${m.vsi.length ? `/${m.vsi.join('/')}/` : ''}${dir}/${m.path}`;
        const drivers = cStrings(gdal, m.drivers);
        const options = cStrings(gdal, m.openOptions);
        let pointer: number;
        try {
          pointer = gdal.Module.ccall(
            'GDALOpenEx',
            'number',
            ['string', 'number', 'number', 'number', 'number'],
            [full, GDAL_OF_VECTOR | GDAL_OF_VERBOSE_ERROR, drivers.ptr, options.ptr, 0],
          );
        } finally {
          drivers.free();
          options.free();
        }
        if (!pointer) throw new Error(said.at(-1) ?? 'GDAL cannot read this file');
        const ds = { pointer, path: m.path, type: 'vector', info: {} as object };
        try {
          ds.info = (await gdal.ogrinfo(ds as never)) as object;
        } catch (err) {
          await gdal.close(ds as never);
          throw err;
        }
        datasets.set(m.job, ds);
        return { id: m.id, ok: true, value: { info: ds.info, warnings: said } };
      }
      case 'read': {
        const ds = datasets.get(m.job);
        if (!ds) throw new Error(`no open file for ${m.job}`);
        const out = await gdal.ogr2ogr(ds, m.args, `${m.job}/read`);
        const bytes = gdal.Module.FS.readFile(out.local);
        gdal.Module.FS.unlink(out.local);
        return { id: m.id, ok: true, bytes };
      }
      case 'write': {
        // each input: GeoJSON text written to the job's folder, opened, and translated into the one
        // output as a layer of its own (the first creates it, the others are added with -update)
        if (m.inputs.length === 0) throw new Error('nothing to write');
        removeTree(gdal, dir);
        gdal.Module.FS.mkdir(dir);
        // a zipped Shapefile is written as a folder and zipped here: GDAL's own `.shp.zip` writing
        // took minutes for a district's grids in the WebAssembly build (seconds as a folder)
        const folder = m.output.endsWith('.shp.zip');
        const destination = folder ? `${dir}/shp` : `${dir}/${m.output}`;
        const target = m.stage ? `${dir}/stage.gpkg` : destination;
        try {
          for (const [i, input] of m.inputs.entries()) {
            gdal.Module.FS.writeFile(`${dir}/in${i}.geojson`, input.geojson);
            const {
              datasets: [ds],
            } = await gdal.open(`${dir}/in${i}.geojson`);
            if (!ds) throw new Error(said.at(-1) ?? 'GDAL cannot read the data to write');
            try {
              const args = m.stage ? ['-f', 'GPKG'] : m.args;
              translate(gdal, ds.pointer, target, [...args, ...(input.args ?? []), '-nln', input.name, ...(i > 0 ? ['-update'] : [])]);
            } finally {
              await gdal.close(ds);
              gdal.Module.FS.unlink(`${dir}/in${i}.geojson`);
            }
          }
          if (m.stage) {
            const {
              datasets: [ds],
            } = await gdal.open(target);
            if (!ds) throw new Error(said.at(-1) ?? 'GDAL cannot read the staged layers');
            try {
              translate(gdal, ds.pointer, destination, m.args);
            } finally {
              await gdal.close(ds);
            }
          }
          const FS = gdal.Module.FS;
          if (folder) {
            const files = FS.readdir(destination).filter((n) => n !== '.' && n !== '..');
            return { id: m.id, ok: true, bytes: zipSync(Object.fromEntries(files.map((n) => [n, FS.readFile(`${destination}/${n}`)]))) };
          }
          if (FS.isDir(FS.stat(destination).mode)) throw new Error('GDAL wrote a folder where one file was expected');
          return { id: m.id, ok: true, bytes: FS.readFile(destination) };
        } finally {
          removeTree(gdal, dir);
        }
      }
      case 'drop': {
        const ds = datasets.get(m.job);
        if (ds) await gdal.close(ds);
        datasets.delete(m.job);
        removeTree(gdal, dir);
        return { id: m.id, ok: true };
      }
    }
  } catch (err) {
    const e = err as { message?: string };
    // gdal3.js rejects with its own wrapper's words; GDAL's last message says what was wrong.
    // Without a word from GDAL, a fault of JavaScript's own (GDAL's answer missing a part) explains nothing to a person.
    const internal = err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError;
    // (gdal3.js rejects with its error objects, or a list of them: String() of those said "[object Object]")
    const first = (Array.isArray(err) ? (err[0] as { message?: string } | undefined) : e) ?? {};
    const own = typeof first.message === 'string' && first.message ? first.message : typeof err === 'string' ? err : null;
    const message = internal
      ? 'the file is damaged, or holds values GDAL cannot read (such as numbers too large to hold)'
      : (own ?? 'GDAL cannot read this file');
    return { id: m.id, ok: false, message: said.at(-1) ?? message };
  }
}

if (parentPort) {
  const port = parentPort;
  const gdal = await start();
  let tail: Promise<unknown> = Promise.resolve();
  port.on('message', (m: Request) => {
    tail = tail.then(async () => {
      const r = await handle(gdal, m);
      port.postMessage(r, r.ok && r.bytes ? [r.bytes.buffer as ArrayBuffer] : []);
    });
  });
  port.postMessage({ id: 0, ok: true } satisfies Reply);
}
