import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classLabels, classShade, quantileBreaks } from '../../web/lib/classes.ts';

const classOf = (v: number, breaks: number[]) => (v <= 0 ? 0 : 1 + breaks.filter((b) => v > b).length);

describe('the per-grid scale of the analyze view', () => {
  it('cuts a skewed spread into five classes of about equal size, whatever its extremes', () => {
    // most grids have a few reports per 100 households; a handful of tiny grids have hundreds
    const rates = [...Array.from({ length: 950 }, (_, i) => 1 + (i % 97) / 10), ...Array.from({ length: 50 }, (_, i) => 150 + i * 6)];
    const breaks = quantileBreaks(rates);
    expect(breaks).toHaveLength(4);
    const counts = [0, 0, 0, 0, 0, 0];
    for (const r of rates) counts[classOf(r, breaks)]!++;
    for (const n of counts.slice(1)) expect(n / rates.length).toBeGreaterThan(0.15);
    // (the old scale, linear to the 98th percentile, put nearly every grid in its lowest fifth)
    expect(classLabels(breaks)).toHaveLength(6);
  });

  it('gives increasing breaks, a class for every value, and the darkest shade to the top class', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 1000, noNaN: true })), { maxLength: 300 }), (values) => {
        const breaks = quantileBreaks(values);
        expect(breaks.length).toBeLessThanOrEqual(4);
        for (let i = 1; i < breaks.length; i++) expect(breaks[i]!).toBeGreaterThan(breaks[i - 1]!);
        const labels = classLabels(breaks);
        for (const v of values) {
          const k = classOf(v, breaks);
          expect(k).toBeLessThan(labels.length);
          const shade = classShade(k, breaks.length);
          expect(shade).toBeGreaterThanOrEqual(0);
          expect(shade).toBeLessThanOrEqual(1);
        }
        expect(classShade(breaks.length + 1, breaks.length)).toBe(1);
      }),
    );
  });
});
