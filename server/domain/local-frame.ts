import type { Position } from './geojson-input.ts';

/** Metres per degree of latitude, and of longitude at the equator (WGS 84, mean). */
export const M_PER_DEG_LAT = 110_574;
export const M_PER_DEG_LON = 111_320;

/** Metres per degree east–west and north–south at a latitude. */
export const metresPerDegree = (lat: number) => ({ kx: M_PER_DEG_LON * Math.cos((lat * Math.PI) / 180), ky: M_PER_DEG_LAT });

/** A local planar frame in metres around `origin` (equirectangular; fine at county scale). */
export class LocalFrame {
  private readonly kx: number;
  private readonly ky: number;
  constructor(readonly origin: Position) {
    ({ kx: this.kx, ky: this.ky } = metresPerDegree(origin[1]));
  }
  toXY([lon, lat]: Position): [number, number] {
    return [(lon - this.origin[0]) * this.kx, (lat - this.origin[1]) * this.ky];
  }
  toLonLat([x, y]: [number, number]): Position {
    return [this.origin[0] + x / this.kx, this.origin[1] + y / this.ky];
  }
}
