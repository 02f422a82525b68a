import gcoord from 'gcoord';

/**
 * The coordinate systems a county's files come in. PROJ (inside GDAL) handles the geodetic ones;
 * GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are obfuscations PROJ does not know, undone with gcoord.
 *
 *   WGS 84 (EPSG:4326) · CGCS2000 (EPSG:4490) · CGCS2000 3° Gauss–Krüger zones:
 *     EPSG:4513–4533  zone 25–45, easting prefixed with the zone number (35 409 897 m)
 *     EPSG:4534–4554  central meridian 75°E–135°E, no prefix (409 897 m)
 *   GCJ-02 · BD-09 (lon/lat, shifted by up to several hundred metres)
 */
export type CrsCode = string;

export interface CrsChoice {
  code: CrsCode;
  zh: string;
  en: string;
}

export const GCJ02 = 'GCJ-02';
export const BD09 = 'BD-09';

/** EPSG code of the 3° Gauss–Krüger zone of CGCS2000 with this central meridian, without the zone prefix. */
export const gkByMeridian = (cm: number) => 4534 + (cm - 75) / 3;
/** … and with the zone number prefixed to the easting (zone = central meridian / 3). */
export const gkByZone = (zone: number) => 4513 + (zone - 25);

/** Every choice the import offers, lon/lat ones first. */
export function crsChoices(): CrsChoice[] {
  const out: CrsChoice[] = [
    { code: 'EPSG:4326', zh: 'WGS 84 经纬度', en: 'WGS 84 (lon/lat)' },
    { code: 'EPSG:4490', zh: 'CGCS2000 经纬度', en: 'CGCS2000 (lon/lat)' },
    { code: GCJ02, zh: 'GCJ-02 火星坐标（高德、腾讯）', en: 'GCJ-02 (Amap, Tencent)' },
    { code: BD09, zh: 'BD-09 百度坐标', en: 'BD-09 (Baidu)' },
  ];
  // Both lists name each zone by its number and its central meridian: a clerk may know either.
  for (let cm = 75; cm <= 135; cm += 3) {
    out.push({
      code: `EPSG:${gkByMeridian(cm)}`,
      zh: `CGCS2000 3°带 第 ${cm / 3} 带 中央经线 ${cm}°E（坐标不带带号）`,
      en: `CGCS2000 3° Gauss–Krüger, zone ${cm / 3}, CM ${cm}°E (no zone prefix)`,
    });
  }
  for (let zone = 25; zone <= 45; zone++) {
    out.push({
      code: `EPSG:${gkByZone(zone)}`,
      zh: `CGCS2000 3°带 第 ${zone} 带 中央经线 ${zone * 3}°E（坐标带带号）`,
      en: `CGCS2000 3° Gauss–Krüger, zone ${zone}, CM ${zone * 3}°E (zone prefix)`,
    });
  }
  return out;
}

const KNOWN = new Set(crsChoices().map((c) => c.code));
export const isKnownCrs = (code: string) => KNOWN.has(code);

/** Whether coordinates in this system are lon/lat (else metres). */
export const isLonLat = (code: CrsCode) => code === 'EPSG:4326' || code === 'EPSG:4490' || code === GCJ02 || code === BD09;

/**
 * A guess from the numbers alone, for a file that does not say: lon/lat within China's range,
 * zone-prefixed eastings (the prefix is the zone), or plain Gauss–Krüger metres (the zone that
 * puts the file's middle nearest the place the data is meant for). Null when the numbers fit none.
 */
export function guessCrs(bbox: [number, number, number, number], near?: [number, number]): CrsCode | null {
  const [x0, y0, x1, y1] = bbox;
  if (x0 >= 73 && x1 <= 136 && y0 >= 3 && y1 <= 54) return 'EPSG:4326';
  if (y0 > 200_000 && y1 < 6_000_000) {
    const zone = Math.floor(x0 / 1_000_000);
    if (zone >= 25 && zone <= 45 && Math.floor(x1 / 1_000_000) === zone) return `EPSG:${gkByZone(zone)}`;
    if (x0 > 100_000 && x1 < 900_000 && near) {
      // the zone whose central meridian puts the file's middle nearest the place (a county's data is often in a neighbouring
      // zone, the one its prefecture uses: 沾益 at 103.8°E in the 102°E zone has eastings near 680 km, not 409 km)
      const metresPerDegree = 111_320 * Math.cos((near[1] * Math.PI) / 180);
      const off = ((x0 + x1) / 2 - 500_000) / metresPerDegree;
      let best = 75;
      for (let cm = 75; cm <= 135; cm += 3) if (Math.abs(cm + off - near[0]) < Math.abs(best + off - near[0])) best = cm;
      return `EPSG:${gkByMeridian(best)}`;
    }
  }
  return null;
}

/** GCJ-02 or BD-09 when a file's or its columns' names say so (…-bd09.csv, 高德坐标.xlsx, lng_gcj02), else null. */
export function crsHintedByName(names: string): CrsCode | null {
  return /bd-?09|baidu|百度/i.test(names) ? BD09 : /gcj-?02|amap|gaode|高德|火星|腾讯|tencent/i.test(names) ? GCJ02 : null;
}

/**
 * How GDAL is told to bring coordinates to lon/lat: the source system (when the file does not say
 * it, or says it wrongly) and the target. The target is CGCS2000 (EPSG:4490): PROJ treats it as
 * WGS 84 to within a metre, and the WebAssembly build takes 200–800 ms per call reprojecting to
 * EPSG:4326 but a few ms to 4490. GCJ-02 and BD-09 pass through as lon/lat and are undone after.
 */
export function gdalReprojection(declared: CrsCode | null, chosen: CrsCode | null): string[] {
  const source = chosen ?? declared;
  if (source === GCJ02 || source === BD09) return chosen ? ['-a_srs', 'EPSG:4326'] : [];
  const args: string[] = [];
  if (chosen && chosen !== declared) args.push('-s_srs', chosen);
  if (source && source !== 'EPSG:4326' && source !== 'EPSG:4490') args.push('-t_srs', 'EPSG:4490');
  return args;
}

/** GCJ-02 or BD-09 lon/lat to WGS 84 (others pass unchanged). */
export function undoObfuscation(crs: CrsCode | null, p: [number, number]): [number, number] {
  if (crs === GCJ02) return gcoord.transform(p, gcoord.GCJ02, gcoord.WGS84) as [number, number];
  if (crs === BD09) return gcoord.transform(p, gcoord.BD09, gcoord.WGS84) as [number, number];
  return p;
}

/**
 * The EPSG code GDAL read from a layer (its PROJJSON id), as `EPSG:n`; a system without one named
 * for GCJ-02 or BD-09 (as our own exports label those) as that.
 */
export function declaredCrs(projjson: { id?: { authority?: string; code?: number }; name?: string; datum?: { name?: string } } | undefined): CrsCode | null {
  const id = projjson?.id;
  // (an authority PROJ knows, and a whole number: the .prj is the file's own text, shown back as the system's name)
  if (id?.authority && /^(EPSG|ESRI|OGC|IGNF)$/.test(id.authority) && Number.isSafeInteger(id.code) && id.code! > 0) return `${id.authority}:${id.code}`;
  const named = `${projjson?.name ?? ''} ${projjson?.datum?.name ?? ''}`;
  return /GCJ[-_ ]?02/i.test(named) ? GCJ02 : /BD[-_ ]?09/i.test(named) ? BD09 : null;
}
