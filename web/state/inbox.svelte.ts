import type { InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';
import { router, type View } from '../lib/router.svelte.ts';
import { session } from './session.svelte.ts';

export type Notice = InferResponseType<typeof api.notifications.$get, 200>['items'][number];

/** How often the bell asks, while the page is visible. */
const EVERY_MS = 30_000;

/**
 * The signed-in account's inbox (command centre issue §4): the newest notifications and the unread
 * count, asked for every half minute while the page is visible and whenever it comes back into
 * view. Opening one marks it read and goes where it can be acted on.
 */
class Inbox {
  items = $state.raw<Notice[]>([]);
  unread = $state(0);
  loaded = $state(false);
  /** The case a view should open (set by a notification, taken by the view). */
  focus = $state<number | null>(null);
  private timer: ReturnType<typeof setInterval> | null = null;

  async refresh(): Promise<void> {
    if (!session.me || session.me.role === 'screen') return;
    try {
      const res = await ok(api.notifications.$get({ query: { limit: '30' } }));
      this.items = res.items;
      this.unread = res.unread;
      this.loaded = true;
    } catch {
      // offline or signed out: the bell keeps what it had
    }
  }

  start(): () => void {
    void this.refresh();
    this.timer = setInterval(() => document.visibilityState === 'visible' && void this.refresh(), EVERY_MS);
    const onVisible = () => document.visibilityState === 'visible' && void this.refresh();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      if (this.timer) clearInterval(this.timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }

  async read(n: Notice): Promise<void> {
    if (!n.readAt) {
      this.items = this.items.map((m) => (m.id === n.id ? { ...m, readAt: new Date().toISOString() } : m));
      this.unread = Math.max(0, this.unread - 1);
      this.unread = (await ok(api.notifications[':id'].read.$post({ param: { id: String(n.id) } })).catch(() => ({ unread: this.unread }))).unread;
    }
  }

  async readAll(): Promise<void> {
    this.unread = (await ok(api.notifications.read.$post())).unread;
    const now = new Date().toISOString();
    this.items = this.items.map((m) => (m.readAt ? m : { ...m, readAt: now }));
  }

  /** Where a notification is acted on, for this account; null: nowhere to go (reading it is all). */
  target(n: Notice): View | null {
    const role = session.me?.role;
    if (n.incidentId === null) return null;
    if (role === 'department') return 'dispatch';
    if (role === 'worker') return 'report';
    // (a case sent back opens on its card, which 改派 gives to another department; it is in the intake too when nobody else is on it)
    if (role === 'center' || role === 'admin') return n.event === 'satisfaction.low' ? 'center' : 'dispatch';
    // a leader follows an escalated case in the departments' queue (read-only)
    if (role === 'leader') return 'dispatch';
    return null;
  }

  async open(n: Notice): Promise<void> {
    await this.read(n);
    // a draft's review: the plan opens the draft, at its region
    if (n.draftId !== null) {
      router.go('plan', n.draftRegionId, n.draftId);
      return;
    }
    const view = this.target(n);
    if (!view) return;
    this.focus = n.incidentId;
    router.go(view, null);
  }
}

export const inbox = new Inbox();
