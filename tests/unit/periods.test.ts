import { describe, expect, it } from 'vitest';
import { previousRange, soFar, yearAgoRange } from '../../web/lib/periods.ts';

describe("the analyst's comparison periods (China time)", () => {
  const day = (d: string) => `${d}T00:00:00+08:00`;
  it('compares a month with the month before (环比) and the same month a year before (同比)', () => {
    const nov = { from: day('2026-11-01'), to: day('2026-12-01') };
    expect(previousRange(nov, '2026-11')).toEqual({ from: day('2026-10-01'), to: day('2026-11-01') });
    expect(yearAgoRange(nov)).toEqual({ from: day('2025-11-01'), to: day('2025-12-01') });
    const jan = { from: day('2026-01-01'), to: day('2026-02-01') };
    expect(previousRange(jan, '2026-01')).toEqual({ from: day('2025-12-01'), to: day('2026-01-01') });
    expect(yearAgoRange(jan)).toEqual({ from: day('2025-01-01'), to: day('2025-02-01') });
  });

  it('compares chosen days with as many days before, and the same days a year before (29 February: the 28th)', () => {
    const week = { from: day('2026-11-20'), to: day('2026-11-27') };
    expect(previousRange(week, null)).toEqual({ from: day('2026-11-13'), to: day('2026-11-20') });
    expect(yearAgoRange(week)).toEqual({ from: day('2025-11-20'), to: day('2025-11-27') });
    expect(yearAgoRange({ from: day('2028-02-29'), to: day('2028-03-01') })).toEqual({ from: day('2027-02-28'), to: day('2027-03-01') });
  });

  it('compares whole months with as many months before: a year with the year before, across a leap day', () => {
    const y2025 = { from: day('2025-01-01'), to: day('2026-01-01') };
    expect(previousRange(y2025, null)).toEqual({ from: day('2024-01-01'), to: day('2025-01-01') });
    const y2024 = { from: day('2024-01-01'), to: day('2025-01-01') };
    expect(previousRange(y2024, null)).toEqual({ from: day('2023-01-01'), to: day('2024-01-01') });
    const quarter = { from: day('2026-01-01'), to: day('2026-04-01') };
    expect(previousRange(quarter, null)).toEqual({ from: day('2025-10-01'), to: day('2026-01-01') });
    // days that are no whole months stay as many days
    expect(previousRange({ from: day('2024-03-01'), to: day('2024-03-05') }, null)).toEqual({ from: day('2024-02-26'), to: day('2024-03-01') });
  });

  it('compares a month under way with as much of the month before as has passed (1–5 December 14:00 with 1–5 November 14:00)', () => {
    const dec = { from: day('2026-12-01'), to: day('2027-01-01') };
    const now = Date.parse('2026-12-05T14:00:00+08:00');
    expect(soFar(previousRange(dec, '2026-12'), dec, now)).toEqual({ from: day('2026-11-01'), to: '2026-11-05T06:00:00.000Z', partial: true });
    expect(soFar(yearAgoRange(dec), dec, now)).toEqual({ from: day('2025-12-01'), to: '2025-12-05T06:00:00.000Z', partial: true });
    // (31 March under way against February: no further than February's end)
    const mar = { from: day('2026-03-01'), to: day('2026-04-01') };
    expect(soFar(previousRange(mar, '2026-03'), mar, Date.parse('2026-03-31T12:00:00+08:00')).to).toBe(new Date(Date.parse(day('2026-03-01'))).toISOString());
    // a window that has ended is compared whole
    const nov = { from: day('2026-11-01'), to: day('2026-12-01') };
    expect(soFar(previousRange(nov, '2026-11'), nov, now)).toEqual({ ...previousRange(nov, '2026-11'), partial: false });
  });
});
