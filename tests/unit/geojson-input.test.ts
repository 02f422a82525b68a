import { describe, expect, it } from 'vitest';
import { InputError } from '../../server/domain/errors.ts';
import { parseBoundaryFeatures, parsePolygonGeometry } from '../../server/domain/geojson-input.ts';

const square = [
  [0, 0],
  [1, 0],
  [1, 1],
  [0, 1],
  [0, 0],
];
const polygon = (...rings: unknown[]) => ({ type: 'Polygon', coordinates: rings });

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

describe('parsePolygonGeometry', () => {
  it('returns MultiPolygon coordinates for a Polygon', () => {
    expect(parsePolygonGeometry(polygon(square), 'g')).toEqual([[square]]);
  });

  it('removes consecutive repeated vertices', () => {
    const messy = [
      [0, 0],
      [0, 0],
      [1, 0],
      [1, 1],
      [1, 1],
      [1, 1],
      [0, 1],
      [0, 0],
    ];
    expect(parsePolygonGeometry(polygon(messy), 'g')).toEqual([[square]]);
  });

  it('keeps holes and every part of a multipolygon', () => {
    const hole = [
      [0.2, 0.2],
      [0.2, 0.4],
      [0.4, 0.4],
      [0.4, 0.2],
      [0.2, 0.2],
    ];
    const far = [
      [5, 5],
      [6, 5],
      [6, 6],
      [5, 5],
    ];
    expect(parsePolygonGeometry({ type: 'MultiPolygon', coordinates: [[square, hole], [far]] }, 'g')).toEqual([[square, hole], [far]]);
  });

  it('refuses an unclosed ring, or closes it when repairing', () => {
    const open = square.slice(0, 4);
    expect(errorOf(() => parsePolygonGeometry(polygon(open), 'g'))).toMatchObject({ code: 'ring_not_closed', path: 'g.coordinates[0]' });
    expect(parsePolygonGeometry(polygon(open), 'g', { repair: true })).toEqual([[square]]);
  });

  it('refuses a ring that collapses to fewer than three distinct positions', () => {
    expect(
      errorOf(() =>
        parsePolygonGeometry(
          polygon([
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]),
          'g',
        ),
      ),
    ).toMatchObject({ code: 'ring_too_short' });
  });

  it('names the out-of-range ordinate with its value', () => {
    const e = errorOf(() =>
      parsePolygonGeometry(
        polygon([
          [0, 0],
          [0, 91],
          [1, 1],
          [0, 0],
        ]),
        'g',
      ),
    );
    expect(e).toMatchObject({ code: 'coordinate_out_of_range', path: 'g.coordinates[0][1][1]' });
    expect(e.message).toContain('latitude 91');
  });

  it('refuses NaN, Infinity, strings and missing ordinates', () => {
    for (const bad of [[NaN, 0], [0, Infinity], ['1', 0], [0], [0, 0, 0, 0]]) {
      const e = errorOf(() => parsePolygonGeometry(polygon([[0, 0], bad, [1, 1], [0, 0]]), 'g'));
      expect(['not_a_number', 'invalid_position']).toContain(e.code);
      expect(e.path).toBe('g.coordinates[0][1]');
    }
  });

  it('refuses other geometry types and empty multipolygons', () => {
    expect(errorOf(() => parsePolygonGeometry({ type: 'Point', coordinates: [0, 0] }, 'g'))).toMatchObject({ code: 'wrong_geometry_type', path: 'g.type' });
    expect(errorOf(() => parsePolygonGeometry({ type: 'MultiPolygon', coordinates: [] }, 'g')).code).toBe('invalid_geometry');
    expect(errorOf(() => parsePolygonGeometry(null, 'g')).code).toBe('invalid_geometry');
  });

  it('refuses a geometry with more vertices than the limit, with the counts', () => {
    const e = errorOf(() => parsePolygonGeometry(polygon(square), 'g', { limits: { maxVertices: 4 } }));
    expect(e).toMatchObject({ code: 'geometry_too_large' });
    expect(e.message).toContain('5 vertices, more than the limit of 4');
  });

  it('does not mutate its input', () => {
    const input = polygon([
      [0, 0],
      [0, 0],
      [1, 0],
      [1, 1],
      [0, 1],
    ]);
    const copy = structuredClone(input);
    parsePolygonGeometry(input, 'g', { repair: true });
    expect(input).toEqual(copy);
  });
});

describe('parseBoundaryFeatures', () => {
  const feature = (id: unknown, name: unknown, geometry: unknown = polygon(square)) => ({ type: 'Feature', id, properties: { name }, geometry });

  it('reads code from the id and name from properties, keeping good features beside an error per bad one', () => {
    const { features, errors } = parseBoundaryFeatures({
      type: 'FeatureCollection',
      features: [feature('530303', '沾益区'), feature('1', ''), feature(7, '七', polygon(square.slice(0, 4))), feature('530303', '重复')],
    });
    expect(features.map((f) => [f.index, f.code, f.name])).toEqual([[0, '530303', '沾益区']]);
    expect(errors.map((e) => [e.index, e.code])).toEqual([
      [1, 'missing_name'],
      [2, 'ring_not_closed'],
      [3, 'duplicate_code'],
    ]);
  });

  it('takes code and name from named properties when given', () => {
    const fc = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { NAME: '甲', ADCODE: 123 }, geometry: polygon(square) }] };
    const { features } = parseBoundaryFeatures(fc, { nameProperty: 'NAME', codeProperty: 'ADCODE' });
    expect(features[0]).toMatchObject({ code: '123', name: '甲' });
  });

  it('refuses what is not a FeatureCollection, and an empty one', () => {
    expect(errorOf(() => parseBoundaryFeatures({ type: 'Feature' })).code).toBe('not_a_feature_collection');
    expect(errorOf(() => parseBoundaryFeatures({ type: 'FeatureCollection', features: [] })).code).toBe('empty_collection');
  });
});
