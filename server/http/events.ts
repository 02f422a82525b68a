import { EventEmitter } from 'node:events';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';

/** What the wall display hears about: incidents reported or moved along the loop. */
export interface LiveEvent {
  type: 'incident';
  action: 'report' | 'import' | 'dispatch' | 'resolve' | 'close' | 'escalate';
  incident?: unknown;
  count?: number;
}

/** An in-process bus: writes publish after they commit, `/api/events` streams to every listener. */
export class EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private id = 0;
  publish(event: LiveEvent): void {
    this.emitter.emit('event', { id: ++this.id, event });
  }
  subscribe(listener: (e: { id: number; event: LiveEvent }) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}

/** Server-sent events: each event as `event: incident`, a comment every 15 s to keep proxies from closing the stream. */
export function eventStream(c: Context, bus: EventBus, heartbeatMs = 15_000) {
  return streamSSE(c, async (stream) => {
    const queue: { id: number; event: LiveEvent }[] = [];
    let wake: (() => void) | null = null;
    const unsubscribe = bus.subscribe((e) => {
      queue.push(e);
      wake?.();
    });
    stream.onAbort(() => {
      unsubscribe();
      wake?.();
    });
    await stream.writeSSE({ event: 'hello', data: JSON.stringify({ at: new Date().toISOString() }), retry: 2_000 });
    while (!stream.aborted) {
      const next = queue.shift();
      if (next) {
        await stream.writeSSE({ id: String(next.id), event: next.event.type, data: JSON.stringify(next.event) });
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, heartbeatMs);
      });
      wake = null;
      if (queue.length === 0 && !stream.aborted) await stream.write(': keep-alive\n\n');
    }
    unsubscribe();
  });
}
