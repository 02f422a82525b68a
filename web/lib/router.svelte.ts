import type { Capability } from '../../server/domain/roles.ts';

/** A small history-API router: the path picks the view, `?region=` the selected region. */
export const VIEWS = ['plan', 'analyze', 'screen', 'center', 'assessment', 'report', 'dispatch', 'import', 'settings', 'print', 'help'] as const;
export type View = (typeof VIEWS)[number];
/** What a role needs to open each view (any of them). */
export const VIEW_CAPABILITY: Record<View, Capability | Capability[]> = {
  plan: 'plan:read',
  analyze: 'incidents:read',
  screen: 'incidents:read',
  report: 'incidents:report',
  // a department's queue; the centre's view of every department's, where it decides on more time;
  // a leader's, read-only, where an escalation notice opens its case
  dispatch: ['dispatch:answer', 'dispatch:manage', 'dispatch:read'],
  // 综治中心: the intake and its routing
  center: 'dispatch:manage',
  // 考核: the month's ranking of grid workers (leaders, the centre, analysts, admins)
  assessment: 'incidents:read',
  import: 'plan:write',
  settings: 'users:admin',
  print: 'plan:read',
  help: 'plan:read',
};
/**
 * Where a role lands when the address names no view: a grid worker on the phone page, a department on its queue, an analyst
 * on the analysis, a leader on the wall display.
 */
export const HOME: Partial<Record<string, View>> = { worker: 'report', department: 'dispatch', center: 'center', analyst: 'analyze', leader: 'screen' };

const positive = (s: string | null) => {
  const n = Number(s);
  return Number.isInteger(n) && n > 0 ? n : null;
};

function parse(): { view: View; regionId: number | null; draftId: number | null } {
  const segment = location.pathname.split('/').filter(Boolean)[0] ?? 'plan';
  const view = (VIEWS as readonly string[]).includes(segment) ? (segment as View) : 'plan';
  const query = new URLSearchParams(location.search);
  return { view, regionId: positive(query.get('region')), draftId: view === 'plan' ? positive(query.get('draft')) : null };
}

class Router {
  view = $state<View>('plan');
  regionId = $state<number | null>(null);
  /** The draft the plan view works on (`?draft=`), null for the live plan. */
  draftId = $state<number | null>(null);
  /** The draft last read and found with its copy (by the plan view's drafts). */
  private draftRead: number | null = null;
  private waiting: (() => void)[] = [];

  constructor() {
    this.sync();
    addEventListener('popstate', () => this.sync());
  }

  private sync() {
    const { view, regionId, draftId } = parse();
    this.view = view;
    this.regionId = regionId;
    this.draftId = draftId;
    this.release();
  }

  /**
   * Resolves once the draft in the address has been read and found with its copy, or left: until then nothing
   * is asked of it. A link to a draft published or withdrawn since (a notification, a bookmark) names a copy that
   * is gone, and every read of it would be refused before the page learnt so.
   */
  draftReady(): Promise<void> {
    if (this.draftId === null || this.draftRead === this.draftId) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The plan view read this draft: it has its copy. */
  markDraftRead(id: number): void {
    this.draftRead = id;
    this.release();
  }

  private release(): void {
    if (this.draftId !== null && this.draftRead !== this.draftId) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  /** Whether the address named a view. */
  get explicit(): boolean {
    return location.pathname.split('/').filter(Boolean).length > 0;
  }

  /** Shows `view` in place of the current address (no new history entry). */
  replace(view: View) {
    history.replaceState(null, '', `/${view}${location.search}`);
    this.view = view;
  }

  go(view: View, regionId: number | null = this.regionId, draftId: number | null = view === 'plan' ? this.draftId : null, replace = false) {
    const query = new URLSearchParams();
    if (regionId) query.set('region', String(regionId));
    if (draftId && view === 'plan') query.set('draft', String(draftId));
    const url = `/${view}${query.size ? `?${query}` : ''}`;
    if (url !== location.pathname + location.search) history[replace ? 'replaceState' : 'pushState'](null, '', url);
    this.view = view;
    this.regionId = regionId;
    this.draftId = view === 'plan' ? draftId : null;
    this.release();
  }
}

export const router = new Router();
