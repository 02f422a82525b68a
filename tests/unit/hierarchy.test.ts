import { describe, expect, it } from 'vitest';
import { childCode, childLevel, codeFollowsParent, parentLevel } from '../../server/domain/hierarchy.ts';

describe('hierarchy', () => {
  it('steps down city → district → township → village → grid and stops', () => {
    expect(childLevel('city')).toBe('district');
    expect(childLevel('district')).toBe('township');
    expect(childLevel('village')).toBe('grid');
    expect(childLevel('grid')).toBeNull();
    expect(parentLevel('city')).toBeNull();
    expect(parentLevel('district')).toBe('city');
    expect(parentLevel('grid')).toBe('village');
  });

  it('numbers children after their parent with fixed-width segments', () => {
    expect(childCode('530303', 'township', 1)).toBe('530303-001');
    expect(childCode('530303-001', 'village', 12)).toBe('530303-001-012');
    expect(childCode('530303-001-012', 'grid', 7)).toBe('530303-001-012-0007');
  });

  it('refuses child numbers that do not fit or are not positive integers', () => {
    expect(() => childCode('530303', 'township', 1000)).toThrow(/1000 does not fit 3 digits/);
    expect(() => childCode('530303', 'township', 0)).toThrow(/positive integer, got 0/);
    expect(() => childCode('530303', 'township', 1.5)).toThrow(/got 1.5/);
  });

  it('tells whether a code follows its parent', () => {
    expect(codeFollowsParent('530303', null, 'district')).toBe(true);
    expect(codeFollowsParent('53030', null, 'district')).toBe(false);
    // a district keeps its own code under a city; a city stands on top
    expect(codeFollowsParent('530303', '530300', 'district')).toBe(true);
    expect(codeFollowsParent('530300-530303', '530300', 'district')).toBe(false);
    expect(codeFollowsParent('530300', null, 'city')).toBe(true);
    expect(codeFollowsParent('530300', '530000', 'city')).toBe(false);
    expect(codeFollowsParent('530303-001', '530303', 'township')).toBe(true);
    expect(codeFollowsParent('530302-001', '530303', 'township')).toBe(false);
    expect(codeFollowsParent('530303-001-002-07', '530303-001-002', 'grid')).toBe(false);
    expect(codeFollowsParent('530303-001-002-0007', '530303-001-002', 'grid')).toBe(true);
  });
});
