import type { InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';

export type Mode = 'heatmap' | 'hexagon' | 'grids';
export type Heat = InferResponseType<typeof api.heatmap.$get, 200>;
export type Hotspot = InferResponseType<typeof api.hotspots.$get, 200>[number];
export type Series = InferResponseType<typeof api.incidents.timeseries.$get, 200>;
export type Category = InferResponseType<(typeof api)['incident-categories']['$get'], 200>[number];

export const STATUSES = ['reported', 'dispatched', 'resolved', 'closed'] as const;
/** Category colours (Tableau 10), in the categories' order. */
export const CATEGORY_COLORS: Record<string, string> = {
  hazard: '#e15759',
  dispute: '#4e79a7',
  fire: '#f28e2b',
  public_order: '#76b7b2',
  sanitation: '#59a14f',
  traffic: '#edc948',
  other: '#bab0ac',
};

/** First day (China Standard Time) of each of the last `n` months, oldest first, as YYYY-MM. */
function lastMonths(n: number, now = new Date()): string[] {
  const cst = new Date(now.getTime() + 8 * 3_600_000);
  return Array.from({ length: n }, (_, i) => {
    const d = new Date(Date.UTC(cst.getUTCFullYear(), cst.getUTCMonth() - (n - 1 - i), 1));
    return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  });
}

const monthStart = (ym: string) => `${ym}-01T00:00:00+08:00`;
const nextMonth = (ym: string) => {
  const [y, m] = ym.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
};

/**
 * The analyst's view: filters (categories, statuses, a month or the whole two years), the
 * server's aggregates for them (heatmap cells, hotspot grids, series) and the playback clock.
 */
export class Analysis {
  mode = $state<Mode>('heatmap');
  categories = $state.raw<Category[]>([]);
  selected = $state.raw<string[]>([]);
  statuses = $state.raw<string[]>([...STATUSES]);
  /** Which grid an incident counts in: where its place lies now, or the grid it was filed in at its time. */
  gridBy = $state<'current' | 'filed'>('current');
  readonly months = lastMonths(24);
  /** Index into `months`, or -1 for all 24 months. */
  month = $state(-1);
  playing = $state(false);
  zoom = $state(9);
  heat = $state.raw<Heat | null>(null);
  hotspots = $state.raw<Hotspot[]>([]);
  series = $state.raw<Series | null>(null);
  loading = $state(false);
  error = $state<string | null>(null);
  private timer: ReturnType<typeof setInterval> | null = null;
  private request = 0;

  range = $derived(
    this.month < 0
      ? { from: monthStart(this.months[0]!), to: monthStart(nextMonth(this.months.at(-1)!)) }
      : { from: monthStart(this.months[this.month]!), to: monthStart(nextMonth(this.months[this.month]!)) },
  );

  async init(): Promise<void> {
    this.categories = await ok(api['incident-categories'].$get());
    this.selected = this.categories.map((c) => c.code);
  }

  private query(regionId: number) {
    const all = this.selected.length === this.categories.length;
    return {
      region: String(regionId),
      from: this.range.from,
      to: this.range.to,
      ...(all ? {} : { category: this.selected.join(',') || 'none' }),
      ...(this.statuses.length === STATUSES.length ? {} : { status: this.statuses.join(',') || 'none' }),
      ...(this.gridBy === 'filed' ? { grids: 'filed' as const } : {}),
    };
  }

  /** The current filters' incidents as a file (CSV, Excel or GeoJSON). */
  exportHref(regionId: number, format: 'csv' | 'xlsx' | 'geojson'): string {
    return `/api/incidents/export?${new URLSearchParams({ ...this.query(regionId), format })}`;
  }

  /** Fetches everything for the current filters; a newer call wins over an older one still running. */
  async load(regionId: number): Promise<void> {
    const mine = ++this.request;
    this.loading = true;
    this.error = null;
    try {
      if (this.selected.length === 0 || this.statuses.length === 0) {
        this.heat = { cell: { shape: 'hex', sizeM: 0 }, total: 0, cells: [] };
        this.hotspots = [];
        return;
      }
      const q = this.query(regionId);
      const [heat, hotspots, series] = await Promise.all([
        ok(api.heatmap.$get({ query: { ...q, shape: 'hex', zoom: String(Math.round(this.zoom)) } })),
        ok(api.hotspots.$get({ query: q })),
        // The series always spans the two years, so the chart shows where the window sits.
        ok(
          api.incidents.timeseries.$get({
            query: { ...q, from: monthStart(this.months[0]!), to: monthStart(nextMonth(this.months.at(-1)!)), bucket: 'month' },
          }),
        ),
      ]);
      if (mine !== this.request) return;
      this.heat = heat;
      this.hotspots = hotspots;
      this.series = series;
    } catch (err) {
      if (mine === this.request) this.error = err instanceof Error ? err.message : String(err);
    } finally {
      if (mine === this.request) this.loading = false;
    }
  }

  toggle(list: 'selected' | 'statuses', code: string): void {
    const current = this[list];
    this[list] = current.includes(code) ? current.filter((c) => c !== code) : [...current, code];
  }

  /** Plays the months one after another (from the first when showing all), looping. */
  play(): void {
    if (this.playing) return this.pause();
    this.playing = true;
    if (this.month < 0) this.month = 0;
    this.timer = setInterval(() => (this.month = (this.month + 1) % this.months.length), 1_500);
  }

  pause(): void {
    this.playing = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
