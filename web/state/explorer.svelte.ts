import type { InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';
import { errorText } from '../lib/errors.ts';
import { router } from '../lib/router.svelte.ts';

export type RegionFeature = InferResponseType<(typeof api.regions)[':id']['$get'], 200>;
export type RegionCollection = InferResponseType<(typeof api.regions)[':id']['children']['$get'], 200>;
export type RegionSummary = RegionCollection['features'][number];

/**
 * The map's layers of a district: vector tiles the server cuts (townships, villages, grids), asked
 * with `tiles` — the plan in view (a day, a draft) and a version each edit bumps, so the map asks
 * again for the tiles it holds (the server answers those the edit did not touch from its cache).
 */
export interface DistrictLayers {
  districtId: number;
  tiles: string;
}

/** A tile layer's URL template, absolute as MapLibre wants it. */
export const tileUrl = (layer: 'district' | 'township' | 'village' | 'grid' | 'households', query: string) =>
  `${location.origin}/api/tiles/${layer}/{z}/{x}/{y}.mvt${query}`;

const EMPTY: RegionCollection = { type: 'FeatureCollection', features: [] };

/** What the planner is looking at: the selected region, its children, and the district's layers for the map. */
export class Explorer {
  region = $state.raw<RegionFeature | null>(null);
  children = $state.raw<RegionCollection>(EMPTY);
  layers = $state.raw<DistrictLayers | null>(null);
  /** The grids of the village in view (the selection, or the selected grid's village): what the editor works on. */
  villageGrids = $state.raw<RegionCollection | null>(null);
  loading = $state(false);
  /** The plan holds no region at all (a county's first start, before its outline is imported). */
  empty = $state(false);
  error = $state<string | null>(null);
  /** Bumped on every selection so the map knows to move even when re-selecting. */
  selection = $state(0);
  /** The plan as it stood at the end of this day (YYYY-MM-DD), read-only; null: the live plan. */
  asOf = $state<string | null>(null);

  private get query(): { asOf?: string } {
    return this.asOf ? { asOf: this.asOf } : {};
  }

  /** Shows the plan as it stood on a day (null: now): the selection and the map's layers are read again. */
  /** Shows the plan of a past day (null: today's); a day it cannot show is said, and the view stays as it was. */
  async setAsOf(date: string | null): Promise<string | null> {
    const id = this.region?.id;
    if (date !== null && id !== undefined) {
      // asked first: a day before the history began (or before the region was) leaves the view as it is
      try {
        await ok(api.regions[':id'].$get({ param: { id: String(id) }, query: { asOf: date } }));
      } catch (err) {
        return errorText(err);
      }
    }
    this.asOf = date;
    this.layers = null;
    await this.select(id ?? null, false);
    return null;
  }

  districtId = $derived(this.region ? (this.region.properties.ancestors[0]?.id ?? this.region.id) : null);

  /** The latest selection asked for: an older answer arriving after a newer one is dropped. */
  private asked = 0;

  /** Selects a region by id, or the first district when `id` is null. */
  async select(id: number | null, move = true): Promise<void> {
    const ask = ++this.asked;
    this.loading = true;
    this.error = null;
    try {
      const target = id ?? (await ok(api.regions.$get({ query: {} }))).features[0]?.id;
      if (target === undefined) {
        this.region = null;
        this.children = EMPTY;
        this.empty = true;
        return;
      }
      this.empty = false;
      const param = { id: String(target) };
      const query = this.query;
      const [region, children] = await Promise.all([ok(api.regions[':id'].$get({ param, query })), ok(api.regions[':id'].children.$get({ param, query }))]);
      const level = region.properties.level;
      const village = level === 'grid' ? region.properties.parentId : null;
      const grids =
        level === 'village' ? children : village !== null ? await ok(api.regions[':id'].children.$get({ param: { id: String(village) }, query })) : null;
      if (ask !== this.asked) return;
      this.region = region;
      this.children = children;
      this.villageGrids = grids;
      if (move) this.selection++;
      const districtId = region.properties.ancestors[0]?.id ?? region.id;
      if (this.layers?.districtId !== districtId) this.loadLayers(districtId);
    } catch (err) {
      // (an older selection's failure does not cover a newer one)
      if (ask === this.asked) this.error = errorText(err);
    } finally {
      if (ask === this.asked) this.loading = false;
    }
  }

  /** Applies an edit's answer to the map's layers without reloading them, then refreshes the selection. */
  async applyEdit(result: { regions: RegionCollection; removed: number[] }): Promise<void> {
    this.reloadLayers();
    const current = this.region;
    if (!current) return;
    // A removed selection falls back to its parent.
    const stillThere = !result.removed.includes(current.id);
    await this.select(stillThere ? current.id : (current.properties.parentId ?? null), false);
  }

  /** Reads the selection and the map's layers again: another plan (a draft, or back to the live one) is in view. */
  async reload(id: number | null = this.region?.id ?? null): Promise<void> {
    this.layers = null;
    // another place than the one shown (a notice opening a draft of a village): the map goes there — this answer may be the
    // only one, an earlier selection's being dropped as older
    await this.select(id, id !== null && id !== this.region?.id);
  }

  /** The plan changed (an edit, an accepted auto-split, an undo): the map asks for its tiles again. */
  reloadLayers(): void {
    if (this.layers) this.loadLayers(this.layers.districtId);
  }

  private version = 0;

  private loadLayers(districtId: number): void {
    const q = new URLSearchParams({ ...this.query, ...(router.view === 'plan' && router.draftId !== null ? { draft: String(router.draftId) } : {}) });
    q.set('v', String(++this.version));
    this.layers = { districtId, tiles: `?${q}` };
  }
}
