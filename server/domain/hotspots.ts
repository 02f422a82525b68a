/**
 * Getis–Ord Gi* over a neighbourhood graph (each area counts as its own neighbour): a z-score per
 * area; large positive z = a cluster of high values, not just one high value.
 *
 *   Gi* = (Σⱼ wᵢⱼxⱼ − X̄ Σⱼ wᵢⱼ) / (S √((n Σⱼ wᵢⱼ² − (Σⱼ wᵢⱼ)²) / (n − 1)))
 *
 * with binary weights, X̄ the mean and S the standard deviation of all n values.
 */
export function getisOrdGiStar(values: readonly number[], neighbours: readonly (readonly number[])[]): number[] {
  const n = values.length;
  if (n < 3) return values.map(() => 0);
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const s = Math.sqrt(values.reduce((a, b) => a + b * b, 0) / n - mean * mean);
  if (!(s > 0)) return values.map(() => 0);
  return values.map((x, i) => {
    const ring = neighbours[i] ?? [];
    let sum = x;
    for (const j of ring) sum += values[j]!;
    const w = ring.length + 1;
    const denominator = s * Math.sqrt((n * w - w * w) / (n - 1));
    return denominator > 0 ? (sum - mean * w) / denominator : 0;
  });
}

/** Two-tailed p-value of a z-score (normal approximation, Abramowitz–Stegun 7.1.26). */
export function pValue(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return Math.max(0, Math.min(1, 1 - erf));
}

/** Hot or cold spot at 99/95/90 % confidence, else not significant. */
export function significance(z: number): 'hot99' | 'hot95' | 'hot90' | 'cold99' | 'cold95' | 'cold90' | 'none' {
  const a = Math.abs(z);
  const level = a >= 2.576 ? '99' : a >= 1.96 ? '95' : a >= 1.645 ? '90' : null;
  return level ? (`${z > 0 ? 'hot' : 'cold'}${level}` as 'hot99') : 'none';
}
