import type { Capability } from '../../server/domain/roles.ts';

/** A small history-API router: the path picks the view, `?region=` the selected region. */
export const VIEWS = ['plan', 'analyze', 'screen'] as const;
export type View = (typeof VIEWS)[number];
/** What a role needs to open each view. */
export const VIEW_CAPABILITY: Record<View, Capability> = { plan: 'plan:read', analyze: 'incidents:read', screen: 'incidents:read' };

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

  go(view: View, regionId: number | null = this.regionId) {
    const url = `/${view}${regionId ? `?region=${regionId}` : ''}`;
    if (url !== location.pathname + location.search) history.pushState(null, '', url);
    this.view = view;
    this.regionId = regionId;
  }
}

export const router = new Router();
