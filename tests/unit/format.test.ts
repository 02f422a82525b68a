import { describe, expect, it } from 'vitest';
import { monthShare, monthTicks, shortPlace } from '../../web/lib/format.ts';

const at = (iso: string) => Date.parse(iso) / 1000;

describe('monthTicks', () => {
  it('names months in the reader’s language, with the year at the start and where it turns (China time)', () => {
    // 1 Dec 2025 00:00 in China is still 30 Nov in UTC: the tick is December's.
    const splits = [at('2025-11-30T16:00:00Z'), at('2026-01-01T00:00:00+08:00'), at('2026-05-01T00:00:00+08:00')];
    expect(monthTicks(splits, 'zh-CN')).toEqual(['2025年12月', '2026年1月', '5月']);
    expect(monthTicks(splits, 'en')).toEqual(['Dec 2025', 'Jan 2026', 'May']);
  });
});

describe('monthShare', () => {
  it('says how much of a month has passed in China: none, part, all', () => {
    const now = new Date('2026-12-02T04:00:00Z'); // 2 Dec, 12:00 in China
    expect(monthShare('2026-11-01', now)).toBe(1);
    expect(monthShare('2026-12-01', now)).toBeCloseTo(1.5 / 31, 6);
    expect(monthShare('2027-01-01', now)).toBe(0);
    // 1 Dec 00:30 in China is 30 Nov in UTC: December has begun, November is over
    const early = new Date('2026-11-30T16:30:00Z');
    expect(monthShare('2026-11-01', early)).toBe(1);
    expect(monthShare('2026-12-01', early)).toBeCloseTo(0.5 / (31 * 24), 6);
  });
});

describe('shortPlace', () => {
  it('says an autonomous county by its usual short form, and leaves other names as they are', () => {
    expect(shortPlace('肃北蒙古族自治县公安局')).toBe('肃北县公安局');
    expect(shortPlace('阿克塞哈萨克族自治县')).toBe('阿克塞县');
    expect(shortPlace('寻甸回族彝族自治县 · 仁德街道')).toBe('寻甸县 · 仁德街道');
    expect(shortPlace('红河哈尼族彝族自治州')).toBe('红河州');
    for (const kept of ['肃州区', '沾益区住建局', '市消防救援支队', '民族乡', '瓜州县']) expect(shortPlace(kept)).toBe(kept);
  });
});
