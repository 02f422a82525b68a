import type { InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';
import { errorText } from '../lib/errors.ts';
import { router } from '../lib/router.svelte.ts';

/** A draft's states in which its copy of the plan is gone (as the server's `GONE`). */
const GONE = ['published', 'withdrawn', 'rejected'] as const;

export type DraftDetail = InferResponseType<(typeof api.drafts)[':id']['$get'], 200>;
export type DraftSummary = InferResponseType<typeof api.drafts.$get, 200>[number];
export type PlanVersion = InferResponseType<typeof api.versions.$get, 200>[number];
export type Comparison = InferResponseType<typeof api.compare.$get, 200>;

/**
 * The plan view's drafts: the list for the region in view, the one being worked on (its id is in
 * the address, `?draft=`, so a reviewer's link opens it), its review, and the published versions.
 */
export class Drafts {
  /** The version the last decision published (said on the live plan it went to). */
  publishedVersion = $state<number | null>(null);
  list = $state.raw<DraftSummary[]>([]);
  awaiting = $state.raw<DraftSummary[]>([]);
  versions = $state.raw<PlanVersion[]>([]);
  current = $state.raw<DraftDetail | null>(null);
  comparison = $state.raw<Comparison | null>(null);
  busy = $state(false);
  error = $state<string | null>(null);
  /** Conflicts a refused submission or approval named (the live plan changed under the draft). */
  conflicts = $state.raw<{ id: number; code: string; name: string }[]>([]);

  /** A draft a link named that is no longer there to open (its copy went when it was published, withdrawn or rejected). */
  gone = $state.raw<{ name: string; status: (typeof GONE)[number]; regionId: number } | null>(null);

  /** Whether the draft in view can be edited now. */
  editable = $derived(this.current?.status === 'editing');

  /** The region the lists were read for. */
  private listRegion: number | null = null;

  /** The drafts of a region (above or below it) and those awaiting the caller's decision. */
  async loadList(regionId: number | null): Promise<void> {
    this.listRegion = regionId;
    // (what was said of a draft a link named belongs to its region: gone with a move elsewhere)
    if (this.gone && regionId !== null && this.gone.regionId !== regionId) this.gone = null;
    try {
      const [list, awaiting, versions] = await Promise.all([
        ok(api.drafts.$get({ query: regionId ? { region: String(regionId), open: 'true' } : { open: 'true' } })),
        ok(api.drafts.$get({ query: { awaiting: 'me' } })),
        ok(api.versions.$get({ query: regionId ? { region: String(regionId), limit: '20' } : { limit: '20' } })),
      ]);
      this.list = list;
      this.awaiting = awaiting;
      this.versions = versions;
    } catch (err) {
      this.error = errorText(err);
    }
  }

  /** Reads the draft named in the address (or forgets it). */
  async load(id: number | null, keepMessages = false): Promise<void> {
    this.comparison = null;
    if (!keepMessages) this.conflicts = [];
    if (id === null) {
      this.current = null;
      return;
    }
    try {
      const d = await ok(api.drafts[':id'].$get({ param: { id: String(id) } }));
      if ((GONE as readonly string[]).includes(d.status)) {
        // published, withdrawn or not approved since the link was made (a notification, a bookmark): its copy is gone, so
        // the live plan of its region is shown, saying why
        this.current = null;
        this.gone = { name: d.name, status: d.status as (typeof GONE)[number], regionId: d.regionId };
        router.go('plan', d.regionId, null);
        return;
      }
      this.current = d;
      this.gone = null;
      router.markDraftRead(d.id);
      if (!keepMessages) this.error = null;
    } catch (err) {
      this.current = null;
      this.error = errorText(err);
      // a draft that is gone or not ours: back to the live plan
      router.go('plan', router.regionId, null);
    }
  }

  /** Opens a draft in the plan view (null: back to the live plan). */
  open(id: number | null, regionId: number | null = router.regionId): void {
    router.go('plan', regionId, id);
  }

  private async act<T>(fn: () => Promise<T>): Promise<T | null> {
    this.busy = true;
    this.error = null;
    this.conflicts = [];
    try {
      const done = await fn();
      // what awaits whom, and the versions, changed with it
      void this.loadList(this.listRegion);
      return done;
    } catch (err) {
      // the draft as it is now, with the refusal still shown beside it
      if (this.current) await this.load(this.current.id, true);
      this.error = errorText(err);
      const details = (err as { details?: { grids?: { id: number; code: string; name: string }[] } }).details;
      if (details?.grids) this.conflicts = details.grids;
      return null;
    } finally {
      this.busy = false;
    }
  }

  async create(regionId: number, name: string): Promise<void> {
    const made = await this.act(() => ok(api.drafts.$post({ json: { regionId, name } })));
    if (made) this.open(made.id, regionId);
  }

  async submit(note: string): Promise<void> {
    const d = this.current;
    if (!d) return;
    const done = await this.act(() => ok(api.drafts[':id'].submit.$post({ param: { id: String(d.id) }, json: { note, version: d.version } })));
    if (done) this.current = done;
  }

  /** A decision on the current step; true when it published the draft. */
  async review(decision: 'approve' | 'reject' | 'changes', comment: string, effectiveFrom: string | null): Promise<boolean> {
    const d = this.current;
    if (!d) return false;
    const done = await this.act(() =>
      ok(
        api.drafts[':id'].review.$post({
          param: { id: String(d.id) },
          json: { decision, comment, version: d.version, ...(effectiveFrom ? { effectiveFrom } : {}) },
        }),
      ),
    );
    if (!done) return false;
    this.current = done.draft;
    this.publishedVersion = done.status === 'published' ? done.versionId : null;
    return done.status === 'published';
  }

  async rebase(): Promise<{ fromLive: number; both: { code: string; name: string }[] } | null> {
    const d = this.current;
    if (!d) return null;
    const done = await this.act(() => ok(api.drafts[':id'].rebase.$post({ param: { id: String(d.id) } })));
    if (done) this.current = done.draft;
    return done;
  }

  async comment(text: string, gridId: number | null): Promise<void> {
    const d = this.current;
    if (!d) return;
    const done = await this.act(() => ok(api.drafts[':id'].comments.$post({ param: { id: String(d.id) }, json: { comment: text, gridId } })));
    if (done) this.current = done;
  }

  async withdraw(): Promise<void> {
    const d = this.current;
    if (!d) return;
    const done = await this.act(() => ok(api.drafts[':id'].$delete({ param: { id: String(d.id) } })));
    if (done) this.open(null);
  }

  /** A draft of the plan as it was before a version was published (that version taken back). */
  async rollback(versionId: number): Promise<void> {
    const made = await this.act(() => ok(api.versions[':id'].rollback.$post({ param: { id: String(versionId) }, json: { before: true } })));
    if (made) this.open(made.id, made.regionId);
  }

  /** The draft against today's plan, for the map and the table. */
  async compare(): Promise<Comparison | null> {
    const d = this.current;
    if (!d) return null;
    const c = await this.act(() => ok(api.compare.$get({ query: { region: String(d.regionId), a: 'live', b: `draft:${d.id}` } })));
    this.comparison = c;
    return c;
  }
}
