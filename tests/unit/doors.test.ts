import { describe, expect, it } from 'vitest';
import { placeOf, sharedPrefix, doorOf } from '../../web/lib/doors.ts';

describe('doors: where a point stands, in words a grid worker knows', () => {
  it('names a door with its village or road, without the district and township', () => {
    expect(placeOf('西平街道银湾村51号')).toBe('银湾村51号');
    expect(placeOf('沾益区西平街道银湾村51号')).toBe('银湾村51号');
    expect(placeOf('花山街道文昌路12号')).toBe('文昌路12号');
    expect(placeOf('大坡乡红卫村12号')).toBe('红卫村12号');
    // a 小区 is not a district, and a name with no township keeps itself
    expect(placeOf('幸福小区5栋2单元301')).toBe('幸福小区5栋2单元301');
    expect(placeOf('龙华街道')).toBe('龙华街道');
  });

  it('labels a door on the household map by its own part of the address the grid shares', () => {
    const addresses = ['西平街道银湾村1号', '西平街道银湾村25号', '西平街道银湾村3号', '西平街道建设路2号'];
    const prefix = sharedPrefix(addresses);
    expect(prefix).toBe('西平街道银湾村');
    expect(addresses.map((a) => doorOf(a, prefix))).toEqual(['1号', '25号', '3号', '西平街道建设路2号']);
  });
});
