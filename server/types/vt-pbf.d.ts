declare module 'vt-pbf' {
  interface GeojsonVtTile {
    features: unknown[];
  }
  /** Writes geojson-vt tiles, one per layer name, as one Mapbox Vector Tile. */
  export function fromGeojsonVt(layers: Record<string, GeojsonVtTile>, options?: { version?: number; extent?: number }): Uint8Array;
  const vtpbf: { fromGeojsonVt: typeof fromGeojsonVt };
  export default vtpbf;
}
