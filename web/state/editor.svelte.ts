import booleanPointInPolygon from '@turf/boolean-point-in-polygon';
import type { InferResponseType } from 'hono/client';
import { api, ApiError, ok } from '../lib/api.ts';
import { errorText } from '../lib/errors.ts';
import { session } from './session.svelte.ts';
import type { LngLat } from '../draw/snap.ts';
import type { Explorer, RegionSummary } from './explorer.svelte.ts';

export type Tool = 'select' | 'draw' | 'edit' | 'split' | 'merge' | 'properties';
type Ring = LngLat[];
type Households = InferResponseType<(typeof api.regions)[':id']['households']['$get'], 200>;
export type Worker = InferResponseType<typeof api.workers.$get, 200>[number];

export interface Notice {
  kind: 'error' | 'conflict' | 'done';
  /** i18n key under `edit.done` or `edit.error`, with the server's own words as fallback. */
  key: string;
  text: string;
  /** For an overlap: offer to keep only the free part. */
  clip?: Ring[];
  /** Done: the grids the operation wrote, with their households (the panel says which are out of their range). */
  saved?: { name: string; households: number; gridType: string | null }[];
}

/**
 * The planner's editing session over one village: which tool is active, what is being drawn and
 * how many households it holds, and the operations, each saved as soon as it is complete.
 */
export class Editor {
  // Assigned in the constructor; the derived fields below only read them lazily.
  private readonly explorer!: Explorer;
  tool = $state<Tool>('select');
  mergeIds = $state<number[]>([]);
  sketch = $state.raw<Ring[] | null>(null);
  households = $state.raw<Households | null>(null);
  workers = $state.raw<Worker[]>([]);
  busy = $state(false);
  /** Called after every saved operation (e.g. to re-validate the village). */
  onSaved: () => void = () => {};
  notice = $state<Notice | null>(null);
  private householdsOf: number | null = null;

  constructor(explorer: Explorer) {
    Object.assign(this, { explorer });
  }

  /** The village being edited: the selection, or the village of a selected grid. */
  village = $derived.by(() => {
    const r = this.explorer.region;
    if (!r) return null;
    if (r.properties.level === 'village') return { id: r.id, name: r.properties.name };
    if (r.properties.level === 'grid') {
      const v = r.properties.ancestors.at(-1);
      return v ? { id: v.id, name: v.name } : null;
    }
    return null;
  });

  grid = $derived(this.explorer.region?.properties.level === 'grid' ? this.explorer.region : null);

  /** Households inside the polygon being drawn: a preview; the server's count is the truth. */
  liveCount = $derived.by(() => {
    if (!this.sketch || !this.households || (this.sketch[0]?.length ?? 0) < 4) return null;
    const polygon = { type: 'Polygon' as const, coordinates: this.sketch };
    return this.households.features.filter((h) => booleanPointInPolygon(h.geometry.coordinates, polygon)).length;
  });

  villageGrids = $derived.by((): RegionSummary[] => {
    const id = this.village?.id;
    return id ? (this.explorer.villageGrids?.features ?? []).filter((g) => g.properties.parentId === id) : [];
  });

  async loadContext(): Promise<void> {
    const id = this.village?.id ?? null;
    if (id === this.householdsOf) return;
    this.householdsOf = id;
    // Household locations only for the roles that may see them.
    // (none outside the area an account is given: it plans only there)
    this.households =
      id && session.can('households:read') ? await ok(api.regions[':id'].households.$get({ param: { id: String(id) } })).catch(() => null) : null;
    if (this.workers.length === 0 && session.can('plan:write')) await this.refreshWorkers();
  }

  /** The people who can be a grid's worker, with the grid each serves now (read again when the properties open: edits move them). */
  async refreshWorkers(): Promise<void> {
    this.workers = await ok(api.workers.$get({ query: { role: 'full_time' } }));
  }

  setTool(tool: Tool): void {
    this.tool = tool;
    this.sketch = null;
    if (tool !== 'merge') this.mergeIds = [];
  }

  toggleMerge(id: number): void {
    this.mergeIds = this.mergeIds.includes(id) ? this.mergeIds.filter((m) => m !== id) : [...this.mergeIds, id];
  }

  /** Runs one operation: saves it, applies the answer, and explains a refusal. */
  private async run(
    done: string,
    call: () => Promise<{ regions: never; removed: number[]; gapM2?: number } | { regions: unknown; removed: number[]; gapM2?: number }>,
    clip?: Ring[],
  ): Promise<boolean> {
    this.busy = true;
    this.notice = null;
    try {
      const result = (await call()) as { regions: Parameters<Explorer['applyEdit']>[0]['regions']; removed: number[]; gapM2?: number };
      await this.explorer.applyEdit(result);
      const gap = result.gapM2 && result.gapM2 > 1 ? ` (${Math.round(result.gapM2)} m²)` : '';
      const saved = (result.regions?.features ?? [])
        .filter((f) => f.properties.level === 'grid')
        .map((f) => ({ name: f.properties.name, households: f.properties.households, gridType: f.properties.gridType ?? null }));
      this.notice = { kind: 'done', key: done, text: gap, saved };
      this.householdsOf = null;
      await this.loadContext();
      this.onSaved();
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        this.notice = { kind: 'conflict', key: err.code, text: errorText(err, 'edit') };
      } else {
        const overlap = err instanceof ApiError && err.code === 'overlaps_siblings' && clip;
        this.notice = { kind: 'error', key: err instanceof ApiError ? err.code : 'internal', text: errorText(err, 'edit'), ...(overlap ? { clip } : {}) };
      }
      return false;
    } finally {
      this.busy = false;
    }
  }

  create(rings: Ring[], clip = false) {
    const village = this.village;
    if (!village) return Promise.resolve(false);
    return this.run(
      'create',
      () => ok(api.regions.$post({ json: { parentId: village.id, geometry: { type: 'Polygon', coordinates: rings }, clip } })),
      clip ? undefined : rings,
    );
  }

  reshape(rings: Ring[]) {
    const grid = this.grid;
    if (!grid) return Promise.resolve(false);
    return this.run('update', () =>
      ok(
        api.regions[':id'].$patch({
          param: { id: String(grid.id) },
          json: { version: grid.properties.version, geometry: { type: 'Polygon', coordinates: rings } },
        }),
      ),
    );
  }

  split(line: LngLat[]) {
    const grid = this.grid;
    if (!grid) return Promise.resolve(false);
    return this.run('split', () =>
      ok(
        api.regions[':id'].split.$post({
          param: { id: String(grid.id) },
          json: { version: grid.properties.version, line: { type: 'LineString', coordinates: line } },
        }),
      ),
    );
  }

  async merge() {
    const grids = this.villageGrids.filter((g) => this.mergeIds.includes(g.id));
    const ids = this.mergeIds.filter((id) => grids.some((g) => g.id === id));
    const versions = ids.map((id) => grids.find((g) => g.id === id)!.properties.version);
    const merged = await this.run('merge', () => ok(api.regions.merge.$post({ json: { ids, versions } })));
    if (merged) this.mergeIds = [];
    return merged;
  }

  saveProperties(changes: {
    name?: string;
    gridType?: RegionSummary['properties']['gridType'];
    workerId?: number | null;
    notes?: string;
    staff?: { workerId: number; role: string }[];
  }) {
    const grid = this.grid;
    if (!grid) return Promise.resolve(false);
    return this.run('properties', () =>
      ok(api.regions[':id'].$patch({ param: { id: String(grid.id) }, json: { version: grid.properties.version, ...changes } })),
    );
  }

  remove() {
    const grid = this.grid;
    if (!grid) return Promise.resolve(false);
    return this.run('delete', () => ok(api.regions[':id'].$delete({ param: { id: String(grid.id) }, query: { version: String(grid.properties.version) } })));
  }

  undo() {
    return this.run('undo', () => ok(api.changes.undo.$post({ query: {} })));
  }

  /** An import of one's own taken back by itself, also after later changes (refused in words when one builds on it). */
  undoImport(op: number) {
    return this.run('undo', () => ok(api.changes.undo.$post({ query: { op: String(op) } })));
  }

  redo() {
    return this.run('redo', () => ok(api.changes.redo.$post()));
  }

  /** After a conflict: drop local state and read the current plan. */
  async reload() {
    this.notice = null;
    this.explorer.reloadLayers();
    await this.explorer.select(this.explorer.region?.id ?? null, false);
  }
}
