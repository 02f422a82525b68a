import type { InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';
import { DAY, dayOf, dayStart, isDay, monthStart, previousRange, soFar, yearAgoRange } from '../lib/periods.ts';
export { dayOf, dayStart, previousRange, yearAgoRange };

export type Mode = 'heatmap' | 'hexagon' | 'grids' | 'points';
export type Heat = InferResponseType<typeof api.heatmap.$get, 200>;
export type Hotspot = InferResponseType<typeof api.hotspots.$get, 200>[number];
export type Series = InferResponseType<typeof api.incidents.timeseries.$get, 200>;
export type Category = InferResponseType<(typeof api)['incident-categories']['$get'], 200>[number];
export type ChildStat = InferResponseType<(typeof api.regions)[':id']['incident-stats']['$get'], 200>[number];
/** A child region's count in the window and in the period before it. */
export interface Comparison {
  id: number;
  name: string;
  now: number;
  before: number;
}

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
  /** Index into `months`, or -1 for all 24 months; ignored while a free range of days is set. */
  month = $state(-1);
  /** A free range of China-time days, both ends included; null: the slider's month (or all). */
  custom = $state.raw<{ from: string; to: string } | null>(null);
  /** Keeps the colour scale where it is (the month slider plays against one scale). */
  fixedScale = $state(false);
  /** Each child region's count now and in the period before. */
  comparison = $state.raw<Comparison[] | null>(null);
  playing = $state(false);
  zoom = $state(9);
  heat = $state.raw<Heat | null>(null);
  hotspots = $state.raw<Hotspot[]>([]);
  series = $state.raw<Series | null>(null);
  /** The query the series was read for (the filters without the window): a new window alone reads it no more. */
  private seriesKey = '';
  loading = $state(false);
  error = $state<string | null>(null);
  private timer: ReturnType<typeof setInterval> | null = null;
  private request = 0;
  private heatRequest = 0;

  range = $derived(
    this.custom
      ? { from: dayStart(this.custom.from), to: dayStart(dayOf(new Date(Date.parse(dayStart(this.custom.to)) + DAY).toISOString())) }
      : this.month < 0
        ? { from: monthStart(this.months[0]!), to: monthStart(nextMonth(this.months.at(-1)!)) }
        : { from: monthStart(this.months[this.month]!), to: monthStart(nextMonth(this.months[this.month]!)) },
  );
  /** What the window is compared with: the period just before (环比) or the same period a year before (同比). */
  compareWith = $state<'previous' | 'lastYear'>('previous');
  /** The period the window is compared with. */
  previous = $derived(
    soFar(
      this.compareWith === 'lastYear' ? yearAgoRange(this.range) : previousRange(this.range, this.custom || this.month < 0 ? null : this.months[this.month]!),
      this.range,
      Date.now(),
    ),
  );

  /** Sets a free range of days (China time, ends included); a reversed range is put the right way round. */
  setDays(from: string, to: string): void {
    if (!isDay(from) || !isDay(to)) return;
    this.pause();
    this.custom = from <= to ? { from, to } : { from: to, to: from };
  }

  /** Back to the slider: a month, or all months. */
  setMonth(i: number): void {
    this.custom = null;
    this.month = i;
  }

  async init(): Promise<void> {
    this.categories = await ok(api['incident-categories'].$get());
    this.selected = this.categories.map((c) => c.code);
  }

  private query(regionId: number) {
    return { region: String(regionId), ...this.filters() };
  }

  /** The filters without the region (the statistics per child take it in the path). */
  private filters(range = this.range) {
    const all = this.selected.length === this.categories.length;
    return {
      from: range.from,
      to: range.to,
      ...(all ? {} : { category: this.selected.join(',') || 'none' }),
      ...(this.statuses.length === STATUSES.length ? {} : { status: this.statuses.join(',') || 'none' }),
      ...(this.gridBy === 'filed' ? { grids: 'filed' as const } : {}),
    };
  }

  /** The incident tiles' URL template for the current filters (null: nothing can match). */
  tileUrl(regionId: number): string | null {
    if (this.nothing) return null;
    return `${location.origin}/api/tiles/incidents/{z}/{x}/{y}.mvt?${new URLSearchParams(this.query(regionId))}`;
  }

  /** The current filters' incidents as a file (CSV, Excel or GeoJSON). */
  exportHref(regionId: number, format: 'csv' | 'xlsx' | 'geojson'): string {
    // (a window running past today ends today, as the page's day fields show it: the file is named to today, not
    // to the month's or the two years' end)
    const q = this.query(regionId);
    const tomorrow = dayStart(dayOf(new Date(Date.now() + DAY).toISOString()));
    const to = Date.parse(q.to) > Date.parse(tomorrow) ? tomorrow : q.to;
    return `/api/incidents/export?${new URLSearchParams({ ...q, to, format })}`;
  }

  /** Nothing can match: no category or no status ticked. */
  private get nothing(): boolean {
    return this.selected.length === 0 || this.statuses.length === 0;
  }

  /**
   * The cells for the map at a zoom. Apart from the statistics, so zooming (or flying to a hotspot)
   * fetches only the cells; a newer call wins over an older one still running.
   */
  async loadHeat(regionId: number, zoom: number): Promise<void> {
    const mine = ++this.heatRequest;
    try {
      const heat = this.nothing
        ? { cell: { shape: 'hex' as const, sizeM: 0 }, total: 0, cells: [] }
        : await ok(api.heatmap.$get({ query: { ...this.query(regionId), shape: 'hex', zoom: String(Math.round(zoom)) } }));
      if (mine === this.heatRequest) this.heat = heat;
    } catch (err) {
      if (mine === this.heatRequest) this.error = err instanceof Error ? err.message : String(err);
    }
  }

  /** The hotspots, the series and the comparison with the period before, for the current filters. */
  async load(regionId: number): Promise<void> {
    const mine = ++this.request;
    this.loading = true;
    this.error = null;
    try {
      if (this.nothing) {
        this.hotspots = [];
        this.comparison = [];
        return;
      }
      const q = this.query(regionId);
      const param = { id: String(regionId) };
      // The series always spans the two years, so the chart shows where the window sits: a step of the
      // month player (only the window moves) asks for it no more
      const seriesQuery = { ...q, from: monthStart(this.months[0]!), to: monthStart(nextMonth(this.months.at(-1)!)), bucket: 'month' as const };
      const seriesKey = JSON.stringify(seriesQuery);
      const [hotspots, series, now, before] = await Promise.all([
        ok(api.hotspots.$get({ query: q })),
        this.series && this.seriesKey === seriesKey ? this.series : ok(api.incidents.timeseries.$get({ query: seriesQuery })),
        ok(api.regions[':id']['incident-stats'].$get({ param, query: this.filters() })),
        ok(api.regions[':id']['incident-stats'].$get({ param, query: this.filters(this.previous) })),
      ]);
      if (mine !== this.request) return;
      this.hotspots = hotspots;
      this.series = series;
      this.seriesKey = seriesKey;
      const earlier = new Map(before.map((r) => [r.id, r.total]));
      this.comparison = now.map((r) => ({ id: r.id, name: r.name, now: r.total, before: earlier.get(r.id) ?? 0 }));
    } catch (err) {
      if (mine === this.request) this.error = err instanceof Error ? err.message : String(err);
    } finally {
      if (mine === this.request) this.loading = false;
    }
  }

  /** Only this one (只看), or every one again (全部). */
  only(list: 'selected' | 'statuses', code: string): void {
    this[list] = [code];
  }
  all(list: 'selected' | 'statuses'): void {
    this[list] = list === 'selected' ? this.categories.map((c) => c.code) : [...STATUSES];
  }

  toggle(list: 'selected' | 'statuses', code: string): void {
    const current = this[list];
    this[list] = current.includes(code) ? current.filter((c) => c !== code) : [...current, code];
  }

  /** Plays the months one after another (from the first when showing all), looping. */
  play(): void {
    if (this.playing) return this.pause();
    this.playing = true;
    this.custom = null;
    if (this.month < 0) this.month = 0;
    this.timer = setInterval(() => (this.month = (this.month + 1) % this.months.length), 1_500);
  }

  pause(): void {
    this.playing = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
