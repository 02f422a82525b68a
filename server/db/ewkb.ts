import type { Position } from '../domain/geojson-input.ts';

const SRID_FLAG = 0x20000000;

/**
 * A MultiPolygon as hex EWKB (SRID 4326): doubles travel bit for bit, so shared vertices computed
 * once in TypeScript stay identical in PostGIS.
 */
export function multiPolygonEwkb(polygons: readonly (readonly (readonly Position[])[])[]): string {
  let size = 1 + 4 + 4 + 4;
  for (const poly of polygons) {
    size += 1 + 4 + 4;
    for (const ring of poly) size += 4 + 16 * ring.length;
  }
  const buf = Buffer.alloc(size);
  let o = 0;
  const header = (type: number) => {
    buf.writeUInt8(1, o);
    buf.writeUInt32LE(type, o + 1);
    o += 5;
  };
  header(6 | SRID_FLAG);
  buf.writeUInt32LE(4326, o);
  buf.writeUInt32LE(polygons.length, o + 4);
  o += 8;
  for (const poly of polygons) {
    header(3);
    buf.writeUInt32LE(poly.length, o);
    o += 4;
    for (const ring of poly) {
      buf.writeUInt32LE(ring.length, o);
      o += 4;
      for (const [x, y] of ring) {
        buf.writeDoubleLE(x, o);
        buf.writeDoubleLE(y, o + 8);
        o += 16;
      }
    }
  }
  return buf.toString('hex');
}
