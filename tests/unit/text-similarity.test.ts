import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { textSimilarity } from '../../server/domain/text-similarity.ts';

describe('textSimilarity (可能重复: how alike two reports read)', () => {
  it('reads the same problem told in other words as alike, another problem as not', () => {
    expect(textSimilarity('挡土墙开裂', '挡土墙开裂')).toBe(1);
    expect(textSimilarity('幸福路挡土墙开裂，有垮塌风险', '挡土墙开裂了')).toBeGreaterThan(0.5);
    expect(textSimilarity('小区门口垃圾堆放', '垃圾清运不及时')).toBeLessThan(0.5);
    expect(textSimilarity('挡土墙开裂', '路灯杆倾斜，夜间无照明')).toBe(0);
    // full-width and half-width, punctuation and spaces do not matter
    expect(textSimilarity('３号楼 漏水！', '3号楼漏水')).toBe(1);
    expect(textSimilarity('', '挡土墙')).toBe(0);
  });

  it('is symmetric, within 0…1, and 1 for a text with itself', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (a, b) => {
        const s = textSimilarity(a, b);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThanOrEqual(1);
        expect(s).toBe(textSimilarity(b, a));
      }),
    );
    fc.assert(
      fc.property(fc.string({ minLength: 3, maxLength: 40, unit: 'grapheme' }), (a) => {
        const kept = [...a.normalize('NFKC').replace(/[\s\p{P}]+/gu, '')];
        if (kept.length >= 2) expect(textSimilarity(a, a)).toBe(1);
      }),
    );
  });
});
