import type { InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';
import type { Heat, Hotspot } from './analysis.svelte.ts';

export type Overview = InferResponseType<typeof api.stats.overview.$get, 200>;
export type Ranking = InferResponseType<(typeof api.regions)[':id']['incident-stats']['$get'], 200>;
export type DepartmentStats = InferResponseType<typeof api.stats.departments.$get, 200>;
export type LatestIncident = InferResponseType<typeof api.incidents.$get, 200>['items'][number];

const HOUR = 3_600_000;
const DAY = 86_400_000;

interface Panels {
  overview: Overview | null;
  hotspots: Hotspot[];
  ranking: Ranking;
  latest: LatestIncident[];
  heat: Heat | null;
  departments: DepartmentStats;
  unavailable: readonly string[];
}

/**
 * The wall display's state: the region in focus (a carousel through the district's townships),
 * its figures and panels, and the live connection that brings new incidents in.
 */
export class Wall {
  districtId = $state<number | null>(null);
  stops = $state.raw<{ id: number; name: string }[]>([]);
  stop = $state(0);
  paused = $state(false);
  /** Carousel intervals that have passed (paused or not): a test waits for one instead of for time. */
  ticks = $state(0);
  overview = $state.raw<Overview | null>(null);
  hotspots = $state.raw<Hotspot[]>([]);
  ranking = $state.raw<Ranking>([]);
  latest = $state.raw<LatestIncident[]>([]);
  heat = $state.raw<Heat | null>(null);
  /** Departments' response in the last 30 days: whistle to acknowledgement and to answer. */
  departments = $state.raw<DepartmentStats>([]);
  connected = $state(false);
  /** The stream failed since it was opened (until then the screen is connecting, not down). */
  dropped = $state(false);
  /** The region the panels show (null before the first answer): until it is the one in focus, they are loading. */
  loadedFor = $state<number | null>(null);
  /** When the figures shown were read; set when a refresh fails, they are stale since then. */
  loadedAt = $state<Date | null>(null);
  failing = $state(false);
  /** The panels whose answer failed for the region shown (the others are shown): they say so in their place. */
  unavailable = $state.raw<readonly string[]>([]);
  /** Ids of incidents that arrived live (highlighted for a while). */
  fresh = $state.raw<number[]>([]);
  /** When the stop in focus first showed its own figures. */
  private shownAt = 0;
  private source: EventSource | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private refreshSoon: ReturnType<typeof setTimeout> | null = null;

  constructor(readonly intervalMs: number) {}

  focus = $derived(this.stops[this.stop] ?? null);

  /** The wall's own region is a city: its stops and its ranking are counties, not townships. */
  cityWide = $state(false);

  async start(districtId: number, townships: { id: number; name: string }[], districtName: string, cityWide = false): Promise<void> {
    this.districtId = districtId;
    this.cityWide = cityWide;
    this.stops = [{ id: districtId, name: districtName }, ...townships];
    this.timer = setInterval(() => {
      this.ticks++;
      // A stop moves on once its figures have been up for half an interval at least: a cold server's first answer for a
      // city took 20 s, and the carousel had moved on before it came (the city's figures then shown under a county's
      // name, greyed). A stop whose answers fail moves on as before.
      const shown = this.loadedFor === this.focus?.id && Date.now() - this.shownAt >= this.intervalMs / 2;
      if (!this.paused && (shown || this.failing)) this.next();
    }, this.intervalMs);
    this.connect();
    await this.refresh();
  }

  next(step = 1): void {
    this.stop = (this.stop + step + this.stops.length) % this.stops.length;
  }

  private inflight: Promise<void> | null = null;
  private again = false;

  /** Everything for the region in focus; one request set at a time, a call meanwhile runs once after it. */
  async refresh(): Promise<void> {
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    // A failed refresh (the network down) keeps what is shown and says it is stale; it throws nowhere.
    this.inflight = this.load()
      .then(() => void (this.failing = false))
      .catch(() => void (this.failing = true))
      .finally(() => {
        this.inflight = null;
        if (this.again) {
          this.again = false;
          void this.refresh();
        }
      });
    return this.inflight;
  }

  /** The next stop's panels, asked for while the current one is shown: the carousel's step then has them at once. */
  private prefetched: { id: number; at: number; data: Promise<Panels> } | null = null;

  /** Everything the panels show for one region. The ranking always covers the district's townships. */
  private async panels(id: number): Promise<Panels> {
    const districtId = this.districtId!;
    // From the start of this hour, 30 days back: every wall (and every step of the carousel) asks the
    // same question for an hour, which the server then answers from what it keeps.
    const from = new Date(Math.floor(Date.now() / HOUR) * HOUR - 30 * DAY).toISOString();
    const region = String(id);
    // Each panel on its own: one that fails (a slow count past the server's limit) leaves the others shown and says
    // so in its place; only when every one fails is the wall stale (the network down).
    const settled = await Promise.allSettled([
      ok(api.stats.overview.$get({ query: { region } })),
      ok(api.hotspots.$get({ query: { region, from, only: 'hot' } })), // (a city's every grid would be 4.9 MB for six rows)
      ok(api.regions[':id']['incident-stats'].$get({ param: { id: String(districtId) }, query: { from } })),
      ok(api.incidents.$get({ query: { region, limit: '8' } })),
      ok(api.heatmap.$get({ query: { region, from, shape: 'hex' } })),
      ok(api.stats.departments.$get({ query: { region, from } })),
    ]);
    if (settled.every((r) => r.status === 'rejected')) throw (settled[0] as PromiseRejectedResult).reason;
    const [overview, hotspots, ranking, latest, heat, departments] = settled;
    const value = <T>(r: PromiseSettledResult<T>, none: T): T => (r.status === 'fulfilled' ? r.value : none);
    const names = ['overview', 'hotspots', 'ranking', 'latest', 'heat', 'departments'] as const;
    return {
      overview: value(overview, null),
      hotspots: value(hotspots, []),
      ranking: value(ranking, []),
      latest: latest.status === 'fulfilled' ? latest.value.items : [],
      heat: value(heat, null),
      departments: value(departments, []),
      unavailable: names.filter((_n, i) => settled[i]!.status === 'rejected'),
    };
  }

  private async load(): Promise<void> {
    const focus = this.focus;
    if (!focus || this.districtId === null) return;
    // What was fetched ahead for this stop, if it is recent (a live event since asks afresh: see connect)
    const ahead = this.prefetched;
    this.prefetched = null;
    const fresh = ahead && ahead.id === focus.id && Date.now() - ahead.at < Math.min(this.intervalMs, 30_000);
    const data = await (fresh ? ahead.data.catch(() => this.panels(focus.id)) : this.panels(focus.id));
    if (this.focus?.id !== focus.id) return;
    if (this.loadedFor !== focus.id) this.shownAt = Date.now();
    Object.assign(this, { ...data, loadedFor: focus.id, loadedAt: new Date() });
    // The next stop, fetched now and kept for the step (not while paused: a paused wall may stay for hours)
    const next = this.stops[(this.stop + 1) % this.stops.length];
    if (!this.paused && next && next.id !== focus.id) {
      const ahead = this.panels(next.id);
      ahead.catch(() => undefined);
      this.prefetched = { id: next.id, at: Date.now(), data: ahead };
    }
  }

  /** Server-sent events; the browser reconnects by itself, the indicator says when it is down. */
  private connect(): void {
    this.source = new EventSource('/api/events');
    this.source.addEventListener('open', () => (this.connected = true));
    this.source.addEventListener('hello', () => (this.connected = true));
    this.source.addEventListener('error', () => {
      this.connected = false;
      this.dropped = true;
    });
    this.source.addEventListener('incident', (e) => {
      this.connected = true;
      const event = JSON.parse((e as MessageEvent<string>).data) as { action: string; incident?: LatestIncident };
      if (event.incident && event.action === 'report') {
        this.latest = [event.incident, ...this.latest.filter((i) => i.id !== event.incident!.id)].slice(0, 8);
        this.fresh = [...this.fresh, event.incident.id];
        const id = event.incident.id;
        setTimeout(() => (this.fresh = this.fresh.filter((f) => f !== id)), 60_000);
      }
      // Figures follow within a couple of seconds, once per burst of events (what was fetched ahead is out of date).
      this.prefetched = null;
      if (this.refreshSoon) clearTimeout(this.refreshSoon);
      this.refreshSoon = setTimeout(() => void this.refresh(), 2_000);
    });
  }

  stopAll(): void {
    this.source?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.refreshSoon) clearTimeout(this.refreshSoon);
  }
}
