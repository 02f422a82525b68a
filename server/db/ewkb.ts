import type { Position } from '../domain/geojson-input.ts';
import type { FlatPolygon } from '../domain/tiling.ts';

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

/**
 * The polygons of each of a run of WKB or EWKB Polygons and MultiPolygons laid end to end (one
 * `string_agg(ST_AsBinary(geom), '')`: one row instead of thousands, which PGlite hands over far
 * faster), either byte order, read without going through text, so coordinates compare bit for bit
 * with what PostGIS holds.
 */
export function readPolygonRun(bytes: Uint8Array): FlatPolygon[][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  let little = true;
  const u32 = () => {
    const v = view.getUint32(o, little);
    o += 4;
    return v;
  };
  const header = () => {
    little = view.getUint8(o) === 1;
    o += 1;
    const type = u32();
    if (type & SRID_FLAG) o += 4;
    if (type & 0xc0000000) throw new Error('WKB with Z or M coordinates');
    return type & 0xffff;
  };
  const polygon = (): FlatPolygon => {
    const rings: FlatPolygon = [];
    for (let r = u32(); r > 0; r--) {
      const n = u32();
      const ring = new Float64Array(2 * n);
      for (let i = 0; i < 2 * n; i++, o += 8) ring[i] = view.getFloat64(o, little);
      rings.push(ring);
    }
    return rings;
  };
  const out: FlatPolygon[][] = [];
  while (o < bytes.byteLength) {
    const type = header();
    if (type === 3) {
      out.push([polygon()]);
      continue;
    }
    if (type !== 6) throw new Error(`WKB type ${type} is not a (multi)polygon`);
    const polygons: FlatPolygon[] = [];
    for (let p = u32(); p > 0; p--) {
      if (header() !== 3) throw new Error('MultiPolygon member is not a polygon');
      polygons.push(polygon());
    }
    out.push(polygons);
  }
  return out;
}
