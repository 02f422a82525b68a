import { createStore, del, entries, set, type UseStore } from 'idb-keyval';

/**
 * Background Sync: what the phone kept while it had no signal — reports with their photos, ended
 * patrols — is sent by the service worker when the signal returns, even with the app closed (a
 * worker reports in a dead zone and puts the phone away). The pages keep each in IndexedDB
 * (`outbox.svelte.ts`, `patrol.svelte.ts`) and ask for a sync while something waits; the worker
 * sends under the same Web Lock as the pages, so a report is never sent by two at once (and the
 * server stores one of each key if it were).
 *
 * Only the queues of the account signed in are sent, and only what goes in cleanly. A refusal (bad
 * input, a session signed out) stops the worker and waits for the app, which sends it again and says
 * the server's words to the worker.
 */
export const SYNC_TAG = 'gridplan-send';
/** What the worker tells the open pages once it has sent something: they read their queues again. */
export const SENT_MESSAGE = 'gridplan-sent';

/** Calls `taken` whenever the service worker has sent something the pages kept; returns what stops listening. */
export function onSentInBackground(taken: () => void): () => void {
  const container = typeof navigator !== 'undefined' ? navigator.serviceWorker : undefined;
  if (!container) return () => {};
  const listener = (e: MessageEvent) => (e.data as { type?: string } | null)?.type === SENT_MESSAGE && taken();
  container.addEventListener('message', listener);
  return () => container.removeEventListener('message', listener);
}

/** The IndexedDB database and its store of each queue (one per account on the phone), as the pages name them. */
const QUEUES = [
  { prefix: 'gridplan-outbox-', store: 'reports' },
  { prefix: 'gridplan-patrol-', store: 'patrols' },
] as const;

/** A request that hangs on a dead line counts as no network. */
const TIMEOUT_MS = 120_000;

/** How a queue's sending ended: all sent or stopped at a refusal for the app (`done`), or no network (`later`). */
type Outcome = 'done' | 'later';
/** The outcome, and how many were sent. */
type Sent = [Outcome, number];

/** Asks the browser to send what waits when there is a network (the service worker's `sync`); where it cannot, the pages send it. */
export async function requestBackgroundSync(): Promise<void> {
  try {
    const registration = await navigator.serviceWorker?.getRegistration();
    await (registration as (ServiceWorkerRegistration & { sync?: { register(tag: string): Promise<void> } }) | undefined)?.sync?.register(SYNC_TAG);
  } catch {
    // no service worker or no Background Sync (Safari, Firefox): the app sends when it is open
  }
}

/**
 * Who the browser's session cookie belongs to now: a username, `null` when nobody (or a wall screen) is signed in,
 * `undefined` when the server could not be asked.
 */
async function signedIn(): Promise<string | null | undefined> {
  try {
    const res = await fetch('/api/auth/session', { credentials: 'same-origin', cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (retry(res)) return undefined;
    if (!res.ok) return null;
    const { me } = (await res.json()) as { me: { kind: string; username: string } | null };
    return me?.kind === 'user' ? me.username : null;
  } catch {
    return undefined;
  }
}

/**
 * The service worker's side: sends the waiting reports and patrols of the account signed in now — only its own: the
 * cookie says who sends, so another account's queue on a shared phone (its session ended) waits for that account to
 * sign in again rather than go in under this one's name. Throws when the network failed, so the browser tries again.
 * Resolves to whether anything was sent.
 */
export async function sendWaiting(): Promise<boolean> {
  const user = await signedIn();
  if (user === undefined) throw new Error('no network: the browser tries again later');
  if (user === null) return false; // nobody signed in: the app sends once someone is
  const names = new Set((await indexedDB.databases()).map((d) => d.name ?? ''));
  let later = false;
  let sent = 0;
  for (const queue of QUEUES) {
    const name = queue.prefix + user;
    if (!names.has(name)) continue;
    const store = createStore(name, queue.store);
    const send = queue.store === 'reports' ? () => sendReports(store) : () => sendPatrols(store);
    // the pages' own lock: a page sending now finishes first, and what it sent is gone when this reads
    const [outcome, count] = navigator.locks ? await navigator.locks.request(name, send) : await send();
    if (outcome === 'later') later = true;
    sent += count;
  }
  if (later) throw new Error('no network: the browser tries again later');
  return sent > 0;
}

/** An answer that may change if asked again later: a busy server or gateway. */
const retry = (res: Response) => res.status === 408 || res.status === 429 || res.status >= 500;

async function post(url: string, body: BodyInit, headers: Record<string, string>): Promise<Response | null> {
  try {
    return await fetch(url, { method: 'POST', body, headers, credentials: 'same-origin', signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch {
    return null; // never answered: no network
  }
}

interface Report {
  key: string;
  createdAt: string;
  body: unknown;
  photos: Blob[];
  incidentId: number | null;
  photosSent: number;
  error: string | null;
  photoErrors?: string[];
}

async function sendReports(store: UseStore): Promise<Sent> {
  let sent = 0;
  const waiting = (await entries<string, Report>(store))
    .map(([, r]) => r)
    .filter((r) => r && typeof r.key === 'string' && r.body && !r.error && !r.photoErrors?.length)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key));
  for (const report of waiting) {
    if (report.incidentId === null) {
      const res = await post('/api/incidents', JSON.stringify(report.body), { 'content-type': 'application/json', 'idempotency-key': report.key });
      if (!res || retry(res)) return ['later', sent];
      if (!res.ok) return ['done', sent];
      report.incidentId = ((await res.json()) as { id: number }).id;
      await set(report.key, report, store);
    }
    while (report.photosSent < report.photos.length) {
      const photo = report.photos[report.photosSent]!;
      const res = await post(`/api/incidents/${report.incidentId}/photos`, photo, { 'content-type': photo.type || 'image/jpeg' });
      if (!res || retry(res)) return ['later', sent];
      if (!res.ok) return ['done', sent];
      report.photosSent++;
      await set(report.key, report, store);
    }
    await del(report.key, store);
    sent++;
  }
  return ['done', sent];
}

interface Patrol {
  key: string;
  gridId: number;
  startedAt: string;
  endedAt: string | null;
  track: unknown[];
  visits: unknown[];
  error: string | null;
}

async function sendPatrols(store: UseStore): Promise<Sent> {
  let sent = 0;
  const waiting = (await entries<string, Patrol>(store))
    .filter(([k, p]) => k.startsWith('q:') && p && p.endedAt && !p.error)
    .map(([, p]) => p)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.key.localeCompare(b.key));
  for (const p of waiting) {
    const body = { key: p.key, gridId: p.gridId, startedAt: p.startedAt, endedAt: p.endedAt, track: p.track, visits: p.visits };
    const res = await post('/api/patrols', JSON.stringify(body), { 'content-type': 'application/json' });
    if (!res || retry(res)) return ['later', sent];
    if (!res.ok) return ['done', sent];
    await del(`q:${p.key}`, store);
    sent++;
  }
  return ['done', sent];
}
