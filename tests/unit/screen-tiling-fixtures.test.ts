import { describe, it } from 'vitest';
import { screenTiling, type FlatPolygon } from '../../server/domain/tiling.ts';
import { expectFixture, fixtureCases, style } from '../support/fixtures.ts';

const flat = (g: GeoJSON.MultiPolygon): FlatPolygon[] => g.coordinates.map((poly) => poly.map((ring) => Float64Array.from(ring.flat())));

describe('screenTiling on fixtures (tests/fixtures/screen-tiling)', () => {
  for (const c of fixtureCases('screen-tiling')) {
    it(`screens ${c.name}`, () => {
      const parent = c.input.features.find((f) => f.properties?.role === 'parent')!;
      const children = c.input.features.filter((f) => f.properties?.role === 'child');
      const screen = screenTiling(
        flat(parent.geometry as GeoJSON.MultiPolygon),
        children.map((f) => ({ id: f.properties!.id as number, polygons: flat(f.geometry as GeoJSON.MultiPolygon) })),
      );
      // the parent in black with the verdict; flagged children red, the others green; the window dashed orange
      const out: GeoJSON.Feature[] = [
        { ...parent, properties: { role: 'parent', suspect: screen.suspect, flagged: screen.flagged, ...style('#000000') } },
        ...children.map((f) => ({
          ...f,
          properties: { ...f.properties, ...(screen.flagged.includes(f.properties!.id as number) ? style('#c92a2a', '#ff6b6b') : style('#2b8a3e', '#69db7c')) },
        })),
      ];
      if (screen.window) {
        const [x0, y0, x1, y1] = screen.window;
        out.push({
          type: 'Feature',
          properties: { role: 'window', ...style('#f08c00') },
          geometry: {
            type: 'Polygon',
            coordinates: [
              [
                [x0, y0],
                [x1, y0],
                [x1, y1],
                [x0, y1],
                [x0, y0],
              ],
            ],
          },
        });
      }
      expectFixture(c, { type: 'FeatureCollection', features: out });
    });
  }
});
