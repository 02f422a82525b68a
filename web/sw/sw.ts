/// <reference lib="webworker" />
import { CacheableResponsePlugin } from 'workbox-cacheable-response';
import { clientsClaim } from 'workbox-core';
import { ExpirationPlugin } from 'workbox-expiration';
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { NetworkFirst } from 'workbox-strategies';
import { SENT_MESSAGE, sendWaiting, SYNC_TAG } from '../lib/background-send.ts';

/**
 * The service worker (Workbox): keeps the app shell, so /report opens with no signal after one visit;
 * answers what a worker needs of the API offline from the last answer; and sends what the phone kept
 * while offline when the signal returns, with the app closed too (Background Sync).
 */
declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

// a new version takes over the open pages at once (the shell is fetched by name, never mixed)
void self.skipWaiting();
clientsClaim();
cleanupOutdatedCaches();
precacheAndRoute(self.__WB_MANIFEST);
registerRoute(new NavigationRoute(createHandlerBoundToURL('index.html'), { denylist: [/^\/api\//] }));

// Network first, the last answer when there is no network, or when the network has not answered in 10 s (a mountain line
// that connects but carries nothing: the page would wait for ever); a late answer still lands in the cache for the next
// time. The session, the categories, the worker's grids, households and cases, the month. Sign-out deletes the cache.
registerRoute(
  ({ url, request }) =>
    request.method === 'GET' &&
    /^\/api\/(auth\/session|auth\/me|config|incident-categories|field\/(incidents|households)|regions\/\d+|assessment)$/.test(url.pathname),
  new NetworkFirst({
    cacheName: 'gridplan-api',
    networkTimeoutSeconds: 10,
    // (a week at most: a phone whose grid went to another worker does not keep its households' names and numbers)
    plugins: [new ExpirationPlugin({ maxEntries: 100, maxAgeSeconds: 7 * 24 * 3600 }), new CacheableResponsePlugin({ statuses: [200] })],
  }),
);

/** Background Sync's event (not in TypeScript's lib). */
interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
}

self.addEventListener('sync' as keyof ServiceWorkerGlobalScopeEventMap, (event) => {
  const sync = event as unknown as SyncEvent;
  if (sync.tag !== SYNC_TAG) return;
  sync.waitUntil(
    sendWaiting().then(async (sent) => {
      // an open page lists what it kept: it reads its queue again
      if (sent) for (const client of await self.clients.matchAll({ type: 'window' })) client.postMessage({ type: SENT_MESSAGE });
    }),
  );
});
