import type { Capability } from '../../server/domain/roles.ts';

/** A small history-API router: the path picks the view, `?region=` the selected region. */
export const VIEWS = ['plan', 'analyze', 'screen', 'report', 'dispatch', 'import', 'settings', 'print'] as const;
export type View = (typeof VIEWS)[number];
/** What a role needs to open each view. */
export const VIEW_CAPABILITY: Record<View, Capability> = {
  plan: 'plan:read',
  analyze: 'incidents:read',
  screen: 'incidents:read',
  report: 'incidents:report',
  dispatch: 'dispatch:answer',
  import: 'plan:write',
  settings: 'users:admin',
  print: 'plan:read',
};
/** Where a role lands when the address names no view: a grid worker on the phone page, a department on its queue. */
export const HOME: Partial<Record<string, View>> = { worker: 'report', department: 'dispatch' };

function parse(): { view: View; regionId: number | null } {
  const segment = location.pathname.split('/').filter(Boolean)[0] ?? 'plan';
  const view = (VIEWS as readonly string[]).includes(segment) ? (segment as View) : 'plan';
  const region = Number(new URLSearchParams(location.search).get('region'));
  return { view, regionId: Number.isInteger(region) && region > 0 ? region : null };
}

class Router {
  view = $state<View>('plan');
  regionId = $state<number | null>(null);

  constructor() {
    this.sync();
    addEventListener('popstate', () => this.sync());
  }

  private sync() {
    const { view, regionId } = parse();
    this.view = view;
    this.regionId = regionId;
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

  go(view: View, regionId: number | null = this.regionId) {
    const url = `/${view}${regionId ? `?region=${regionId}` : ''}`;
    if (url !== location.pathname + location.search) history.pushState(null, '', url);
    this.view = view;
    this.regionId = regionId;
  }
}

export const router = new Router();
