import type { InferRequestType, InferResponseType } from 'hono/client';
import { api, ApiError, ok } from '../lib/api.ts';
import { bundleFiles } from '../lib/bundle-files.ts';
import { errorText } from '../lib/errors.ts';

export type ImportJob = InferResponseType<(typeof api.imports)[':id']['$get'], 200>;
export type ImportLayer = ImportJob['layers'][number];
export type ImportPlan = InferResponseType<(typeof api.imports)[':id']['plan']['$post'], 200>;
export type ImportOutcome = ImportPlan['outcome'];
type PlanBody = InferRequestType<(typeof api.imports)[':id']['plan']['$post']>['json'];
export type ImportKind = PlanBody['kind'];
export type Fields = NonNullable<PlanBody['fields']>;
export type FieldRole = keyof Fields;

/** The roles each kind reads, as the server's KIND_ROLES has them (the wizard shows one picker each). */
export const KIND_FIELDS: Record<ImportKind, FieldRole[]> = {
  boundary: ['name', 'code', 'statCode'],
  grid: ['name', 'code', 'statCode', 'gridType'],
  household: ['lon', 'lat', 'address', 'size', 'head', 'phone'],
  incident: ['lon', 'lat', 'address', 'category', 'severity', 'time', 'description'],
  staff: ['person', 'phone', 'role', 'grid'],
  barrier: ['name', 'barrierClass'],
  department: ['name', 'code', 'nameEn', 'contact', 'phone'],
};
export const KINDS: ImportKind[] = ['boundary', 'grid', 'household', 'incident', 'staff', 'barrier', 'department'];

export type Step = 'upload' | 'layer' | 'report' | 'done';

/**
 * The import wizard: a file goes up (with progress), the clerk picks a layer, says what it is and
 * which field holds what, checks the report (nothing written yet), and commits — one operation,
 * undone with one click.
 */
/** The last import's result, kept for the tab's session: back from 在规划中查看, the result and its 撤销 are there still. */
const KEPT = 'gridplan.importDone';
const KEPT_FOR_MS = 2 * 3600_000;

export class ImportWizard {
  step = $state<Step>('upload');
  job = $state.raw<ImportJob | null>(null);
  layer = $state<string | null>(null);
  kind = $state<ImportKind>('boundary');
  /** What the clerk came to bring in, when the page was opened for it (设置 › 部门 → /import?kind=department): taken for a table without shapes. */
  expected = $state<'department' | null>(null);
  fields = $state<Fields>({});
  crs = $state<string | null>(null);
  repair = $state(false);
  /** Boundaries that are districts themselves, under nothing. */
  topLevel = $state(false);
  /** A department list's region: the county (or city, or township) its new departments serve; null: the whole plan. */
  departmentRegion = $state<number | null>(null);
  clip = $state(false);
  /** Grids: in place of the grids of the villages they go into (a revised layer). */
  replace = $state(false);
  /** Households: the list's heads and phones over those grid workers corrected by hand (else those are kept). */
  overwriteCorrected = $state(false);
  /** Boundaries: those naming a region already there give it their outline (official 村界 over drawn ones). */
  update = $state(false);
  /** With `update`: the grids below fitted to the new outlines (贴合边界), in the same operation. */
  fit = $state(true);
  /** Incidents: the file's own category names the clerk said are ours (占道经营 → market). */
  categories = $state<Record<string, string>>({});
  /**
   * Boundaries: the level they are at when deeper than the target's next (a county's villages given
   * the district: each goes into the township holding it); null: the next level.
   */
  level = $state<'township' | 'village' | null>(null);
  plan = $state.raw<ImportPlan | null>(null);
  result = $state.raw<ImportOutcome | null>(null);
  /** Bytes sent of the upload, or rows of the commit. */
  progress = $state<{ done: number; total: number; stage: string } | null>(null);
  busy = $state(false);
  error = $state<string | null>(null);
  undone = $state(false);
  /** Rows placed on the map by hand (row index → lon/lat), sent with every check and the commit. */
  places = $state<Record<string, [number, number]>>({});
  /** The row the next click on the map places, if any. */
  placing = $state<number | null>(null);
  private parentId: number | null = null;
  /** The request the report answers: a change of kind, fields, system or options since then makes it stale. */
  private checked = $state<string | null>(null);

  /** Whether the report on screen no longer answers what the wizard would send (the commit waits for a new check). */
  stale(parentId: number | null): boolean {
    return this.plan !== null && this.layer !== null && this.checked !== JSON.stringify(this.body(parentId));
  }

  get current(): ImportLayer | null {
    return this.job?.layers.find((l) => l.name === this.layer) ?? null;
  }

  private fail(err: unknown): void {
    this.error = errorText(err, 'import');
  }

  /** Sends a file (several chosen at once, a Shapefile's parts, go as one zip); XHR, because fetch cannot tell how much of a request has gone. */
  async upload(files: File | File[]): Promise<void> {
    this.reset();
    this.busy = true;
    const list = Array.isArray(files) ? files : [files];
    this.progress = { done: 0, total: 0, stage: list.length > 1 ? 'bundling' : 'upload' };
    try {
      const file = await bundleFiles(list);
      this.progress = { done: 0, total: file.size, stage: 'upload' };
      const job = await new Promise<ImportJob>((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', '/api/imports');
        xhr.setRequestHeader('content-type', 'application/octet-stream');
        xhr.setRequestHeader('x-file-name', encodeURIComponent(file.name));
        xhr.upload.onprogress = (e) => (this.progress = { done: e.loaded, total: e.total || file.size, stage: 'upload' });
        xhr.upload.onload = () => (this.progress = { done: file.size, total: file.size, stage: 'reading' });
        xhr.onerror = () => reject(new TypeError('network'));
        xhr.onload = () => {
          const body = JSON.parse(xhr.responseText || '{}') as ImportJob & { error?: { code: string; message: string; path: string; details?: unknown } };
          if (xhr.status >= 400 || body.error) {
            const e = body.error ?? { code: 'http_error', message: `HTTP ${xhr.status}`, path: '' };
            reject(new ApiError(xhr.status, e.code, e.message, e.path, e.details));
          } else resolve(body);
        };
        xhr.send(file);
      });
      this.job = job;
      this.step = 'layer';
      if (job.layers.length === 1) this.chooseLayer(job.layers[0]!.name);
    } catch (err) {
      this.fail(err);
    } finally {
      this.busy = false;
      this.progress = null;
    }
  }

  chooseLayer(name: string): void {
    this.layer = name;
    this.kind = this.expected === 'department' && !this.current?.geometryType ? 'department' : (this.current?.kind ?? 'boundary');
    // a layer that names its level (GridPlan's own export): villages given the district go each into the township holding it
    const levels = this.current?.levels ?? [];
    this.level = levels.some((v) => /^(village|村社区)$/.test(v)) ? 'village' : levels.some((v) => /^(township|乡镇街道)$/.test(v)) ? 'township' : null;
    this.fields = {};
    this.places = {};
    this.placing = null;
    this.crs = null;
    this.plan = null;
    this.error = null;
  }

  setKind(kind: ImportKind): void {
    this.kind = kind;
    this.fields = {};
    this.categories = {};
    this.places = {};
    this.placing = null;
    this.plan = null;
  }

  private body(parentId: number | null, partial = false): PlanBody {
    const fields = Object.keys(this.fields).length ? this.fields : undefined;
    return {
      layer: this.layer!,
      kind: this.kind,
      // (a department list is no region's content: its region is the one chosen for it, not the plan's selection)
      parentId: this.kind === 'department' ? this.departmentRegion : this.topLevel && this.kind === 'boundary' ? null : parentId,
      ...(fields ? { fields } : {}),
      crs: this.crs,
      repair: this.repair,
      clip: this.clip,
      ...(this.kind === 'grid' && this.replace ? { replace: true } : {}),
      ...(this.kind === 'boundary' && this.update ? { update: true, ...(this.fit ? { fit: true } : {}) } : {}),
      ...(this.kind === 'household' && this.overwriteCorrected ? { overwriteCorrected: true } : {}),
      ...(this.kind === 'incident' && Object.keys(this.categories).length > 0 ? { categories: this.categories } : {}),
      ...(this.kind === 'boundary' && !this.topLevel && this.level ? { level: this.level } : {}),
      partial,
      ...(Object.keys(this.places).length > 0 ? { places: this.places } : {}),
    };
  }

  /** The places the last check was made with (rows placed since are drawn, not yet checked). */
  get checkedPlaces(): Record<string, [number, number]> {
    return this.checked ? ((JSON.parse(this.checked) as { places?: Record<string, [number, number]> }).places ?? {}) : {};
  }

  /**
   * Puts the row being placed where the clerk clicked, and goes on to the next row to place (`next`,
   * in the report's order), so that a run of rows is placed click after click. One check afterwards
   * takes them all: a check per row took some 12 s each on a township's list.
   */
  place(lngLat: [number, number], next: number[] = []): void {
    if (this.placing === null) return;
    this.places = { ...this.places, [String(this.placing)]: lngLat };
    const after = next.indexOf(this.placing);
    const rest = [...next.slice(after + 1), ...next.slice(0, Math.max(0, after))];
    this.placing = rest.find((i) => !(String(i) in this.places)) ?? null;
  }

  /** Forgets the rows placed by hand, and checks again. */
  async clearPlaces(): Promise<void> {
    this.places = {};
    this.placing = null;
    await this.check(this.parentId);
  }

  /** The report: what a commit would do, written nowhere. The fields the server guessed become the clerk's to change. */
  async check(parentId: number | null): Promise<void> {
    if (!this.job || !this.layer) return;
    this.parentId = parentId;
    this.busy = true;
    this.error = null;
    try {
      this.plan = await ok(api.imports[':id'].plan.$post({ param: { id: this.job.id }, json: this.body(parentId) }));
      this.fields = { ...this.plan.fields };
      this.checked = JSON.stringify(this.body(parentId));
      this.step = 'report';
    } catch (err) {
      // a report of other settings must not stay on screen beside the error
      this.plan = null;
      this.checked = null;
      this.fail(err);
    } finally {
      this.busy = false;
    }
  }

  /** Commits, reading the NDJSON progress by hand (the typed client does not read streams). */
  async commit(parentId: number | null, partial: boolean): Promise<void> {
    if (!this.job || !this.layer || this.stale(parentId)) return;
    this.busy = true;
    this.error = null;
    this.progress = { done: 0, total: this.plan?.outcome.total ?? 0, stage: 'checking' };
    try {
      const res = await fetch(`/api/imports/${this.job.id}/commit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify(this.body(parentId, partial)),
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
            progress?: { stage: string; rows: number; total: number };
            result?: ImportOutcome;
            error?: { code: string; message: string; path: string; details?: unknown };
          };
          buffer = buffer.slice(nl + 1);
          if (line.progress) this.progress = { done: line.progress.rows, total: line.progress.total, stage: line.progress.stage };
          if (line.error) throw new ApiError(422, line.error.code, line.error.message, line.error.path, line.error.details);
          if (line.result) {
            this.result = line.result;
            this.step = 'done';
            this.keep();
            return;
          }
        }
        if (done) throw new ApiError(500, 'incomplete', 'the server closed the stream without a result', '');
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.busy = false;
      this.progress = null;
    }
  }

  /** Takes the import back: the operation it recorded, as the plan view's undo would. */
  /** An undo under way (a county's households take some seconds): said on its button. */
  undoing = $state(false);

  async undo(): Promise<void> {
    this.busy = true;
    this.undoing = true;
    this.error = null;
    try {
      // this import only, even after later changes of the clerk's (refused, not undone in its place, when one builds on it)
      const op = this.result?.op;
      // a department list is a settings change, undone from the settings log
      const change = this.result?.departments?.change;
      if (change) await ok(api.settings.changes[':id'].undo.$post({ param: { id: String(change) } }));
      else await ok(api.changes.undo.$post({ query: op ? { op: String(op) } : {} }));
      this.undone = true;
      this.keep();
    } catch (err) {
      this.fail(err);
    } finally {
      this.busy = false;
      this.undoing = false;
    }
  }

  async discard(): Promise<void> {
    const id = this.job?.id;
    this.reset();
    if (id) await api.imports[':id'].$delete({ param: { id } }).catch(() => {});
  }

  /** The result as it stands (taken back or not), for a page opened again in this tab. */
  keep(): void {
    if (this.step !== 'done' || !this.result) return;
    try {
      const result = { ...this.result, located: undefined, problems: this.result.problems.slice(0, 200) };
      sessionStorage.setItem(KEPT, JSON.stringify({ at: Date.now(), result, undone: this.undone, job: this.job, kind: this.kind }));
      // (this page of the tab's history only: come back to it, the result is here; /import opened anew starts afresh)
      history.replaceState({ ...((history.state as object | null) ?? {}), importDone: true }, '');
    } catch {
      // (private mode, or full: the result stays on this page only)
    }
  }

  /** Opened again after an import in this tab (within two hours): its result, with 撤销 while it stands. */
  restore(): boolean {
    if (!(history.state as { importDone?: boolean } | null)?.importDone) return false;
    try {
      const kept = JSON.parse(sessionStorage.getItem(KEPT) ?? 'null') as {
        at: number;
        result: ImportOutcome;
        undone: boolean;
        job: ImportJob | null;
        kind: ImportKind;
      } | null;
      if (!kept || Date.now() - kept.at > KEPT_FOR_MS) return false;
      this.result = kept.result;
      this.undone = kept.undone;
      this.job = kept.job;
      this.kind = kept.kind;
      this.step = 'done';
      return true;
    } catch {
      return false;
    }
  }

  reset(): void {
    try {
      sessionStorage.removeItem(KEPT);
    } catch {
      // (nothing kept)
    }
    this.step = 'upload';
    this.job = null;
    this.layer = null;
    this.fields = {};
    this.crs = null;
    // the options were for the last file: a new one starts without them (a replace ticked for one
    // layer of grids must never carry over to the next file unseen)
    this.repair = false;
    this.clip = false;
    this.replace = false;
    this.update = false;
    this.fit = true;
    this.overwriteCorrected = false;
    this.categories = {};
    this.level = null;
    this.topLevel = false;
    this.plan = null;
    this.result = null;
    this.error = null;
    this.undone = false;
    this.places = {};
    this.placing = null;
  }
}
