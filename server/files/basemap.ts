/**
 * An offline basemap: one PMTiles archive (vector or raster) on the server's disk, read by the
 * browser through `pmtiles`' own client in HTTP range requests (`GET /api/basemap.pmtiles`). The
 * server reads only its header and metadata, with the same library, to tell the map what it holds.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { PMTiles, TileType, type RangeResponse, type Source } from 'pmtiles';

export interface Basemap {
  path: string;
  size: number;
  /** changes whenever the file does: the browser's copy of a range is good while it holds */
  etag: string;
  kind: 'vector' | 'raster';
  /** png, jpg, webp, avif or mvt */
  format: string;
  minZoom: number;
  maxZoom: number;
  bounds: [number, number, number, number];
  /** the vector layers, for a style drawn without knowing the schema */
  layers: string[];
  attribution: string | null;
}

/** A PMTiles source reading a local file. */
class LocalFile implements Source {
  constructor(
    private readonly file: FileHandle,
    private readonly key: string,
  ) {}
  getKey(): string {
    return this.key;
  }
  async getBytes(offset: number, length: number): Promise<RangeResponse> {
    const buffer = new Uint8Array(length);
    const { bytesRead } = await this.file.read(buffer, 0, length, offset);
    return { data: buffer.buffer.slice(0, bytesRead) };
  }
}

const FORMATS: Partial<Record<TileType, string>> = {
  [TileType.Mvt]: 'mvt',
  [TileType.Png]: 'png',
  [TileType.Jpeg]: 'jpg',
  [TileType.Webp]: 'webp',
  [TileType.Avif]: 'avif',
};

/** Reads what the archive holds; throws with the reason when it is not a PMTiles archive we can serve. */
export async function openBasemap(path: string): Promise<Basemap> {
  const info = await stat(path);
  const file = await open(path, 'r');
  try {
    const archive = new PMTiles(new LocalFile(file, path));
    const header = await archive.getHeader();
    const format = FORMATS[header.tileType];
    if (!format) throw new Error(`${path}: its tiles are of a type a map cannot draw (${header.tileType})`);
    const metadata = ((await archive.getMetadata().catch(() => ({}))) ?? {}) as { vector_layers?: { id?: unknown }[]; attribution?: unknown };
    return {
      path,
      size: info.size,
      etag: `"${info.size.toString(36)}-${Math.round(info.mtimeMs).toString(36)}"`,
      kind: format === 'mvt' ? 'vector' : 'raster',
      format,
      minZoom: header.minZoom,
      maxZoom: header.maxZoom,
      bounds: [header.minLon, header.minLat, header.maxLon, header.maxLat],
      layers: (metadata.vector_layers ?? []).map((l) => l.id).filter((id): id is string => typeof id === 'string' && id.length <= 64),
      attribution: typeof metadata.attribution === 'string' ? metadata.attribution.slice(0, 500) : null,
    };
  } finally {
    await file.close();
  }
}

/** The most one range request may ask: a PMTiles client asks a header, directories and single tiles. */
export const MAX_RANGE_BYTES = 32 * 1024 * 1024;

/** Bytes `start`..`end` (inclusive) of the archive. */
export async function basemapBytes(basemap: Basemap, start: number, end: number): Promise<Uint8Array> {
  const file = await open(basemap.path, 'r');
  try {
    const buffer = new Uint8Array(end - start + 1);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
