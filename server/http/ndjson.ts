import type { Context } from 'hono';
import { InputError } from '../domain/errors.ts';
import { fromDatabase } from './errors.ts';

/** Whether the client asked for a progress stream. */
export const wantsStream = (c: Context) => (c.req.header('accept') ?? '').includes('application/x-ndjson');

/** Reports progress; awaiting it lets the line go out before more work (PGlite's queries do not yield to I/O). */
export type ProgressSink<P = unknown> = (progress: P) => void | Promise<void>;

/**
 * NDJSON: `{"progress":…}` lines while `run` works, then `{"result":…}` or `{"error":…}` as the
 * last line. The status is sent before the work ends, so the last line is the verdict.
 */
export function ndjson<T>(c: Context, status: 200 | 201, run: (progress: ProgressSink) => Promise<T>): Response {
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      // (a client that left closes the stream: the work goes on to its end — a commit stays one whole
      // transaction — and what it would have been told is dropped, not thrown into the log)
      let gone = false;
      const send = (obj: unknown) => {
        if (gone) return;
        try {
          controller.enqueue(encoder.encode(`${JSON.stringify(obj)}\n`));
        } catch {
          gone = true;
        }
      };
      try {
        send({
          result: await run((progress) => {
            send({ progress });
            return new Promise<void>((resolve) => setImmediate(resolve));
          }),
        });
      } catch (err) {
        const known = err instanceof InputError ? err : fromDatabase(err as object);
        if (!known) console.error(err);
        const e = known ?? new InputError('internal', 'internal error; nothing was written', '');
        send({ error: { code: e.code, message: e.message, path: e.path, details: e.details } });
      }
      if (!gone) {
        try {
          controller.close();
        } catch {
          // (already closed by the client's leaving)
        }
      }
    },
    cancel() {
      // the client left: nothing more is sent (see send)
    },
  });
  return c.body(stream, status, { 'content-type': 'application/x-ndjson' });
}
