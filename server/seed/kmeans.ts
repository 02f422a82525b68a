import type { Random } from './random.ts';

export type XY = [number, number];

/**
 * Lloyd's k-means with k-means++ seeding from `random`: deterministic for a given seed and
 * input order, unlike PostGIS's `ST_ClusterKMeans`, whose start differs between versions.
 * Points are in a local planar frame (metres), so plain Euclidean distance is right.
 */
export function kmeans(points: readonly XY[], k: number, random: Random, iterations = 12): XY[] {
  if (points.length === 0 || k <= 0) return [];
  if (k >= points.length) return points.map((p) => [p[0], p[1]]);
  const centres: XY[] = [[...points[random.int(0, points.length - 1)]!] as XY];
  const nearest = new Float64Array(points.length).fill(Infinity);
  // k-means++: each next centre drawn with probability proportional to squared distance.
  while (centres.length < k) {
    const c = centres[centres.length - 1]!;
    let total = 0;
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      const d = (p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2;
      if (d < nearest[i]!) nearest[i] = d;
      total += nearest[i]!;
    }
    let r = random.next() * total;
    let chosen = points.length - 1;
    for (let i = 0; i < points.length; i++) {
      r -= nearest[i]!;
      if (r <= 0) {
        chosen = i;
        break;
      }
    }
    centres.push([points[chosen]![0], points[chosen]![1]]);
  }
  const sx = new Float64Array(k);
  const sy = new Float64Array(k);
  const n = new Uint32Array(k);
  for (let it = 0; it < iterations; it++) {
    sx.fill(0);
    sy.fill(0);
    n.fill(0);
    for (const p of points) {
      let best = 0;
      let bestD = Infinity;
      for (let j = 0; j < k; j++) {
        const c = centres[j]!;
        const d = (p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2;
        if (d < bestD) {
          bestD = d;
          best = j;
        }
      }
      sx[best]! += p[0];
      sy[best]! += p[1];
      n[best]!++;
    }
    for (let j = 0; j < k; j++) if (n[j]! > 0) centres[j] = [sx[j]! / n[j]!, sy[j]! / n[j]!];
  }
  return centres;
}
