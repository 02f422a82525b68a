import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBoundaryFeatures } from '../../server/domain/geojson-input.ts';
import { kmeans } from '../../server/seed/kmeans.ts';
import { Random } from '../../server/seed/random.ts';
import { generateHouseholds, planTownships, Territory } from '../../server/seed/settlements.ts';

const zhanyi = parseBoundaryFeatures(
  JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'data', 'boundaries', 'qujing.geojson'), 'utf8')),
).features.find((f) => f.code === '530303')!;

function generate(seed: number, total: number) {
  const random = new Random(seed);
  const territory = new Territory(zhanyi.coordinates, random);
  const seat = [103.822324, 25.600507] as [number, number];
  const townships = planTownships(territory, seat, ['甲街道', '乙街道'], ['丙乡', '丁乡', '戊镇'], random);
  return { territory, seat, townships, households: generateHouseholds(territory, seat, townships, total, random) };
}

describe('demo generators', () => {
  it('give the same households for the same seed and different ones for another', () => {
    const a = generate(7, 2_000).households;
    const b = generate(7, 2_000).households;
    const c = generate(8, 2_000).households;
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('put every household inside the district, with about the asked number', () => {
    const { households, territory } = generate(11, 3_000);
    expect(households.length).toBeGreaterThan(2_850);
    expect(households.length).toBeLessThanOrEqual(3_100);
    expect(households.every((h) => territory.contains([h.lon, h.lat]))).toBe(true);
  });

  it('make the county seat far denser than the district on average', () => {
    const { households, territory, seat } = generate(3, 10_000);
    const [sx, sy] = territory.frame.toXY(seat);
    const nearSeat = households.filter((h) => {
      const [x, y] = territory.frame.toXY([h.lon, h.lat]);
      return Math.hypot(x - sx, y - sy) < 3_000;
    }).length;
    const seatDensity = nearSeat / (Math.PI * 9); // per km²
    const meanDensity = households.length / 2_812;
    expect(seatDensity).toBeGreaterThan(meanDensity * 20);
  });

  it('sizes households from 1 to 7 people', () => {
    const sizes = new Set(generate(5, 2_000).households.map((h) => h.size));
    expect([...sizes].every((s) => s >= 1 && s <= 7)).toBe(true);
    expect(sizes.size).toBeGreaterThan(4);
  });

  it('k-means is deterministic and returns k centres', () => {
    const points = Array.from({ length: 500 }, (_, i) => [Math.sin(i) * 100, Math.cos(i * 1.3) * 100] as [number, number]);
    const a = kmeans(points, 12, new Random(1));
    expect(a).toHaveLength(12);
    expect(kmeans(points, 12, new Random(1))).toEqual(a);
    expect(kmeans(points, 0, new Random(1))).toEqual([]);
    expect(kmeans(points.slice(0, 3), 5, new Random(1))).toHaveLength(3);
  });
});
