import type { InferRequestType, InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';
import { errorText } from '../lib/errors.ts';

export type QueueItem = InferResponseType<typeof api.dispatches.$get, 200>['items'][number];
export type QueueState = 'open' | 'new' | 'overdue' | 'extension' | 'all';
type Query = InferRequestType<typeof api.dispatches.$get>['query'];

const PAGE = 30;

/**
 * A department's queue, a page at a time: the filters (state, words, place, category, department)
 * ask the server again from the first page; `more()` appends the next. The counts per state
 * follow the same filters, so the tabs say what each would show.
 */
export class DispatchQueue {
  state = $state<QueueState>('open');
  q = $state('');
  region = $state<number | null>(null);
  category = $state('');
  department = $state('');
  items = $state.raw<QueueItem[]>([]);
  counts = $state<{ open: number; new: number; overdue: number; extension: number; all: number } | null>(null);
  /** Per department, how many in the chosen state (the centre's view: who is behind). */
  byDepartment = $state.raw<{ code: string; zh: string; en: string; n: number }[]>([]);
  total = $state(0);
  next = $state<number | null>(null);
  loading = $state(false);
  error = $state<string | null>(null);
  /** Bumped by every new question, so a late answer to an old one is dropped. */
  private asked = 0;

  constructor(private readonly ownDepartment: boolean) {}

  private query(offset: number): Query {
    const q: Query = { state: this.state, limit: String(PAGE), offset: String(offset) };
    if (this.q.trim()) q.q = this.q.trim();
    if (this.region !== null) q.region = String(this.region);
    if (this.category) q.category = this.category;
    if (!this.ownDepartment && this.department) q.department = this.department;
    return q;
  }

  /** From the first page, with the current filters. */
  async reload(): Promise<void> {
    const asked = ++this.asked;
    this.loading = true;
    try {
      const res = await ok(api.dispatches.$get({ query: this.query(0) }));
      if (asked !== this.asked) return;
      this.items = res.items;
      this.counts = res.counts;
      this.byDepartment = res.byDepartment;
      this.total = res.total;
      this.next = res.next;
      this.error = null;
    } catch (e) {
      if (asked === this.asked) this.error = errorText(e);
    } finally {
      if (asked === this.asked) this.loading = false;
    }
  }

  /** The next page, appended (nothing when there is none or one is on its way). */
  async more(): Promise<void> {
    if (this.next === null || this.loading) return;
    const asked = this.asked;
    this.loading = true;
    try {
      const res = await ok(api.dispatches.$get({ query: this.query(this.next) }));
      if (asked !== this.asked) return;
      const seen = new Set(this.items.map((d) => d.id));
      this.items = [...this.items, ...res.items.filter((d) => !seen.has(d.id))];
      this.counts = res.counts;
      this.total = res.total;
      this.next = res.next;
    } catch (e) {
      this.error = errorText(e);
    } finally {
      if (asked === this.asked) this.loading = false;
    }
  }

  /** After acknowledging or answering one: its card in place, the counts anew. */
  async refresh(): Promise<void> {
    const shown = this.items.length;
    await this.reload();
    while (this.items.length < shown && this.next !== null) await this.more();
  }
}
