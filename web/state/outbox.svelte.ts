import { createStore, get, set, type UseStore } from 'idb-keyval';
import { api, ApiError } from '../lib/api.ts';
import { errorText } from '../lib/errors.ts';

/** A report as the worker made it, kept on the phone until the server has it and all its photos. */
export interface Pending {
  /** The Idempotency-Key: a resend after a lost answer finds the incident the first send made. */
  key: string;
  createdAt: string;
  body: { lon: number; lat: number; category: string; severity: number; description: string; reportedAt: string };
  photos: Blob[];
  /** Set once the server has the report. */
  incidentId: number | null;
  /** Photos the server has (they go in order). */
  photosSent: number;
  /** A refusal that sending again will not change (bad input, no longer allowed): shown, kept until dismissed. */
  error: string | null;
}

export type SendResult = 'sent' | 'offline' | 'failed';

const KEY = 'outbox';

/**
 * Reports waiting to be sent, in IndexedDB (photos included), sent in order when the connection
 * is there: at once, when the browser comes back online, and every 20 seconds. Network failures
 * keep an item for later; a 4xx answer marks it failed with the server's message.
 */
export class Outbox {
  items = $state<Pending[]>([]);
  online = $state(typeof navigator === 'undefined' ? true : navigator.onLine);
  sending = $state(false);
  /** Reports sent since the page opened (the list of open incidents reloads on a change). */
  sent = $state(0);
  private store: UseStore | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly user: string;

  constructor(user: string) {
    this.user = user;
  }

  async open(): Promise<void> {
    // One store per user: a shared phone does not send one worker's reports as another's.
    this.store = createStore(`gridplan-outbox-${this.user}`, 'reports');
    this.items = (await get<Pending[]>(KEY, this.store)) ?? [];
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
    this.timer = setInterval(() => void this.flush(), 20_000);
    void this.flush();
  }

  close(): void {
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
    if (this.timer) clearInterval(this.timer);
  }

  private onOnline = () => {
    this.online = true;
    void this.flush();
  };

  private onOffline = () => {
    this.online = false;
  };

  private async save(): Promise<void> {
    if (this.store) await set(KEY, $state.snapshot(this.items), this.store);
  }

  /** Keeps the report, then tries to send it. */
  async add(body: Pending['body'], photos: Blob[]): Promise<SendResult> {
    const key = `r-${crypto.randomUUID()}`;
    this.items.push({ key, createdAt: new Date().toISOString(), body, photos, incidentId: null, photosSent: 0, error: null });
    await this.save();
    await this.flush();
    const left = this.items.find((i) => i.key === key);
    return !left ? 'sent' : left.error ? 'failed' : 'offline';
  }

  async dismiss(key: string): Promise<void> {
    this.items = this.items.filter((i) => i.key !== key);
    await this.save();
  }

  /** Sends what is waiting, oldest first; stops at the first network failure. */
  async flush(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      for (const item of [...this.items]) {
        if (item.error) continue;
        const result = await this.send(item);
        if (result === 'offline') break;
        if (result === 'sent') {
          this.items = this.items.filter((i) => i.key !== item.key);
          this.sent++;
        }
        await this.save();
      }
    } finally {
      this.sending = false;
    }
  }

  private async send(item: Pending): Promise<SendResult> {
    try {
      if (item.incidentId === null) {
        const res = await api.incidents.$post({ json: item.body, header: { 'idempotency-key': item.key } });
        if (!res.ok) return this.refused(item, res);
        item.incidentId = (await res.json()).id;
        await this.save();
      }
      while (item.photosSent < item.photos.length) {
        const photo = item.photos[item.photosSent]!;
        const res = await fetch(`/api/incidents/${item.incidentId}/photos`, {
          method: 'POST',
          body: photo,
          headers: { 'content-type': photo.type || 'image/jpeg' },
        });
        // A photo the server will never take (too big, not an image, one too many) does not hold the report back.
        if (!res.ok && (res.status === 401 || res.status >= 500)) return 'offline';
        item.photosSent++;
        await this.save();
      }
      this.online = true;
      return 'sent';
    } catch {
      // fetch rejects only when the request never got an answer
      this.online = navigator.onLine;
      return 'offline';
    }
  }

  private async refused(item: Pending, res: Response): Promise<SendResult> {
    // A signed-out session or a busy server: try again later.
    if (res.status === 401 || res.status === 429 || res.status >= 500) return 'offline';
    const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string; path: string; details?: unknown } } | null;
    item.error = body?.error
      ? errorText(new ApiError(res.status, body.error.code, body.error.message, body.error.path, body.error.details), 'report')
      : `HTTP ${res.status}`;
    return 'failed';
  }
}

/** A photo made smaller for the upload: at most 1600 px on its long side, JPEG; the original when the browser cannot decode it. */
export async function shrinkPhoto(file: Blob, maxSide = 1600): Promise<Blob> {
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && file.size < 800_000 && file.type === 'image/jpeg') return file;
    const canvas = new OffscreenCanvas(Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
    canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
  } catch {
    return file;
  }
}
