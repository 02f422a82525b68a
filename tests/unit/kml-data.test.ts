import { describe, expect, it } from 'vitest';
import { kmlData, kmlFieldNames, kmlLayerData } from '../../server/files/kml-data.ts';

const KML = `<?xml version="1.0" encoding="utf-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>沾益区网格</name>
<Folder><name>grid</name>
  <Placemark><name>一网格</name>
    <ExtendedData><SchemaData schemaUrl="#grid"><SimpleData name="code">A-1</SimpleData>
      <SimpleData name="grid_type">rural</SimpleData></SchemaData></ExtendedData>
    <Point><coordinates>103.8,25.6</coordinates></Point></Placemark>
  <Placemark><name>二网格</name>
    <ExtendedData><Data name="户数"><value>18</value></Data><Data name="code"><value>A-2</value></Data></ExtendedData>
    <Point><coordinates>103.9,25.6</coordinates></Point></Placemark>
</Folder>
<Folder><name>empty</name><Placemark><name>x</name></Placemark></Folder>
</Document></kml>`;

describe('KML placemark attributes', () => {
  it('reads SchemaData and Data by folder and placemark order, both of the forms desktop tools write', () => {
    const data = kmlData(KML);
    const grid = kmlLayerData(data, 'grid', 2)!;
    expect(grid).toEqual([
      { code: 'A-1', grid_type: 'rural' },
      { 户数: '18', code: 'A-2' },
    ]);
    expect(kmlFieldNames(grid)).toEqual(['code', 'grid_type', '户数']);
  });

  it('gives nothing when the counts disagree, the file has no attributes, or it is not XML', () => {
    expect(kmlLayerData(kmlData(KML), 'grid', 3)).toBeNull();
    expect(kmlData('<kml><Document><Placemark><name>a</name></Placemark></Document></kml>').size).toBe(0);
    expect(kmlData('not <xml').size).toBe(0);
    expect(kmlData(`<!DOCTYPE kml [<!ENTITY a "aaaa">]>${KML.replace(/^<\?xml[^>]*>/, '')}`).size).toBe(0);
  });
});
