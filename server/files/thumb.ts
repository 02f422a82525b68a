import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../ts-worker.ts';
import type { ThumbReply, ThumbRequest } from './thumb-thread.ts';

export { THUMB_SIDE } from './thumb-make.ts';

/**
 * How long one thumbnail may take. A phone's 1,600 px photo decodes in about half a second; a JPEG
 * built to be slow (a progressive one of tens of thousands of scans: minutes of decoding, which no
 * limit of `jpeg-js` bounds) is stopped here — the thread is ended and started again — and gets
 * no thumbnail, for good.
 */
export const THUMB_TIME_LIMIT_MS = 8_000;
/** Photos waiting for the thread at most; past that, a photo is shown as it is this time (not kept so). */
const MAX_WAITING = 32;

/** The thumbnail, `null` for none to make (kept so), `busy` when it could not be made now (the photo is shown, nothing kept). */
export type Thumbnail = Uint8Array | null | 'busy';

interface Job {
  key: string;
  bytes: Uint8Array;
  mime: string;
  done: (thumb: Thumbnail) => void;
}

/**
 * The thumbnail thread, started on first use and kept (unreferenced while idle, so it never holds the process open).
 * One photo at a time, each within `THUMB_TIME_LIMIT_MS`; a photo asked for again while waiting or being made is made once.
 */
class ThumbThread {
  private worker: Worker | null = null;
  /** Whether the thread has started (its start, a second or two on a busy machine, is not counted against a photo). */
  private ready = false;
  private running: (Job & { id: number; timer: ReturnType<typeof setTimeout> }) | null = null;
  private readonly queue: Job[] = [];
  private readonly inFlight = new Map<string, Promise<Thumbnail>>();
  private nextId = 1;

  make(key: string, bytes: Uint8Array, mime: string): Promise<Thumbnail> {
    const same = this.inFlight.get(key);
    if (same) return same;
    if (this.queue.length >= MAX_WAITING) return Promise.resolve('busy');
    const made = new Promise<Thumbnail>((done) => this.queue.push({ key, bytes, mime, done }));
    this.inFlight.set(key, made);
    void made.then(() => this.inFlight.delete(key));
    this.next();
    return made;
  }

  private spawn(): Worker {
    const worker = startTsWorker(new URL('./thumb-thread.ts', import.meta.url));
    this.ready = false;
    worker.on('message', (r: ThumbReply) => {
      if (this.worker !== worker) return;
      if (r.id === 0) {
        this.ready = true;
        this.next();
      } else if (this.running?.id === r.id) this.finish(r.thumb);
    });
    const lost = () => {
      if (this.worker !== worker) return;
      // the thread died under a photo: that photo is shown as it is this time; the others are made by a new thread
      this.worker = null;
      this.finish('busy');
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    return worker;
  }

  private next(): void {
    if (this.running) return;
    if (this.queue.length === 0) {
      this.worker?.unref();
      return;
    }
    this.worker ??= this.spawn();
    this.worker.ref();
    if (!this.ready) return;
    const job = this.queue.shift()!;
    const id = this.nextId++;
    const timer = setTimeout(() => {
      // too slow to be a photo: the thread is ended (a new one takes the next), and this one gets no thumbnail
      const worker = this.worker;
      this.worker = null;
      void worker?.terminate();
      this.finish(null);
    }, THUMB_TIME_LIMIT_MS);
    this.running = { ...job, id, timer };
    // a copy goes: the caller's bytes stay the caller's
    this.worker.postMessage({ id, bytes: job.bytes.slice(), mime: job.mime } satisfies ThumbRequest);
  }

  private finish(thumb: Thumbnail): void {
    const job = this.running;
    if (!job) return;
    clearTimeout(job.timer);
    this.running = null;
    job.done(thumb);
    this.next();
  }
}

const thread = new ThumbThread();

/**
 * A photo's thumbnail (see `thumb-make.ts`), made off the server's thread: the bytes, `null` when there is none to make,
 * `busy` when it cannot be made now. `key` names the photo: asked for twice at once, it is made once.
 */
export function thumbnail(key: string, bytes: Uint8Array, mime: string): Promise<Thumbnail> {
  return mime === 'image/jpeg' ? thread.make(key, bytes, mime) : Promise.resolve(null);
}
