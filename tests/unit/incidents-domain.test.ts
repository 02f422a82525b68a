import { describe, expect, it } from 'vitest';
import { getisOrdGiStar, pValue, significance } from '../../server/domain/hotspots.ts';
import { checkTransition, parseInstant, parseList, parseRange } from '../../server/domain/incidents.ts';

/** Rook neighbours on a w × h lattice. */
function lattice(w: number, h: number): number[][] {
  return Array.from({ length: w * h }, (_, i) => {
    const [x, y] = [i % w, Math.floor(i / w)];
    return [
      [x - 1, y],
      [x + 1, y],
      [x, y - 1],
      [x, y + 1],
    ]
      .filter(([a, b]) => a! >= 0 && b! >= 0 && a! < w && b! < h)
      .map(([a, b]) => b! * w + a!);
  });
}

describe('Getis–Ord Gi*', () => {
  it('finds a block of high values as a hotspot and the far corner as not', () => {
    const values = Array.from({ length: 49 }, (_, i) => ([2, 3, 4].includes(i % 7) && [2, 3, 4].includes(Math.floor(i / 7)) ? 20 : 1));
    const z = getisOrdGiStar(values, lattice(7, 7));
    expect(significance(z[3 * 7 + 3]!)).toBe('hot99');
    expect(z[0]!).toBeLessThan(0);
    expect(significance(z[0]!)).not.toMatch(/^hot/);
  });
  it('matches a hand-computed fixture: values 1, 2, 3, 4, 10 along a path', () => {
    // n = 5, mean 4, S = √(130/5 − 16) = √10; node 4: (4 + 10 − 4·2) / (√10 · √((5·2 − 4)/4)) = 6 / 3.872983
    const z = getisOrdGiStar([1, 2, 3, 4, 10], [[1], [0, 2], [1, 3], [2, 4], [3]]);
    expect(z[4]).toBeCloseTo(1.549193, 5);
    expect(z[0]).toBeCloseTo(-1.290994, 5); // (1 + 2 − 8) / 3.872983
    expect(z[2]).toBeCloseTo(-0.774597, 5); // (2 + 3 + 4 − 12) / (√10 · √((15 − 9)/4))
  });
  it('is zero everywhere when every area has the same value', () => {
    expect(getisOrdGiStar([5, 5, 5, 5], lattice(2, 2))).toEqual([0, 0, 0, 0]);
  });
  it('gives two-tailed p-values of the normal distribution', () => {
    expect(pValue(1.96)).toBeCloseTo(0.05, 3);
    expect(pValue(0)).toBeCloseTo(1, 6);
    expect(pValue(-2.576)).toBeCloseTo(0.01, 3);
  });
});

describe('the incident loop', () => {
  it('allows only the next step, with a department to dispatch and feedback to close', () => {
    expect(() => checkTransition('reported', { status: 'dispatched', department: '派出所' })).not.toThrow();
    expect(() => checkTransition('reported', { status: 'closed', feedback: 'x' })).toThrow(expect.objectContaining({ code: 'illegal_transition' }));
    expect(() => checkTransition('reported', { status: 'dispatched', department: '  ' })).toThrow(expect.objectContaining({ code: 'department_required' }));
    expect(() => checkTransition('resolved', { status: 'closed' })).toThrow(expect.objectContaining({ code: 'feedback_required' }));
    expect(() => checkTransition('closed', { status: 'closed', feedback: 'again' })).toThrow(expect.objectContaining({ code: 'illegal_transition' }));
  });
  it('reads ISO dates and lists strictly', () => {
    expect(parseInstant('2026-03-01', 'from').toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(() => parseInstant('March 1', 'from')).toThrow(expect.objectContaining({ code: 'invalid_time', path: 'from' }));
    expect(() => parseInstant('2026-02-31', 'to')).toThrow(expect.objectContaining({ code: 'invalid_time' }));
    expect(() => parseRange('2026-02-01', '2026-01-01')).toThrow(expect.objectContaining({ code: 'invalid_range' }));
    expect(parseList('fire, dispute', ['fire', 'dispute', 'other'], 'category')).toEqual(['fire', 'dispute']);
    expect(() => parseList('fire,ufo', ['fire'], 'category')).toThrow(expect.objectContaining({ path: 'category[1]' }));
  });
});
