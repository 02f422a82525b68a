import type { InferResponseType } from 'hono/client';
import { api, ApiError, ok, withDraft } from '../lib/api.ts';
import { errorText } from '../lib/errors.ts';
import type { LngLat } from '../draw/snap.ts';

export type AutosplitResult = InferResponseType<(typeof api.regions)[':id']['autosplit']['$post'], 200>;
type Barriers = InferResponseType<typeof api.barriers.$get, 200>;
type GridType = NonNullable<Parameters<(typeof api.regions)[':id']['autosplit']['$post']>[0]['json']['gridType']>;

/**
 * The auto-split panel: settings, barriers (drawn or loaded), the running request with its
 * progress, and the proposal shown over the current grids until it is accepted or discarded.
 */
export class AutoSplit {
  open = $state(false);
  /** '' = each village's own type. */
  gridType = $state<GridType | ''>('');
  min = $state<number | null>(null);
  max = $state<number | null>(null);
  target = $state<number | null>(null);
  /** Straight borders where they keep every count in range (else between the houses). */
  straight = $state(true);
  barriers = $state.raw<LngLat[][]>([]);
  /** Roads, rivers and other lines imported for the region (GET /api/barriers), and whether the split cuts along them. */
  imported = $state.raw<Barriers | null>(null);
  importedFor = $state<number | null>(null);
  useImported = $state(true);
  /** Minimal change: keep the grids that meet their rule, divide only the rest. */
  rebalance = $state(false);
  /** Balance households + weighted incidents of the last 12 months, not households alone. */
  balanceWorkload = $state(false);
  incidentWeight = $state<number | null>(null);
  /** How far apart (m) a grid's households may lie; null: no limit. */
  maxWidthM = $state<number | null>(null);
  showBarriers = $state(true);
  drawing = $state(false);
  running = $state(false);
  progress = $state<{ done: number; total: number } | null>(null);
  startedAt = $state(0);
  result = $state.raw<AutosplitResult | null>(null);
  /** The region the proposal is for (accept re-runs it with commit). */
  regionId = $state<number | null>(null);
  error = $state<{ code: string; message: string; path: string } | null>(null);

  barrierCollection = $derived<GeoJSON.FeatureCollection>({
    type: 'FeatureCollection',
    features: [
      ...(this.imported && this.useImported ? (this.imported.features as GeoJSON.Feature[]) : []),
      ...this.barriers.map((coordinates): GeoJSON.Feature => ({
        type: 'Feature',
        properties: { class: 'drawn' },
        geometry: { type: 'LineString', coordinates },
      })),
    ],
  });

  /** The imported lines crossing the region (once per region). */
  async loadImported(regionId: number): Promise<void> {
    if (this.importedFor === regionId) return;
    this.importedFor = regionId;
    try {
      const fc = await ok(api.barriers.$get({ query: { regionId: String(regionId) } }));
      if (this.importedFor === regionId) this.imported = fc;
    } catch {
      this.imported = null; // the split still runs; the panel just shows no imported lines
    }
  }

  addBarrier(line: LngLat[]): void {
    this.barriers = [...this.barriers, line];
    this.drawing = false;
  }

  /** Lines from a GeoJSON file (roads, rivers…); other geometries are skipped, the count is returned. */
  loadBarriers(text: string): number {
    const doc = JSON.parse(text) as GeoJSON.GeoJSON;
    const lines: LngLat[][] = [];
    const take = (g: GeoJSON.Geometry | null) => {
      if (g?.type === 'LineString') lines.push(g.coordinates as LngLat[]);
      else if (g?.type === 'MultiLineString') lines.push(...(g.coordinates as LngLat[][]));
      else if (g?.type === 'GeometryCollection') g.geometries.forEach(take);
    };
    if (doc.type === 'FeatureCollection') doc.features.forEach((f) => take(f.geometry));
    else if (doc.type === 'Feature') take(doc.geometry);
    else take(doc);
    this.barriers = [...this.barriers, ...lines];
    return lines.length;
  }

  clearBarriers(): void {
    this.barriers = [];
  }

  private body(commit: boolean) {
    return {
      ...(this.gridType ? { gridType: this.gridType } : {}),
      ...(this.min !== null ? { min: this.min } : {}),
      ...(this.max !== null ? { max: this.max } : {}),
      ...(this.target !== null ? { target: this.target } : {}),
      ...(this.straight ? {} : { straight: false }),
      ...(this.useImported ? {} : { importedBarriers: false }),
      ...(this.rebalance ? { rebalance: true } : {}),
      ...(this.balanceWorkload ? { balanceWorkload: true } : { workload: true }),
      ...(this.incidentWeight !== null ? { incidentWeight: this.incidentWeight } : {}),
      ...(this.maxWidthM !== null ? { maxWidthM: this.maxWidthM } : {}),
      ...(this.barriers.length ? { barriers: { type: 'MultiLineString', coordinates: this.barriers } } : {}),
      commit,
    };
  }

  /** Runs the split (a proposal, or with `commit` the real thing), streaming progress per village. */
  async run(regionId: number, commit = false): Promise<AutosplitResult | null> {
    this.running = true;
    this.error = null;
    this.progress = null;
    this.startedAt = performance.now();
    try {
      // The typed client does not read streams: the NDJSON progress is read by hand, the result is typed.
      const res = await fetch(withDraft(`/api/regions/${regionId}/autosplit`, 'POST'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify(this.body(commit)),
      });
      if (!res.ok) {
        const body = (await res.json()) as { error: { code: string; message: string; path: string; details?: unknown } };
        throw new ApiError(res.status, body.error.code, body.error.message, body.error.path, body.error.details);
      }
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (value) buffer += value;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = JSON.parse(buffer.slice(0, nl)) as {
            progress?: { done: number; total: number };
            result?: AutosplitResult;
            error?: { code: string; message: string; path: string };
          };
          buffer = buffer.slice(nl + 1);
          if (line.progress) this.progress = line.progress;
          if (line.error) throw new ApiError(422, line.error.code, line.error.message, line.error.path);
          if (line.result) {
            this.regionId = regionId;
            this.result = commit ? null : line.result;
            return line.result;
          }
        }
        if (done) throw new ApiError(500, 'incomplete', 'the server closed the stream without a result', '');
      }
    } catch (err) {
      this.error = {
        code: err instanceof ApiError ? err.code : 'network',
        message: errorText(err, 'autosplit'),
        path: err instanceof ApiError ? err.path : '',
      };
      return null;
    } finally {
      this.running = false;
    }
  }

  discard(): void {
    this.result = null;
    this.error = null;
  }
}
