import type { Worker } from 'node:worker_threads';
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

/**
 * GDAL in its worker thread (`gdal-thread.ts`), started on first use and kept: starting it takes
 * a second or two and reserves 512 MB of WebAssembly memory. Requests run one after another.
 */
class GdalThread {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly pending = new Map<number, { resolve: (r: Reply & { ok: true }) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  private start(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const worker = startTsWorker(new URL('./gdal-thread.ts', import.meta.url));
      this.worker = worker;
      this.pending.set(0, { resolve: () => resolve(), reject });
      worker.on('message', (r: Reply) => {
        const p = this.pending.get(r.id);
        if (!p) return;
        this.pending.delete(r.id);
        if (r.ok) p.resolve(r);
        else p.reject(new Error(r.message));
        if (this.pending.size === 0) worker.unref();
      });
      const fail = (err: Error) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        this.worker = null;
        this.ready = null;
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`the file thread exited (code ${code})`)));
    });
    return this.ready;
  }

  async request(m: Message): Promise<Reply & { ok: true }> {
    await this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.ref();
      const transfer = m.op === 'open' ? m.files.map((f) => f.bytes.buffer as ArrayBuffer) : [];
      this.worker!.postMessage({ ...m, id }, transfer);
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = null;
    this.ready = null;
  }
}

const thread = new GdalThread();

/** Opens a file (or the files of one dataset) for a job; what GDAL reads of it. */
export async function gdalOpen(
  job: string,
  files: { name: string; bytes: Uint8Array }[],
  path: string,
  openOptions: string[] = [],
  vsi: string[] = [],
): Promise<{ layers: GdalLayerInfo[]; driver: string; warnings: string[] }> {
  const r = await thread.request({ op: 'open', job, files, path, openOptions, vsi });
  const { info, warnings } = r.value as { info?: { driverShortName?: string; layers?: GdalLayerInfo[] }; warnings: string[] };
  // GDAL opened it but could say nothing of it (a GeoJSON number past what a double holds, say)
  if (!info) throw new Error(warnings.at(-1) ?? 'the file is damaged, or holds values GDAL cannot read (such as numbers too large to hold)');
  return { layers: info.layers ?? [], driver: info.driverShortName ?? '', warnings };
}

/** One layer of an open file converted by ogr2ogr with `args` (e.g. to GeoJSON in EPSG:4490): the output's bytes. */
export async function gdalRead(job: string, layer: string, args: string[]): Promise<Uint8Array> {
  return (await thread.request({ op: 'read', job, layer, args: [...args, layer] })).bytes!;
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
  return (await thread.request({ op: 'write', job, inputs, args, output, stage })).bytes!;
}

export async function gdalDrop(job: string): Promise<void> {
  await thread.request({ op: 'drop', job }).catch(() => {});
}

export const stopGdal = () => thread.close();
