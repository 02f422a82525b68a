import type { Worker } from 'node:worker_threads';
import { InputError } from '../domain/errors.ts';
import { startTsWorker } from '../ts-worker.ts';
import type { Reply, Request } from './gdal-thread.ts';

type Message = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** What GDAL (ogrinfo -json) says of one layer. */
export interface GdalLayerInfo {
  name: string;
  featureCount?: number;
  geometryFields: { type?: string; coordinateSystem?: { wkt?: string; projjson?: { id?: { authority?: string; code?: number }; name?: string } } }[];
  fields: { name: string; type: string }[];
  metadata?: Record<string, Record<string, string>>;
}

/** How long one request may keep a GDAL thread (GRIDPLAN_GDAL_TIMEOUT_S): past it the thread is stopped and started afresh. */
const timeLimitMs = (op: Message['op']) => {
  const s = Number(process.env.GRIDPLAN_GDAL_TIMEOUT_S);
  // (writing our own data can take longer than reading a file: 200,000 cases to Excel take some 35 s here)
  return (Number.isFinite(s) && s > 0 ? s : op === 'write' ? 600 : 180) * 1000;
};

/** A request that took longer than its time limit: the thread was stopped (what it read is lost). Answered 422 `too_slow`. */
export class GdalTimeout extends InputError {
  constructor(seconds: number) {
    super('too_slow', `GDAL took longer than ${seconds} s on this file and was stopped; the file cannot be read in time`, 'file');
  }
}

/**
 * GDAL in a worker thread (`gdal-thread.ts`), started on first use and kept: starting it takes a second or two and
 * reserves 512 MB of WebAssembly memory. Requests go to it one at a time, from a queue kept here, each with a time
 * limit: a file that keeps GDAL busy (a GeoPackage view that never ends) stops the thread, which the next request
 * starts afresh, and fails only its own request.
 */
class GdalThread {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly queue: { m: Message; resolve: (r: Reply & { ok: true }) => void; reject: (e: Error) => void }[] = [];
  private running: { id: number; resolve: (r: Reply & { ok: true }) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | null } | null = null;
  private nextId = 1;

  constructor(private readonly name: string) {}

  private start(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const worker = startTsWorker(new URL('./gdal-thread.ts', import.meta.url));
      this.worker = worker;
      let started = false;
      worker.on('message', (r: Reply) => {
        if (r.id === 0) {
          started = true;
          return resolve();
        }
        const run = this.running;
        if (!run || run.id !== r.id) return;
        if (run.timer) clearTimeout(run.timer);
        this.running = null;
        if (r.ok) run.resolve(r);
        else run.reject(new Error(r.message));
        this.next();
      });
      const fail = (err: Error) => {
        if (this.worker !== worker) return;
        this.worker = null;
        this.ready = null;
        if (!started) reject(err);
        const run = this.running;
        this.running = null;
        if (run) {
          if (run.timer) clearTimeout(run.timer);
          run.reject(err);
        }
        this.next();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`the file thread exited (code ${code})`)));
    });
    return this.ready;
  }

  /** Sends the next queued request once the thread is free. */
  private next(): void {
    if (this.running) return;
    const item = this.queue.shift();
    if (!item) {
      this.worker?.unref();
      return;
    }
    const id = this.nextId++;
    const limit = timeLimitMs(item.m.op);
    // (the clock runs from when GDAL has the request: starting the thread is not the file's time)
    const expire = () => {
      const worker = this.worker;
      // the thread is stopped; the next request starts another
      this.worker = null;
      this.ready = null;
      this.running = null;
      void worker?.terminate();
      item.reject(new GdalTimeout(Math.round(limit / 1000)));
      this.next();
    };
    this.running = { id, resolve: item.resolve, reject: item.reject, timer: null };
    this.start().then(
      () => {
        if (this.running?.id !== id) return;
        this.running.timer = setTimeout(expire, limit);
        this.worker!.ref();
        const m = item.m;
        const transfer = m.op === 'open' ? m.files.map((f) => f.bytes.buffer as ArrayBuffer) : [];
        this.worker!.postMessage({ ...m, id }, transfer);
      },
      (err: Error) => {
        if (this.running?.id !== id) return;
        this.running = null;
        item.reject(err);
        this.next();
      },
    );
  }

  request(m: Message): Promise<Reply & { ok: true }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ m, resolve, reject });
      this.next();
    });
  }

  /** Stops the thread (its running request fails, as on any exit). */
  async close(): Promise<void> {
    await this.worker?.terminate();
  }

  toString(): string {
    return this.name;
  }
}

/**
 * Two threads: files people send (untrusted: a file may be made to keep GDAL busy) are read on one, the files we write
 * (exports, prints, left-out rows) on the other, so that no upload holds up a download.
 */
const reader = new GdalThread('reader');
const writer = new GdalThread('writer');

/** Opens a file (or the files of one dataset) for a job; what GDAL reads of it. */
export async function gdalOpen(
  job: string,
  files: { name: string; bytes: Uint8Array }[],
  path: string,
  openOptions: string[] = [],
  vsi: string[] = [],
  drivers: string[] = [],
): Promise<{ layers: GdalLayerInfo[]; driver: string; warnings: string[] }> {
  const r = await reader.request({ op: 'open', job, files, path, openOptions, vsi, drivers });
  const { info, warnings } = r.value as { info?: { driverShortName?: string; layers?: GdalLayerInfo[] }; warnings: string[] };
  // GDAL opened it but could say nothing of it (a GeoJSON number past what a double holds, say)
  if (!info) throw new Error(warnings.at(-1) ?? 'the file is damaged, or holds values GDAL cannot read (such as numbers too large to hold)');
  return { layers: info.layers ?? [], driver: info.driverShortName ?? '', warnings };
}

/** One layer of an open file converted by ogr2ogr with `args` (e.g. to GeoJSON in EPSG:4490): the output's bytes. */
export async function gdalRead(job: string, layer: string, args: string[]): Promise<Uint8Array> {
  // (the layer's name is the last argument: one that reads as an option would be taken for one)
  if (layer.startsWith('-')) throw new Error(`a layer named ${JSON.stringify(layer)} cannot be read: rename it so that it does not begin with "-"`);
  return (await reader.request({ op: 'read', job, layer, args: [...args, layer] })).bytes!;
}

/**
 * GeoJSON written by ogr2ogr with `args` to `output` (a name with its extension: `grids.gpkg`,
 * `grids.shp.zip`), each input a layer of its own where the format has layers (with its own extra `args`);
 * `stage`: the layers gathered in a GeoPackage and translated at once, for drivers that cannot add a layer to a file.
 */
export async function gdalWrite(
  job: string,
  inputs: { name: string; geojson: string; args?: string[] }[],
  args: string[],
  output: string,
  stage = false,
): Promise<Uint8Array> {
  return (await writer.request({ op: 'write', job, inputs, args, output, stage })).bytes!;
}

export async function gdalDrop(job: string): Promise<void> {
  await reader.request({ op: 'drop', job }).catch(() => {});
}

export const stopGdal = () => Promise.all([reader.close(), writer.close()]);
