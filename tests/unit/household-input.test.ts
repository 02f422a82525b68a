import { describe, expect, it } from 'vitest';
import { parseHouseholdCsvRow, parseHouseholdFeature } from '../../server/domain/household-input.ts';

describe('household rows', () => {
  it('parses a CSV row of strings', () => {
    expect(parseHouseholdCsvRow({ lon: '103.8', lat: '25.6', size: '4', address: ' 西平街道1号 ' }, 2)).toEqual({
      lon: 103.8,
      lat: 25.6,
      size: 4,
      address: '西平街道1号',
      head: '',
      phone: '',
    });
    // 户主 and a number to reach them, written as a phone dials it
    expect(parseHouseholdCsvRow({ lon: '103.8', lat: '25.6', size: '4', head: ' 王建华 ', phone: '+86 138-1234-0001' }, 2)).toMatchObject({
      head: '王建华',
      phone: '13812340001',
    });
    expect(() => parseHouseholdCsvRow({ lon: '103.8', lat: '25.6', size: '4', phone: '138****0001' }, 7)).toThrow(
      expect.objectContaining({ code: 'invalid_phone', path: 'line 7, column phone', message: expect.stringMatching(/masked/) }),
    );
    expect(() => parseHouseholdCsvRow({ lon: '103.8', lat: '25.6', size: '4', head: '王'.repeat(51) }, 7)).toThrow(
      expect.objectContaining({ code: 'invalid_head', path: 'line 7, column head' }),
    );
  });

  it('reads an address as it shows, as hand entry does: what shows nothing taken out, controls and unreadable bytes refused (from the attacker)', () => {
    const row = (address: string) => parseHouseholdCsvRow({ lon: '103.8', lat: '25.6', size: '3', address }, 7);
    expect(row('银湾村\u200f5005\u00ad号\ufe0f').address).toBe('银湾村5005号');
    expect(row('\u3164').address).toBe('');
    for (const bad of ['银湾村\u202e5005号', '银湾村5005号\u0007', '\ufffd\ufffdbad']) {
      expect(() => row(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'invalid_address', path: 'line 7, column address' }));
    }
    expect(() => parseHouseholdCsvRow({ lon: '103.8', lat: '25.6', size: '3', head: '王\ufffd' }, 7)).toThrow(
      expect.objectContaining({ code: 'invalid_head' }),
    );
  });

  it('names the line and column of a bad value', () => {
    expect(() => parseHouseholdCsvRow({ lon: '103.8', lat: '', size: '4' }, 9)).toThrow(
      expect.objectContaining({ code: 'not_a_number', path: 'line 9, column lat' }),
    );
    expect(() => parseHouseholdCsvRow({ lon: '103.8', lat: '25', size: '2.5' }, 3)).toThrow(expect.objectContaining({ code: 'invalid_size' }));
    expect(() => parseHouseholdCsvRow({ lon: '-181', lat: '25', size: '2' }, 3)).toThrow(expect.objectContaining({ code: 'coordinate_out_of_range' }));
  });

  it('parses a GeoJSON Point feature and refuses other geometries', () => {
    expect(parseHouseholdFeature({ type: 'Feature', geometry: { type: 'Point', coordinates: [1, 2] }, properties: { size: 3 } }, 0)).toEqual({
      lon: 1,
      lat: 2,
      size: 3,
      address: '',
      head: '',
      phone: '',
    });
    expect(() => parseHouseholdFeature({ type: 'Feature', geometry: { type: 'Polygon', coordinates: [] }, properties: { size: 3 } }, 4)).toThrow(
      expect.objectContaining({ code: 'wrong_geometry_type', path: 'features[4].geometry.type' }),
    );
  });
});
