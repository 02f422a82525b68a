import type { Position } from './geojson-input.ts';

/** A local planar frame in metres around `origin` (equirectangular; fine at county scale). */
export class LocalFrame {
  private readonly kx: number;
  private readonly ky = 110_574;
  constructor(readonly origin: Position) {
    this.kx = 111_320 * Math.cos((origin[1] * Math.PI) / 180);
  }
  toXY([lon, lat]: Position): [number, number] {
    return [(lon - this.origin[0]) * this.kx, (lat - this.origin[1]) * this.ky];
  }
  toLonLat([x, y]: [number, number]): Position {
    return [this.origin[0] + x / this.kx, this.origin[1] + y / this.ky];
  }
}
