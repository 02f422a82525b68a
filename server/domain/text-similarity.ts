/**
 * How alike two texts read, 0…1: the share of the shorter one's character pairs the other has too (the overlap
 * coefficient; Chinese has no spaces to split words at). A short report (挡土墙开裂) inside a longer one of the same
 * problem (幸福路挡土墙开裂，有垮塌风险) reads as alike.
 */
export function textSimilarity(a: string, b: string): number {
  const pairs = (t: string) => {
    const chars = [...t.normalize('NFKC').replace(/[\s\p{P}]+/gu, '')];
    const out = new Map<string, number>();
    for (let k = 0; k + 1 < chars.length; k++) out.set(chars[k]! + chars[k + 1]!, (out.get(chars[k]! + chars[k + 1]!) ?? 0) + 1);
    return { out, n: Math.max(0, chars.length - 1) };
  };
  const x = pairs(a);
  const y = pairs(b);
  if (x.n === 0 || y.n === 0) return 0;
  let both = 0;
  for (const [k, n] of x.out) both += Math.min(n, y.out.get(k) ?? 0);
  return both / Math.min(x.n, y.n);
}
