import { XMLParser } from 'fast-xml-parser';

/**
 * A KML's placemark attributes (`<ExtendedData>`: `<SchemaData><SimpleData name>` and
 * `<Data name><value>`), by container (folder or document) name and placemark order. GDAL's KML
 * driver reads a placemark's geometry, name and description; its LIBKML driver, which reads the
 * rest, is not in the WebAssembly build. The XML is parsed by fast-xml-parser.
 */
export type KmlData = Map<string, Record<string, string>[]>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => ['Folder', 'Document', 'Placemark', 'SchemaData', 'SimpleData', 'Data'].includes(name),
});

/** Parsed on the server's main thread: at most this much (about a second here); larger files keep GDAL's name and description. */
const MAX_XML = 8 * 1024 * 1024;

type Node = Record<string, unknown>;
const nodes = (v: unknown): Node[] => (Array.isArray(v) ? v : v ? [v] : []).filter((x): x is Node => typeof x === 'object' && x !== null);
const text = (v: unknown): string => (typeof v === 'object' && v !== null ? String((v as Node)['#text'] ?? '') : String(v ?? ''));

function attributesOf(placemark: Node): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ext of nodes(placemark.ExtendedData)) {
    for (const sd of nodes(ext.SchemaData)) for (const d of nodes(sd.SimpleData)) if (d['@name']) out[String(d['@name'])] = text(d);
    for (const d of nodes(ext.Data)) if (d['@name']) out[String(d['@name'])] = text(d.value);
  }
  return out;
}

/** Each container's placemark attributes, in document order; empty when no placemark has any. */
export function kmlData(xml: string): KmlData {
  const out: KmlData = new Map();
  let any = false;
  const walk = (container: Node) => {
    const name = text(container.name) || '';
    const placemarks = nodes(container.Placemark).map(attributesOf);
    if (placemarks.length > 0) {
      if (placemarks.some((p) => Object.keys(p).length > 0)) any = true;
      if (!out.has(name)) out.set(name, placemarks);
    }
    for (const f of nodes(container.Folder)) walk(f);
    for (const d of nodes(container.Document)) walk(d);
  };
  // entity declarations (a "billion laughs" file) and very large documents are left to GDAL alone
  if (xml.length > MAX_XML || /<!ENTITY/i.test(xml)) return new Map();
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch {
    return new Map();
  }
  for (const k of nodes(doc.kml)) walk(k);
  return any ? out : new Map();
}

/** The attributes for a layer GDAL read: the container of its name, or the only one, when the counts agree. */
export function kmlLayerData(data: KmlData, layer: string, count: number): Record<string, string>[] | null {
  const named = data.get(layer);
  if (named?.length === count) return named;
  const all = [...data.values()];
  return all.length === 1 && all[0]!.length === count ? all[0]! : null;
}

/** The attribute names of a layer, in first-seen order. */
export const kmlFieldNames = (rows: Record<string, string>[]): string[] => [...new Set(rows.flatMap((r) => Object.keys(r)))];
