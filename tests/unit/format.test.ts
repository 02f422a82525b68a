import { describe, expect, it } from 'vitest';
import { monthTicks } from '../../web/lib/format.ts';

const at = (iso: string) => Date.parse(iso) / 1000;

describe('monthTicks', () => {
  it('names months in the reader’s language, with the year at the start and where it turns (China time)', () => {
    // 1 Dec 2025 00:00 in China is still 30 Nov in UTC: the tick is December's.
    const splits = [at('2025-11-30T16:00:00Z'), at('2026-01-01T00:00:00+08:00'), at('2026-05-01T00:00:00+08:00')];
    expect(monthTicks(splits, 'zh-CN')).toEqual(['2025年12月', '2026年1月', '5月']);
    expect(monthTicks(splits, 'en')).toEqual(['Dec 2025', 'Jan 2026', 'May']);
  });
});
