import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../ts-worker.ts';
import type { ThumbReply, ThumbRequest } from './thumb-thread.ts';

export { THUMB_SIDE } from './thumb-make.ts';

/** The thumbnail thread, started on first use and kept (unreferenced while idle, so it never holds the process open). */
class ThumbThread {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly pending = new Map<number, (thumb: Uint8Array | null) => void>();
  private nextId = 1;

  private start(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const worker = startTsWorker(new URL('./thumb-thread.ts', import.meta.url));
      this.worker = worker;
      this.pending.set(0, () => resolve());
      worker.on('message', (r: ThumbReply) => {
        const done = this.pending.get(r.id);
        this.pending.delete(r.id);
        done?.(r.thumb);
        if (this.pending.size === 0) worker.unref();
      });
      const fail = (err: Error) => {
        // a thumbnail that could not be made is the photo shown as it is: nobody waits on an error
        for (const [id, done] of this.pending) {
          if (id === 0) reject(err);
          else done(null);
        }
        this.pending.clear();
        this.worker = null;
        this.ready = null;
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`the thumbnail thread exited (code ${code})`)));
    });
    return this.ready;
  }

  async make(bytes: Uint8Array, mime: string): Promise<Uint8Array | null> {
    await this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker!.ref();
      // a copy goes: the caller's bytes stay the caller's
      this.worker!.postMessage({ id, bytes: bytes.slice(), mime } satisfies ThumbRequest);
    });
  }
}

const thread = new ThumbThread();

/** A photo's thumbnail (see `thumb-make.ts`), made off the server's thread; null when there is none to make. */
export function thumbnail(bytes: Uint8Array, mime: string): Promise<Uint8Array | null> {
  return mime === 'image/jpeg' ? thread.make(bytes, mime) : Promise.resolve(null);
}
