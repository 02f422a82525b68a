import { EventEmitter } from 'node:events';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { digest, isWithin, liveSessions, SESSION_COOKIE } from '../db/accounts.ts';
import { areaOf, type Principal } from '../domain/roles.ts';
import type { Db } from '../db/db.ts';
import { InputError } from '../domain/errors.ts';

/** What the wall display hears about: incidents reported or moved along the loop. */
export interface LiveEvent {
  type: 'incident';
  action: 'report' | 'import' | 'dispatch' | 'resolve' | 'close' | 'escalate' | 'void';
  incident?: unknown;
  count?: number;
}

/** An in-process bus: writes publish after they commit, `/api/events` streams to every listener. */
export class EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private id = 0;
  private readonly outgoing: ((event: LiveEvent) => void)[] = [];
  /** `remote`: heard from another process (it is not passed on again). */
  publish(event: LiveEvent, remote = false): void {
    this.emitter.emit('event', { id: ++this.id, event });
    if (!remote) for (const l of this.outgoing) l(event);
  }
  /** Hears the events this process publishes (to pass them to other processes: see peers.ts). */
  onPublish(listener: (event: LiveEvent) => void): void {
    this.outgoing.push(listener);
  }
  subscribe(listener: (e: { id: number; event: LiveEvent }) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}

export interface StreamLimits {
  /** Open streams one session may hold (a browser needs one per tab). */
  perSession: number;
  /**
   * Open streams one account or screen token may hold over all its sessions (a centre's desks, the
   * walls a token drives): without it, one account signing in a hundred times held every stream the
   * server serves, and the centre's own console got 429.
   */
  perAccount: number;
  /** Open streams in all. */
  total: number;
  /** How often open streams' sessions are checked for expiry or revocation by another process. */
  checkEveryMs: number;
}
export const DEFAULT_STREAM_LIMITS: StreamLimits = { perSession: 8, perAccount: 40, total: 1_000, checkEveryMs: 30_000 };

/**
 * The open event streams, by session. Each is bounded per session and in all (429 beyond), and
 * closed as soon as its session ends: at once when this server signs it out, revokes its screen
 * token or changes its account; within `checkEveryMs` when it expires or another process ends it.
 */
export class LiveStreams {
  private readonly open = new Map<string, Set<() => void>>();
  /** Open streams per account (`user:12`, `screen:3`). */
  private readonly byAccount = new Map<string, number>();
  private count = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS,
  ) {}

  get size(): number {
    return this.count;
  }

  /**
   * Registers a stream of a session (by its token's digest) of an account (`user:12`, `screen:3`);
   * `close` ends it. Returns the unregister function.
   */
  add(session: string, account: string, close: () => void): () => void {
    const mine = this.open.get(session) ?? new Set();
    if (mine.size >= this.limits.perSession) {
      throw new InputError('too_many_streams', `this session already has ${mine.size} live streams open; close a tab or window first`, '');
    }
    const held = this.byAccount.get(account) ?? 0;
    if (held >= this.limits.perAccount) {
      throw new InputError('too_many_streams', `this account already has ${held} live streams open on its devices; close some first`, '');
    }
    if (this.count >= this.limits.total) throw new InputError('too_many_streams', 'the server has as many live streams open as it serves; try again later', '');
    mine.add(close);
    this.open.set(session, mine);
    this.byAccount.set(account, held + 1);
    this.count++;
    this.timer ??= setInterval(() => void this.check().catch(() => {}), this.limits.checkEveryMs).unref();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      mine.delete(close);
      this.count--;
      const left = (this.byAccount.get(account) ?? 1) - 1;
      if (left > 0) this.byAccount.set(account, left);
      else this.byAccount.delete(account);
      if (mine.size === 0) this.open.delete(session);
      if (this.count === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  /** Closes every stream whose session no longer lets it in (signed out, revoked, disabled, expired). */
  async check(): Promise<void> {
    if (this.open.size === 0) return;
    const live = new Set(await liveSessions(this.db, [...this.open.keys()]));
    for (const [session, closers] of this.open) if (!live.has(session)) for (const close of [...closers]) close();
  }
}

/**
 * Whether a stream's caller may hear of an incident in a grid, as the incident reads scope them: a
 * worker their grids, whoever is scoped to an area (a centre, a wall display, an analyst…) the grids within it (each grid
 * looked up once), a department none (its work comes through its queue); null: everyone's.
 */
function audience(db: Db, p: Principal | undefined): ((gridId: number | null) => Promise<boolean>) | null {
  if (!p) return async () => false;
  if (p.role === 'worker') return async (g) => g !== null && p.gridIds.includes(g);
  if (p.role === 'department') return async () => false;
  const area = areaOf(p);
  if (area !== null) {
    const known = new Map<number, boolean>();
    return async (g) => {
      if (g === null) return false;
      let inside = known.get(g);
      if (inside === undefined) known.set(g, (inside = await isWithin(db, g, area, false)));
      return inside;
    };
  }
  return null;
}

/**
 * The event as this caller may hear it: an incident outside their scope leaves only that something happened, and so does
 * a count of many (an import, a round of urging) to someone given an area — the count is the whole plan's, not theirs.
 */
async function shown(event: LiveEvent, may: ((gridId: number | null) => Promise<boolean>) | null): Promise<LiveEvent> {
  if (!may) return event;
  if (event.incident === undefined) return 'count' in event ? { type: event.type, action: event.action } : event;
  const gridId = (event.incident as { gridId?: number | null }).gridId ?? null;
  return (await may(gridId)) ? event : { type: event.type, action: event.action };
}

/** Server-sent events: each event as `event: incident`, a comment every 15 s to keep proxies from closing the stream. */
export function eventStream(c: Context, bus: EventBus, streams: LiveStreams, heartbeatMs = 15_000) {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) throw new InputError('unauthenticated', 'sign in first (POST /api/auth/login)', '');
  const principal = c.get('principal') as Principal | undefined;
  const may = audience(c.get('db') as Db, principal);
  let ended: (() => void) | null = null;
  const session = digest(token);
  const unregister = streams.add(session, principal ? `${principal.kind}:${principal.id}` : `session:${session}`, () => ended?.());
  return streamSSE(c, async (stream) => {
    const queue: { id: number; event: LiveEvent }[] = [];
    let wake: (() => void) | null = null;
    const unsubscribe = bus.subscribe((e) => {
      queue.push(e);
      wake?.();
    });
    let closed = false;
    ended = () => {
      closed = true;
      wake?.();
      void stream.close();
    };
    stream.onAbort(() => {
      closed = true;
      wake?.();
    });
    try {
      await stream.writeSSE({ event: 'hello', data: JSON.stringify({ at: new Date().toISOString() }), retry: 2_000 });
      while (!closed && !stream.aborted) {
        const next = queue.shift();
        if (next) {
          const event = await shown(next.event, may);
          await stream.writeSSE({ id: String(next.id), event: event.type, data: JSON.stringify(event) });
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, heartbeatMs).unref();
        });
        wake = null;
        if (queue.length === 0 && !closed && !stream.aborted) await stream.write(': keep-alive\n\n');
      }
    } finally {
      unsubscribe();
      unregister();
    }
  });
}
