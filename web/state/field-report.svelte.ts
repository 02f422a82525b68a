import booleanPointInPolygon from '@turf/boolean-point-in-polygon';
import type { InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';
import { errorText } from '../lib/errors.ts';
import { placeOf, whereabouts } from '../lib/doors.ts';
import { Outbox, shrinkPhoto, type SendResult } from './outbox.svelte.ts';

export type Category = InferResponseType<(typeof api)['incident-categories']['$get'], 200>[number];
export type FieldIncident = InferResponseType<typeof api.field.incidents.$get, 200>['items'][number];
type GridFeature = InferResponseType<(typeof api.regions)[':id']['$get'], 200>;
/** What the form says: a message key (shown in the language of the moment), or a text already worded (the server's refusal). */
export type Notice = { kind: 'ok' | 'queued' | 'error'; text: string; key?: string; values?: Record<string, string | number> };

export const MAX_PHOTOS = 3;

/**
 * The grid worker's page: where they stand, what they report (kept in the outbox until it is
 * sent), and their grid's open cases with the departments' answers.
 */
export class FieldReport {
  readonly outbox: Outbox;
  /** The tab shown: 上报 unless the address names another (`?tab=patrol`, where /assessment sends a worker). */
  tab = $state<'report' | 'list' | 'patrol'>(FieldReport.tabOf(typeof location === 'undefined' ? '' : location.search));
  private static tabOf(search: string): 'report' | 'list' | 'patrol' {
    const tab = new URLSearchParams(search).get('tab');
    return tab === 'list' || tab === 'patrol' ? tab : 'report';
  }
  gridId = $state<number | null>(null);
  grid = $state.raw<GridFeature | null>(null);
  categories = $state.raw<Category[]>([]);
  incidents = $state.raw<FieldIncident[]>([]);
  listError = $state<string | null>(null);

  point = $state<[number, number] | null>(null);
  located = $state<'gps' | 'tap' | null>(null);
  locating = $state(false);
  category = $state<string | null>(null);
  /** 一般 unless the worker says otherwise: most reports are ordinary, and each step up shortens the deadlines. */
  severity = $state(1);
  description = $state('');
  /** 位置描述: the place in words a department can go by (a landmark, a door number), optional. */
  address = $state('');
  photos = $state<{ blob: Blob; url: string }[]>([]);
  notice = $state<Notice | null>(null);
  /** A step on a case is on its way (its button waits). */
  busy = $state(false);
  submitting = $state(false);

  /** Outside the worker's grid: flagged, not refused (a worker may report from next door). */
  readonly outside = $derived(this.point !== null && this.grid !== null && !booleanPointInPolygon(this.point, this.grid));
  /** The grid's doors (its households, by the own part of their address): where the point stands is said by the nearest. */
  doors = $state.raw<{ lon: number; lat: number; label: string }[]>([]);
  /** 距 银湾村12号 约 30 米, or 在本网格外约 120 米: where the point is, in words (coordinates only when neither can be said). */
  readonly whereabouts = $derived(whereabouts(this.point, this.grid as GeoJSON.Feature | null, this.doors, !this.outside));
  readonly canSubmit = $derived(this.point !== null && this.category !== null && !this.submitting && !this.outside);

  constructor(
    username: string,
    readonly gridIds: number[],
  ) {
    this.outbox = new Outbox(username);
    this.gridId = gridIds[0] ?? null;
  }

  /** The names of the worker's grids, for the picker when they staff more than one (not their ids). */
  gridNames = $state<Record<number, string>>({});

  async open(): Promise<void> {
    await this.outbox.open();
    this.categories = await ok(api['incident-categories'].$get());
    if (this.gridIds.length > 1) {
      const named = await Promise.all(
        this.gridIds.map((id) =>
          ok(api.regions[':id'].$get({ param: { id: String(id) }, query: {} }))
            .then((g) => [id, g.properties.name] as const)
            .catch(() => null),
        ),
      );
      this.gridNames = Object.fromEntries(named.filter((n) => n !== null));
    }
  }

  close(): void {
    this.outbox.close();
  }

  async loadGrid(id: number): Promise<void> {
    const [grid, households] = await Promise.all([
      ok(api.regions[':id'].$get({ param: { id: String(id) }, query: {} })).catch(() => null),
      ok(api.field.households.$get({ query: { grid: String(id) } })).catch(() => []),
    ]);
    this.grid = grid;
    // (the village or road named with the number: 银湾村51号, not a bare 51号)
    this.doors = households.map((h) => ({ lon: h.lon, lat: h.lat, label: placeOf(h.address) }));
  }

  /** The list shown: the grid's open cases (本网格待办), or what this worker reported (我的上报), closed and invalid ones too. */
  listMode = $state<'open' | 'mine'>('open');
  mine = $state.raw<FieldIncident[] | null>(null);

  async loadList(): Promise<void> {
    try {
      if (this.listMode === 'mine') this.mine = (await ok(api.field.incidents.$get({ query: { mine: 'true' } }))).items;
      this.incidents = (await ok(api.field.incidents.$get({ query: {} }))).items;
      this.listError = null;
    } catch (e) {
      this.listError = errorText(e);
    }
  }

  async showMine(on: boolean): Promise<void> {
    this.listMode = on ? 'mine' : 'open';
    if (on) await this.loadList();
  }

  pick(p: [number, number], how: 'gps' | 'tap'): void {
    this.point = p;
    this.located = how;
  }

  /** The phone's position, or a notice saying why not. */
  locate(messages: { unsupported: string; failed: string }): void {
    if (!navigator.geolocation) {
      this.notice = { kind: 'error', text: messages.unsupported };
      return;
    }
    // (a fresh fix: pressed again after walking, a fix of a minute ago would put the case where the worker was)
    this.locating = true;
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        this.pick([Number(pos.coords.longitude.toFixed(7)), Number(pos.coords.latitude.toFixed(7))], 'gps');
        this.locating = false;
      },
      () => {
        this.locating = false;
        this.notice = { kind: 'error', text: messages.failed };
      },
      { enableHighAccuracy: true, timeout: 15_000, maximumAge: 0 },
    );
  }

  async addPhotos(files: File[]): Promise<void> {
    for (const f of files.slice(0, MAX_PHOTOS - this.photos.length)) {
      const blob = await shrinkPhoto(f);
      this.photos.push({ blob, url: URL.createObjectURL(blob) });
    }
  }

  removePhoto(i: number): void {
    URL.revokeObjectURL(this.photos[i]!.url);
    this.photos.splice(i, 1);
  }

  /** Into the outbox, and sent at once when the network lets it: the form empties either way. */
  async submit(messages: { sent: string; sentNo: string; queued: string; failed: string; sending: string; later: string }): Promise<void> {
    if (!this.point || !this.category) return;
    this.submitting = true;
    this.notice = null;
    try {
      const {
        result,
        done,
        key: sentKey,
      } = await this.outbox.add(
        {
          lon: this.point[0],
          lat: this.point[1],
          category: this.category,
          severity: this.severity,
          description: this.description.trim(),
          ...(this.address.trim() ? { address: this.address.trim() } : {}),
          reportedAt: new Date().toISOString(),
        },
        this.photos.map((p) => p.blob),
      );
      if (result === 'failed') {
        this.notice = { kind: 'error', text: this.outbox.items.at(-1)?.error ?? messages.failed };
        return;
      }
      const said = (r: SendResult): Notice => {
        const key = r === 'sent' ? messages.sent : r === 'sending' ? messages.sending : this.outbox.online ? messages.later : messages.queued;
        // (sent: with the case number it got, to find it again in 我的上报 or to quote on the phone)
        const id = r === 'sent' ? this.outbox.idOf(sentKey) : undefined;
        return id === undefined ? { kind: r === 'sent' ? 'ok' : 'queued', text: key, key } : { kind: 'ok', text: key, key: messages.sentNo, values: { id } };
      };
      const notice = said(result);
      this.notice = notice;
      // a slow line: the notice follows the report once it has gone (unless something else was said since)
      if (result === 'sending')
        void done.then(
          (r) =>
            this.notice === notice &&
            (this.notice = r === 'failed' ? { kind: 'error', text: this.outbox.items.find((i) => i.error)?.error ?? messages.failed } : said(r)),
        );
      for (const p of this.photos) URL.revokeObjectURL(p.url);
      this.photos = [];
      this.description = '';
      this.address = '';
      this.category = null;
      this.severity = 1;
    } finally {
      this.submitting = false;
    }
  }

  /** Closes a case the departments answered, with the household's feedback. */
  async closeCase(incident: FieldIncident, feedback: string, satisfaction?: 'satisfied' | 'basically' | 'unsatisfied'): Promise<boolean> {
    // (one tap sends one step: a second while the first is on its way would be refused as stale)
    if (this.busy) return false;
    this.busy = true;
    try {
      await ok(
        api.incidents[':id'].$patch({
          param: { id: String(incident.id) },
          json: { status: 'closed', feedback, version: incident.version, ...(satisfaction ? { satisfaction } : {}) },
        }),
      );
      await this.loadList();
      return true;
    } catch (e) {
      this.listError = errorText(e);
      return false;
    } finally {
      this.busy = false;
    }
  }

  /** 就地解决: a case nobody was sent to, resolved where it happened, with what was done. */
  async solveOnSpot(incident: FieldIncident, note: string): Promise<boolean> {
    // (one tap sends one step: a second while the first is on its way would be refused as stale)
    if (this.busy) return false;
    this.busy = true;
    try {
      await ok(
        api.incidents[':id'].$patch({ param: { id: String(incident.id) }, json: { status: 'resolved', onSpot: true, note, version: incident.version } }),
      );
      await this.loadList();
      return true;
    } catch (e) {
      this.listError = errorText(e);
      return false;
    } finally {
      this.busy = false;
    }
  }

  categoryName(code: string, name: (c: Category) => string): string {
    const c = this.categories.find((k) => k.code === code);
    return c ? name(c) : code;
  }
}
