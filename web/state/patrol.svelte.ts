import { createStore, del, entries, get, set, type UseStore } from 'idb-keyval';
import type { InferResponseType } from 'hono/client';
import { api, ApiError, ok } from '../lib/api.ts';
import { onSentInBackground, requestBackgroundSync } from '../lib/background-send.ts';
import { errorText } from '../lib/errors.ts';

export type Household = InferResponseType<typeof api.field.households.$get, 200>[number];
export type Removed = InferResponseType<typeof api.households.removed.$get, 200>[number];
type Month = InferResponseType<typeof api.assessment.$get, 200>;

/** A patrol on the phone: walking (no `endedAt`) or ended and waiting to be sent. */
export interface PatrolDraft {
  /** The phone's own key: sent twice after a lost answer, stored once. */
  key: string;
  gridId: number;
  startedAt: string;
  endedAt: string | null;
  /** [lon, lat, epoch ms], thrifty: a point when the worker moved 25 m, or 10 m after two minutes. */
  track: [number, number, number][];
  visits: { householdId: number; at: string }[];
  error: string | null;
  /** The refusal's code: a track refused (too fast, off the grid) can still give its visits. */
  code?: string | null;
}

/** A correction of a household made with no network: kept on the phone and sent when there is one. */
export interface PendingEdit {
  key: string;
  householdId: number;
  /** The household's version the correction was made on (a change by someone else since refuses it: 409). */
  version: number;
  edit: { head?: string; phone?: string; size?: number };
  /** Its address, to name it in the list of what waits. */
  label: string;
  error: string | null;
}

/** A household added with no network: kept on the phone with its own key and sent when there is one (added once however often sent). */
export interface PendingAdd {
  key: string;
  add: { lon: number; lat: number; address: string; size: number; head: string; phone: string; key: string };
  /** Its address, to name it in the list of what waits. */
  label: string;
  error: string | null;
}

/** Refusals of the track itself: the visits of such a patrol can be kept without it. */
export const TRACK_REFUSALS = ['too_fast', 'outside_grid', 'visit_far'];

/** When this month began in China (UTC+8, no daylight saving), as epoch ms. */
export function monthStartInChina(now: number): number {
  const c = new Date(now + 8 * 3_600_000);
  return Date.UTC(c.getUTCFullYear(), c.getUTCMonth(), 1) - 8 * 3_600_000;
}

/** Metres between two lon/lat points (haversine). */
export function metres(a: [number, number, ...number[]], b: [number, number, ...number[]]): number {
  const rad = Math.PI / 180;
  const dLat = (b[1] - a[1]) * rad;
  const dLon = (b[0] - a[0]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.sqrt(h));
}

export const trackLength = (track: [number, number, number][]) => track.reduce((m, p, i) => (i ? m + metres(track[i - 1]!, p) : 0), 0);

/** A patrol that went less far than this and visited no household is not sent (a start tapped by mistake, ended at once). */
export const MIN_PATROL_M = 50;

/** A fix worse than this is dropped: it would draw zig-zags, not a walk. */
const MAX_ACCURACY_M = 80;

/**
 * 巡查 on the phone (command centre issue §6b): with the worker's consent, the track of a patrol
 * and the households visited (入户走访), kept in IndexedDB while walking (a reload or a dead
 * battery loses nothing kept) and sent when there is a network, as reports are.
 */
export class PatrolRecorder {
  current = $state<PatrolDraft | null>(null);
  queue = $state<PatrolDraft[]>([]);
  households = $state.raw<Household[]>([]);
  /** Corrections of households made with no network, waiting to be sent (every page of the app shares them). */
  pendingEdits = $state<PendingEdit[]>([]);
  /** Households added with no network, waiting to be sent. */
  pendingAdds = $state<PendingAdd[]>([]);
  month = $state.raw<Month | null>(null);
  /** The position's trouble, in words (no permission, no signal). */
  gpsError = $state<string | null>(null);
  sending = $state(false);
  /** Patrols sent since the page opened. */
  sent = $state(0);
  /** What the last send (or end) did, for the worker to see: patrols uploaded, or an empty walk not sent. */
  notice = $state<{ kind: 'sent'; n: number; km: number; visits: number } | { kind: 'empty' } | null>(null);
  private store: UseStore | null = null;
  private watch: number | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private unlisten: () => void = () => {};

  constructor(private readonly user: string) {}

  readonly distance = $derived(this.current ? trackLength(this.current.track) : 0);

  async open(): Promise<void> {
    this.store = createStore(`gridplan-patrol-${this.user}`, 'patrols');
    this.current = (await get<PatrolDraft | null>('current', this.store)) ?? null;
    // (once kept as one list: taken over patrol by patrol, so two pages never write over each other's)
    const legacy = await get<PatrolDraft[]>('queue', this.store);
    if (legacy) {
      for (const q of legacy) await set(`q:${q.key}`, q, this.store);
      await del('queue', this.store);
    }
    await this.reloadQueue();
    await this.reloadEdits();
    await this.reloadAdds();
    if (this.current) this.follow();
    addEventListener('online', this.onOnline);
    this.unlisten = onSentInBackground(() => void this.taken());
    this.timer = setInterval(() => void this.flush(), 20_000);
    void this.flush();
  }

  /** The service worker sent patrols while this page was open: they leave the queue, and the month counts them. */
  private async taken(): Promise<void> {
    const before = this.queue.length;
    await this.reloadQueue();
    if (this.queue.length < before) {
      this.sent += before - this.queue.length;
      void this.loadMonth();
      // (their visits are the households' 上次走访 now)
      if (this.householdsOf !== null) void this.loadHouseholds(this.householdsOf);
    }
  }

  close(): void {
    removeEventListener('online', this.onOnline);
    this.unlisten();
    if (this.timer) clearInterval(this.timer);
    this.unfollow();
  }

  private onOnline = () => void this.flush();

  /** The walk under way, and each ended patrol as its own record (another page of the app keeps its own). */
  private async save(): Promise<void> {
    if (!this.store) return;
    await set('current', $state.snapshot(this.current), this.store);
  }

  private async keep(q: PatrolDraft): Promise<void> {
    if (this.store) await set(`q:${q.key}`, $state.snapshot(q), this.store);
  }

  /** The ended patrols every page of the app has kept, oldest first. */
  private async reloadQueue(): Promise<void> {
    if (!this.store) return;
    const kept = (await entries<string, PatrolDraft>(this.store)).filter(([k]) => k.startsWith('q:')).map(([, q]) => q);
    this.queue = kept.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.key.localeCompare(b.key));
  }

  private async forget(key: string): Promise<void> {
    if (this.store) await del(`q:${key}`, this.store);
    this.queue = this.queue.filter((q) => q.key !== key);
  }

  private householdsOf: number | null = null;

  async loadHouseholds(gridId: number): Promise<void> {
    if (this.householdsOf !== gridId) this.households = [];
    this.householdsOf = gridId;
    const loaded = await ok(api.field.households.$get({ query: { grid: String(gridId) } })).catch(() => this.households);
    // corrections still waiting for a network show as made
    const waiting = new Map(this.pendingEdits.filter((p) => !p.error).map((p) => [p.householdId, p.edit]));
    this.households = waiting.size ? loaded.map((h) => (waiting.has(h.id) ? { ...h, ...waiting.get(h.id) } : h)) : loaded;
  }

  /**
   * Corrects one household at the door (户主, phone, size) and shows it so: the saved household.
   * A refusal is thrown for the form to say; one for a household changed meanwhile reloads the list first.
   */
  async saveHousehold(h: Household, edit: { head?: string; phone?: string; size?: number }): Promise<{ household: Household; queued: boolean }> {
    // one already waiting for this household: this one joins it (sent as one, on the version it was made on)
    const waiting = this.pendingEdits.find((p) => p.householdId === h.id && !p.error);
    if (!waiting) {
      try {
        const saved = await ok(
          // (a line that connects but carries nothing counts as no network)
          api.households[':id'].$patch(
            { param: { id: String(h.id) }, json: { version: h.version, ...edit } },
            { init: { signal: AbortSignal.timeout(15_000) } },
          ),
        );
        const next: Household = { ...h, head: saved.head, phone: saved.phone, size: saved.size, version: saved.version };
        this.households = this.households.map((x) => (x.id === h.id ? next : x));
        return { household: next, queued: false };
      } catch (e) {
        if (e instanceof ApiError && e.code === 'version_conflict' && this.householdsOf !== null) await this.loadHouseholds(this.householdsOf);
        // no network (or none that answers): kept on the phone, as reports and patrols are
        if (e instanceof ApiError) throw e;
      }
    }
    const pending: PendingEdit = waiting
      ? { ...waiting, edit: { ...waiting.edit, ...edit } }
      : { key: `e:${Date.now()}-${h.id}`, householdId: h.id, version: h.version, edit, label: h.address || `#${h.id}`, error: null };
    if (this.store) await set(pending.key, $state.snapshot(pending), this.store);
    this.pendingEdits = [...this.pendingEdits.filter((p) => p.key !== pending.key), pending];
    const next: Household = { ...h, ...edit };
    this.households = this.households.map((x) => (x.id === h.id ? next : x));
    return { household: next, queued: true };
  }

  /**
   * 新增住户: one found at the door that no list had, where it is. Needs a network (it is placed by the
   * server in its grid, and refused there if the grid has that address already); the list reloads.
   */
  async addHousehold(h: {
    lon: number;
    lat: number;
    address: string;
    size: number;
    head: string;
    phone: string;
  }): Promise<{ id: number; op: number; queued: false } | { queued: true }> {
    const add = { ...h, key: crypto.randomUUID().replace(/-/g, '') };
    try {
      // (a line that connects but carries nothing counts as no network)
      const saved = await ok(api.households.$post({ json: add }, { init: { signal: AbortSignal.timeout(15_000) } }));
      if (this.householdsOf !== null) await this.loadHouseholds(this.householdsOf);
      return { id: saved.id, op: saved.op!, queued: false };
    } catch (e) {
      if (e instanceof ApiError) throw e;
    }
    // no network: kept on the phone, sent when it returns (its key: added once, even if the lost answer was a success)
    const pending: PendingAdd = { key: `a:${Date.now()}-${add.key.slice(0, 8)}`, add, label: h.address, error: null };
    if (this.store) await set(pending.key, $state.snapshot(pending), this.store);
    this.pendingAdds = [...this.pendingAdds, pending];
    return { queued: true };
  }

  private async reloadAdds(): Promise<void> {
    if (!this.store) return;
    const kept = (await entries<string, PendingAdd>(this.store)).filter(([k]) => k.startsWith('a:')).map(([, a]) => a);
    this.pendingAdds = kept.sort((a, b) => a.key.localeCompare(b.key));
  }

  async discardAdd(key: string): Promise<void> {
    if (this.store) await del(key, this.store);
    this.pendingAdds = this.pendingAdds.filter((p) => p.key !== key);
  }

  /** Sends the households added with no network, oldest first; a refusal is kept with its words; stops at the first network failure. */
  private async sendAdds(): Promise<void> {
    await this.reloadAdds();
    let changed = false;
    for (const p of [...this.pendingAdds]) {
      if (p.error) continue;
      try {
        await ok(api.households.$post({ json: p.add }, { init: { signal: AbortSignal.timeout(60_000) } }));
        if (this.store) await del(p.key, this.store);
        this.pendingAdds = this.pendingAdds.filter((x) => x.key !== p.key);
        changed = true;
      } catch (e) {
        if (!(e instanceof ApiError)) break;
        const kept = { ...p, error: errorText(e, 'patrol') };
        if (this.store) await set(p.key, kept, this.store);
        this.pendingAdds = this.pendingAdds.map((x) => (x.key === p.key ? kept : x));
      }
    }
    if (changed && this.householdsOf !== null) await this.loadHouseholds(this.householdsOf);
  }

  /** Takes one household out of the grid (迁出, 拆除, 重复登记), on the version shown; the list reloads. */
  async removeHousehold(h: Household, reason: 'moved' | 'demolished' | 'duplicate' | 'other', note: string): Promise<{ op: number }> {
    try {
      const done = await ok(
        api.households[':id'].remove.$post(
          { param: { id: String(h.id) }, json: { version: h.version, reason, ...(note ? { note } : {}) } },
          { init: { signal: AbortSignal.timeout(30_000) } },
        ),
      );
      this.households = this.households.filter((x) => x.id !== h.id);
      return { op: done.op };
    } catch (e) {
      if (e instanceof ApiError && e.code === 'version_conflict' && this.householdsOf !== null) await this.loadHouseholds(this.householdsOf);
      throw e;
    }
  }

  /** The households taken out of the grid shown, newest first (why, when, by whom), to give one back. */
  async loadRemoved(): Promise<Removed[]> {
    if (this.householdsOf === null) return [];
    return ok(api.households.removed.$get({ query: { grid: String(this.householdsOf) } }, { init: { signal: AbortSignal.timeout(30_000) } }));
  }

  /** 恢复: gives back the households a removal took out (whoever took them out): the list reloads. */
  async restoreHousehold(op: number): Promise<void> {
    await ok(api.households.restore.$post({ json: { op } }, { init: { signal: AbortSignal.timeout(30_000) } }));
    if (this.householdsOf !== null) await this.loadHouseholds(this.householdsOf);
  }

  /** 撤销 of the worker's own latest household change (an addition or a removal): the list reloads. */
  async undoHousehold(op: number): Promise<void> {
    await ok(api.households.undo.$post({ json: { op } }, { init: { signal: AbortSignal.timeout(30_000) } }));
    if (this.householdsOf !== null) await this.loadHouseholds(this.householdsOf);
  }

  private async reloadEdits(): Promise<void> {
    if (!this.store) return;
    const kept = (await entries<string, PendingEdit>(this.store)).filter(([k]) => k.startsWith('e:')).map(([, e]) => e);
    this.pendingEdits = kept.sort((a, b) => a.key.localeCompare(b.key));
  }

  async discardEdit(key: string): Promise<void> {
    if (this.store) await del(key, this.store);
    this.pendingEdits = this.pendingEdits.filter((p) => p.key !== key);
    if (this.householdsOf !== null) await this.loadHouseholds(this.householdsOf);
  }

  /** Sends the corrections kept with no network, oldest first; a refusal is kept with its words; stops at the first network failure. */
  private async sendEdits(): Promise<void> {
    await this.reloadEdits();
    let changed = false;
    for (const p of [...this.pendingEdits]) {
      if (p.error) continue;
      try {
        await ok(
          api.households[':id'].$patch(
            { param: { id: String(p.householdId) }, json: { version: p.version, ...p.edit } },
            { init: { signal: AbortSignal.timeout(60_000) } },
          ),
        );
        if (this.store) await del(p.key, this.store);
        this.pendingEdits = this.pendingEdits.filter((x) => x.key !== p.key);
        changed = true;
      } catch (e) {
        if (!(e instanceof ApiError)) break;
        const kept = { ...p, error: errorText(e, 'patrol') };
        if (this.store) await set(p.key, kept, this.store);
        this.pendingEdits = this.pendingEdits.map((x) => (x.key === p.key ? kept : x));
        changed = true;
      }
    }
    // what the server now has (a refused correction shows the household as it is)
    if (changed && this.householdsOf !== null) await this.loadHouseholds(this.householdsOf);
  }

  async loadMonth(): Promise<void> {
    this.month = await ok(api.assessment.$get({ query: {} })).catch(() => this.month);
  }

  async start(gridId: number): Promise<void> {
    this.notice = null;
    this.current = { key: `p-${crypto.randomUUID()}`, gridId, startedAt: new Date().toISOString(), endedAt: null, track: [], visits: [], error: null };
    await this.save();
    this.follow();
  }

  private follow(): void {
    if (this.watch !== null || !navigator.geolocation) {
      if (!navigator.geolocation) this.gpsError = 'unsupported';
      return;
    }
    this.watch = navigator.geolocation.watchPosition(
      (pos) => {
        this.gpsError = null;
        if (pos.coords.accuracy > MAX_ACCURACY_M) return;
        void this.add([Number(pos.coords.longitude.toFixed(7)), Number(pos.coords.latitude.toFixed(7)), pos.timestamp]);
      },
      (err) => (this.gpsError = err.code === err.PERMISSION_DENIED ? 'denied' : 'failed'),
      { enableHighAccuracy: true, maximumAge: 10_000, timeout: 60_000 },
    );
  }

  private unfollow(): void {
    if (this.watch !== null) navigator.geolocation.clearWatch(this.watch);
    this.watch = null;
  }

  /** Keeps a fix when the worker moved on: 25 m, or 10 m after two minutes (standing still keeps nothing). */
  async add(p: [number, number, number]): Promise<void> {
    const c = this.current;
    if (!c) return;
    const last = c.track.at(-1);
    if (last) {
      const d = metres(last, p);
      if (d < 10 || (d < 25 && p[2] - last[2] < 120_000)) return;
    }
    c.track.push(p);
    await this.save();
  }

  /** Where the worker stands now (the last fix kept). */
  get here(): [number, number] | null {
    const p = this.current?.track.at(-1);
    return p ? [p[0], p[1]] : null;
  }

  /**
   * The households visited this month (China's month, as the assessment counts it): those the server has a
   * visit of, those ticked on the walk under way, and those of ended patrols still waiting to be sent.
   */
  visitedThisMonth(now = Date.now()): Set<number> {
    const from = monthStartInChina(now);
    const seen = new Set<number>();
    for (const h of this.households) if (h.visitedAt && Date.parse(h.visitedAt) >= from) seen.add(h.id);
    for (const q of [...this.queue, ...(this.current ? [this.current] : [])]) for (const v of q.visits) if (Date.parse(v.at) >= from) seen.add(v.householdId);
    return seen;
  }

  visited(householdId: number): boolean {
    return this.current?.visits.some((v) => v.householdId === householdId) ?? false;
  }

  async toggleVisit(householdId: number): Promise<void> {
    const c = this.current;
    if (!c) return;
    c.visits = this.visited(householdId) ? c.visits.filter((v) => v.householdId !== householdId) : [...c.visits, { householdId, at: new Date().toISOString() }];
    await this.save();
  }

  /** Ends the walk: it waits in the queue until sent. */
  async stop(): Promise<void> {
    const c = this.current;
    if (!c) return;
    this.unfollow();
    // A walk with no distance and no visit is a tap, not a patrol: it is dropped, and the worker told so.
    if (c.visits.length === 0 && trackLength(c.track) < MIN_PATROL_M) {
      this.current = null;
      await this.save();
      this.notice = { kind: 'empty' };
      return;
    }
    const ended = { ...$state.snapshot(c), endedAt: new Date().toISOString() };
    await this.keep(ended);
    this.queue = [...this.queue, ended];
    this.current = null;
    await this.save();
    await this.flush();
  }

  /**
   * Keeps the household visits of a patrol whose track was refused, without the track: sent again
   * under a new key (the refused one was never stored), the visits as they were made.
   */
  async keepVisits(key: string): Promise<void> {
    const q = this.queue.find((x) => x.key === key);
    if (!q) return;
    await this.forget(key);
    const kept = { ...$state.snapshot(q), key: `${q.key}-visits`, track: [], error: null, code: null };
    await this.keep(kept);
    this.queue = [...this.queue, kept];
    await this.flush();
  }

  async discard(key: string): Promise<void> {
    await this.forget(key);
  }

  /** Sends the ended patrols, oldest first; stops at the first network failure. One page at a time. */
  async flush(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
      const both = async () => {
        await this.sendAll();
        await this.sendAdds();
        await this.sendEdits();
      };
      if (locks) await locks.request(`gridplan-patrol-${this.user}`, { ifAvailable: true }, async (lock) => (lock ? both() : this.reloadQueue()));
      else await both();
    } finally {
      this.sending = false;
    }
    // ended patrols still waiting for a network: the service worker sends them when it returns, the app closed or not
    if (this.queue.some((q) => !q.error)) void requestBackgroundSync();
    if (this.sent) void this.loadMonth();
  }

  private async sendAll(): Promise<void> {
    await this.reloadQueue();
    const done: PatrolDraft[] = [];
    for (const item of [...this.queue]) {
      if (item.error) continue;
      let res: Response;
      try {
        res = await api.patrols.$post(
          { json: { key: item.key, gridId: item.gridId, startedAt: item.startedAt, endedAt: item.endedAt!, track: item.track, visits: item.visits } },
          // (a request hanging on a dead line counts as no network: tried again later)
          { init: { signal: AbortSignal.timeout(60_000) } },
        );
      } catch {
        break; // no network: later
      }
      if (res.status === 401 || res.status === 408 || res.status === 429 || res.status >= 500) break;
      if (res.ok) {
        await this.forget(item.key);
        this.sent++;
        done.push(item);
      } else {
        const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string; path: string; details?: unknown } } | null;
        this.queue = this.queue.map((q) =>
          q.key === item.key
            ? {
                ...q,
                code: body?.error?.code ?? null,
                error: body?.error
                  ? errorText(new ApiError(res.status, body.error.code, body.error.message, body.error.path, body.error.details), 'report')
                  : `HTTP ${res.status}`,
              }
            : q,
        );
        await this.keep(this.queue.find((q) => q.key === item.key)!);
      }
    }
    if (done.length > 0) {
      this.notice = {
        kind: 'sent',
        n: done.length,
        km: done.reduce((m, q) => m + trackLength(q.track), 0) / 1000,
        visits: done.reduce((m, q) => m + q.visits.length, 0),
      };
      // (their visits are the households' 上次走访 now)
      if (this.householdsOf !== null) await this.loadHouseholds(this.householdsOf);
    }
  }
}
