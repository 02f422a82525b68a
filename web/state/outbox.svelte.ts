import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';
import { get as read } from 'svelte/store';
import { _ } from 'svelte-i18n';
import { api, ApiError } from '../lib/api.ts';
import { onSentInBackground, requestBackgroundSync } from '../lib/background-send.ts';
import { errorText } from '../lib/errors.ts';

/** A report as the worker made it, kept on the phone until the server has it and all its photos. */
export interface Pending {
  /** The Idempotency-Key: a resend after a lost answer finds the incident the first send made. */
  key: string;
  createdAt: string;
  body: { lon: number; lat: number; category: string; severity: number; description: string; address?: string; reportedAt: string };
  photos: Blob[];
  /** Set once the server has the report. */
  incidentId: number | null;
  /** Photos the server has (they go in order). */
  photosSent: number;
  /** A refusal that sending again will not change (bad input, no longer allowed): shown, kept until dismissed. */
  error: string | null;
  /** Why photos the server would not take were refused (the report went in without them). */
  photoErrors?: string[];
}

/** `sending`: kept on the phone and still on its way when the form was given back (a slow line). */
export type SendResult = 'sent' | 'offline' | 'failed' | 'sending';

/** Where older versions kept the whole list under one key (taken over item by item on opening). */
const LEGACY_KEY = 'outbox';
/** How long a request may take before the line counts as down for now: the report; each photo (a slow mountain line). */
const REPORT_TIMEOUT_MS = 30_000;
const PHOTO_TIMEOUT_MS = 120_000;
/** How long the form waits for the report to go before giving it back (it goes on being sent). */
const FORM_WAIT_MS = 8_000;

/**
 * Reports waiting to be sent, in IndexedDB (photos included), sent in order when the connection
 * is there: at once, when the browser comes back online, and every 20 seconds. Network failures
 * and requests that hang past a timeout keep an item for later; a 4xx answer marks it failed with
 * the server's message. Each report is its own record, so two pages of the app open at once (a
 * QR link opened beside the app) never write over each other's; one page sends at a time (a Web
 * Lock), after reading back what every page kept.
 */
export class Outbox {
  items = $state<Pending[]>([]);
  online = $state(typeof navigator === 'undefined' ? true : navigator.onLine);
  sending = $state(false);
  /** Reports sent since the page opened (the list of open incidents reloads on a change). */
  sent = $state(0);
  private store: UseStore | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private unlisten: () => void = () => {};
  private readonly user: string;

  constructor(user: string) {
    this.user = user;
  }

  async open(): Promise<void> {
    // One store per user: a shared phone does not send one worker's reports as another's.
    this.store = createStore(`gridplan-outbox-${this.user}`, 'reports');
    const legacy = await get<Pending[]>(LEGACY_KEY, this.store);
    if (legacy) {
      for (const item of legacy) await set(item.key, item, this.store);
      await del(LEGACY_KEY, this.store);
    }
    await this.reload();
    addEventListener('online', this.onOnline);
    addEventListener('offline', this.onOffline);
    this.unlisten = onSentInBackground(() => void this.taken());
    this.timer = setInterval(() => void this.flush(), 20_000);
    void this.flush();
  }

  /** The service worker sent reports while this page was open: they leave the list, as if sent here. */
  private async taken(): Promise<void> {
    const before = this.items.map((i) => i.key);
    await this.reload();
    const gone = before.filter((k) => !this.items.some((i) => i.key === k)).length;
    if (gone) this.sent += gone;
  }

  /** What every page of the app has kept, oldest first. */
  private async reload(): Promise<void> {
    if (!this.store) return;
    const kept = (await values<Pending>(this.store)).filter((i) => i && typeof i.key === 'string');
    this.items = kept.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key));
  }

  close(): void {
    removeEventListener('online', this.onOnline);
    removeEventListener('offline', this.onOffline);
    this.unlisten();
    if (this.timer) clearInterval(this.timer);
  }

  private onOnline = () => {
    this.online = true;
    void this.flush();
  };

  private onOffline = () => {
    this.online = false;
  };

  /** One report as it now stands (never the whole list: another page keeps its own). */
  private async save(item: Pending): Promise<void> {
    if (this.store) await set(item.key, $state.snapshot(item), this.store);
  }

  /**
   * Keeps the report, then tries to send it; gives the form back once it is sent, refused or
   * cannot go now — or, on a slow line, after a few seconds while it goes on being sent.
   */
  /** The case number each report sent from this page got, to say it (已上报（编号 5960）). */
  private sentIds = new Map<string, number>();
  idOf(key: string): number | undefined {
    return this.sentIds.get(key);
  }

  async add(body: Pending['body'], photos: Blob[]): Promise<{ result: SendResult; done: Promise<SendResult>; key: string }> {
    const key = `r-${crypto.randomUUID()}`;
    const item: Pending = { key, createdAt: new Date().toISOString(), body, photos, incidentId: null, photosSent: 0, error: null };
    this.items.push(item);
    await this.save(item);
    // should the page be closed before it goes, the service worker sends it when the signal returns
    void requestBackgroundSync();
    const done = this.flush().then(() => this.stateOf(key));
    const result = await Promise.race([done, new Promise<SendResult>((r) => setTimeout(() => r('sending'), FORM_WAIT_MS))]);
    return { result, done, key };
  }

  /** Where a report stands: sent (no longer kept), refused, or waiting (offline, or another page is sending it). */
  stateOf(key: string): SendResult {
    const left = this.items.find((i) => i.key === key);
    return !left ? 'sent' : left.error ? 'failed' : 'offline';
  }

  async dismiss(key: string): Promise<void> {
    if (this.store) await del(key, this.store);
    this.items = this.items.filter((i) => i.key !== key);
  }

  /** Sends what is waiting, oldest first; stops at the first network failure. One page at a time. */
  async flush(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
      if (locks) await locks.request(`gridplan-outbox-${this.user}`, { ifAvailable: true }, async (lock) => (lock ? this.sendAll() : this.reload()));
      else await this.sendAll();
    } finally {
      this.sending = false;
    }
    // still waiting for a network: the service worker is asked again (a sync it began while this page held the lock is spent)
    if (this.items.some((i) => !i.error)) void requestBackgroundSync();
  }

  private async sendAll(): Promise<void> {
    await this.reload();
    for (const item of [...this.items]) {
      if (item.error) continue;
      const result = await this.send(item);
      if (result === 'offline') break;
      if (result === 'sent') {
        if (item.incidentId !== null) this.sentIds.set(item.key, item.incidentId);
        if (this.store) await del(item.key, this.store);
        this.items = this.items.filter((i) => i.key !== item.key);
        this.sent++;
      } else await this.save(item);
    }
  }

  private async send(item: Pending): Promise<SendResult> {
    try {
      if (item.incidentId === null) {
        const res = await api.incidents.$post(
          { json: item.body, header: { 'idempotency-key': item.key } },
          { init: { signal: AbortSignal.timeout(REPORT_TIMEOUT_MS) } },
        );
        if (!res.ok) return this.refused(item, res);
        item.incidentId = (await res.json()).id;
        await this.save(item);
      }
      while (item.photosSent < item.photos.length) {
        const photo = item.photos[item.photosSent]!;
        const res = await fetch(`/api/incidents/${item.incidentId}/photos`, {
          method: 'POST',
          body: photo,
          headers: { 'content-type': photo.type || 'image/jpeg' },
          signal: AbortSignal.timeout(PHOTO_TIMEOUT_MS),
        });
        // A signed-out session, a busy server or gateway: this photo again later.
        if (!res.ok && (res.status === 401 || res.status === 408 || res.status === 429 || res.status >= 500)) return 'offline';
        // One the server will never take (too big, not an image, one too many) does not hold the report back — but it is said.
        if (!res.ok) item.photoErrors = [...(item.photoErrors ?? []), await reason(res)];
        item.photosSent++;
        await this.save(item);
      }
      this.online = true;
      if (item.photoErrors?.length) {
        item.error = read(_)('report.photosRefused', {
          values: { id: item.incidentId, n: item.photoErrors.length, message: item.photoErrors.join('；') },
        });
        return 'failed';
      }
      return 'sent';
    } catch {
      // fetch rejects only when the request never got an answer (or took too long: the line is down for now)
      this.online = navigator.onLine;
      return 'offline';
    }
  }

  private async refused(item: Pending, res: Response): Promise<SendResult> {
    // A signed-out session or a busy server: try again later.
    if (res.status === 401 || res.status === 408 || res.status === 429 || res.status >= 500) return 'offline';
    item.error = await reason(res);
    return 'failed';
  }
}

/** A refusal in the reader's words (the server's error code), else its status. */
async function reason(res: Response): Promise<string> {
  const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string; path: string; details?: unknown } } | null;
  return body?.error
    ? errorText(new ApiError(res.status, body.error.code, body.error.message, body.error.path, body.error.details), 'report')
    : res.status === 413
      ? read(_)('errors.payload_too_large')
      : `HTTP ${res.status}`;
}

/**
 * A photo made smaller for the upload: at most 1600 px on its long side, JPEG, drawn upright (a phone's
 * photo held sideways carries its turn in EXIF, which the server's thumbnails do not read: every photo
 * is drawn again, a small one too); the original when the browser cannot decode it.
 */
export async function shrinkPhoto(file: Blob, maxSide = 1600): Promise<Blob> {
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
    const canvas = new OffscreenCanvas(Math.round(bitmap.width * scale), Math.round(bitmap.height * scale));
    canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
  } catch {
    return file;
  }
}
