import booleanPointInPolygon from '@turf/boolean-point-in-polygon';
import type { MultiPolygonCoords, Position } from '../domain/geojson-input.ts';
import { LocalFrame } from '../domain/local-frame.ts';
import type { Random } from './random.ts';
import turfBbox from '@turf/bbox';

export { LocalFrame };

/**
 * Where people live: a county seat with its streets (街道), township seats (乡镇), hamlets spread
 * by terrain (valleys dense, mountains empty) and a thin scatter. All deterministic from `Random`.
 */

export interface TownshipPlan {
  name: string;
  kind: 'street' | 'town';
  centre: Position;
}

export interface GeneratedHousehold {
  lon: number;
  lat: number;
  size: number;
}

export class Territory {
  private readonly geometry;
  readonly bounds: [number, number, number, number];
  readonly frame: LocalFrame;
  private readonly phases: number[];
  constructor(
    readonly polygons: MultiPolygonCoords,
    random: Random,
  ) {
    this.geometry = { type: 'MultiPolygon' as const, coordinates: polygons };
    this.bounds = turfBbox({ type: 'MultiPolygon', coordinates: polygons }) as [number, number, number, number];
    this.frame = new LocalFrame([(this.bounds[0] + this.bounds[2]) / 2, (this.bounds[1] + this.bounds[3]) / 2]);
    this.phases = Array.from({ length: 4 }, () => random.range(0, 2 * Math.PI));
  }
  /** Its area in km², in its local frame (holes subtracted). */
  areaKm2(): number {
    let m2 = 0;
    for (const polygon of this.polygons)
      polygon.forEach((ring, i) => {
        const xy = ring.map((p) => this.frame.toXY(p));
        let a = 0;
        for (let k = 0; k + 1 < xy.length; k++) a += xy[k]![0] * xy[k + 1]![1] - xy[k + 1]![0] * xy[k]![1];
        m2 += (i === 0 ? 1 : -1) * Math.abs(a / 2);
      });
    return m2 / 1e6;
  }

  contains(p: Position): boolean {
    return booleanPointInPolygon(p, this.geometry);
  }
  /** Habitability in [0, 1]: low in the "mountains" of a smooth synthetic relief. */
  habitability(p: Position): number {
    const [x, y] = this.frame.toXY(p);
    const [a, b, c, d] = this.phases as [number, number, number, number];
    const v = 0.5 + 0.3 * Math.sin(x / 7_000 + a) * Math.cos(y / 9_000 + b) + 0.2 * Math.sin((x - y) / 17_000 + c) * Math.cos((x + y) / 23_000 + d);
    return Math.min(1, Math.max(0, v)) ** 2;
  }
  randomPoint(random: Random): Position {
    const [minX, minY, maxX, maxY] = this.bounds;
    for (;;) {
      const p: Position = [random.range(minX, maxX), random.range(minY, maxY)];
      if (this.contains(p)) return p;
    }
  }
  /** A point drawn around `centre` with spread `sigma` metres, inside the territory (or null after a few tries). */
  near(centre: Position, sigma: number, random: Random): Position | null {
    const [cx, cy] = this.frame.toXY(centre);
    for (let i = 0; i < 8; i++) {
      const p = this.frame.toLonLat([cx + random.normal() * sigma, cy + random.normal() * sigma]);
      if (this.contains(p)) return p;
    }
    return null;
  }
}

/** Street centres ring the seat; town centres are spread by farthest-point sampling over habitable land. */
export function planTownships(territory: Territory, seat: Position, streets: string[], towns: string[], random: Random): TownshipPlan[] {
  const plans: TownshipPlan[] = [];
  streets.forEach((name, i) => {
    const angle = (2 * Math.PI * i) / streets.length + random.range(-0.3, 0.3);
    const r = random.range(2_500, 4_500);
    const [sx, sy] = territory.frame.toXY(seat);
    let centre = territory.frame.toLonLat([sx + r * Math.cos(angle), sy + r * Math.sin(angle)]);
    if (!territory.contains(centre)) centre = territory.near(seat, 2_000, random) ?? seat;
    plans.push({ name, kind: 'street', centre });
  });
  const candidates = Array.from({ length: 400 }, () => territory.randomPoint(random)).filter((p) => territory.habitability(p) > 0.15);
  const chosen: Position[] = [seat];
  const dist = (a: Position, b: Position) => Math.hypot(...(territory.frame.toXY(a).map((v, k) => v - territory.frame.toXY(b)[k]!) as [number, number]));
  for (const name of towns) {
    let best = candidates[0] ?? seat;
    let bestD = -1;
    for (const c of candidates) {
      const d = Math.min(...chosen.map((q) => dist(c, q)));
      if (d > bestD) {
        bestD = d;
        best = c;
      }
    }
    chosen.push(best);
    plans.push({ name, kind: 'town', centre: best });
  }
  return plans;
}

const SIZE_WEIGHTS = [0.12, 0.22, 0.26, 0.2, 0.12, 0.06, 0.02];

function householdSize(random: Random): number {
  let r = random.next();
  for (let i = 0; i < SIZE_WEIGHTS.length; i++) {
    r -= SIZE_WEIGHTS[i]!;
    if (r <= 0) return i + 1;
  }
  return SIZE_WEIGHTS.length;
}

/**
 * About `total` households: 40% around the seat and its streets, 12% in township seats,
 * 45% in hamlets placed by habitability, 3% scattered.
 */
export function generateHouseholds(territory: Territory, seat: Position, townships: TownshipPlan[], total: number, random: Random): GeneratedHousehold[] {
  const out: GeneratedHousehold[] = [];
  const add = (p: Position | null) => {
    if (p) out.push({ lon: p[0], lat: p[1], size: householdSize(random) });
  };
  const cluster = (centre: Position, n: number, sigma: number) => {
    for (let i = 0; i < n; i++) add(territory.near(centre, sigma, random));
  };
  const streets = townships.filter((t) => t.kind === 'street');
  const towns = townships.filter((t) => t.kind === 'town');
  const urban = Math.round(total * 0.4);
  cluster(seat, Math.round(urban * 0.4), 1_800);
  for (const s of streets) cluster(s.centre, Math.round((urban * 0.6) / Math.max(streets.length, 1)), 1_400);
  for (const t of towns) cluster(t.centre, Math.round((total * 0.12) / Math.max(towns.length, 1)), 700);
  let hamletBudget = Math.round(total * 0.45);
  while (hamletBudget > 0) {
    const centre = territory.randomPoint(random);
    if (random.next() > territory.habitability(centre)) continue;
    const n = Math.min(hamletBudget, Math.round(Math.exp(random.normal() * 0.6 + Math.log(70))));
    cluster(centre, n, random.range(120, 400));
    hamletBudget -= n;
  }
  let scattered = Math.round(total * 0.03);
  while (scattered > 0) {
    const p = territory.randomPoint(random);
    if (random.next() > territory.habitability(p) + 0.05) continue;
    add(p);
    scattered--;
  }
  return out;
}
