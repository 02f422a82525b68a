import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

/**
 * The web app, installable on a phone (command centre issue §6): a web app manifest and a service
 * worker (Workbox, generated) that keeps the app shell, so /report opens with no signal after one
 * visit. What a worker needs of the API offline — the session, the categories, their grids and
 * households, their open cases — is answered from the network when there is one and from the
 * last answer when there is none; sign-out forgets it.
 */
export default defineConfig({
  root: 'web',
  plugins: [
    svelte(),
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: 'script',
      includeAssets: ['icons/apple-touch-icon.png', 'icons/icon.svg'],
      manifest: {
        name: '网格规划 GridPlan',
        short_name: '网格通',
        description: '网格化管理：上报、巡查、派单与考核 · Grid governance: reports, patrols, dispatches and assessment',
        lang: 'zh-CN',
        start_url: '/report',
        scope: '/',
        display: 'standalone',
        orientation: 'portrait',
        background_color: '#f4f6f8',
        theme_color: '#16202c',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,mjs,css,html,svg,png,woff2}'],
        // MapLibre and deck.gl are large; the shell is kept whole
        maximumFileSizeToCacheInBytes: 12 * 1024 * 1024,
        navigateFallback: '/index.html',
        navigateFallbackDenylist: [/^\/api\//],
        cleanupOutdatedCaches: true,
        // a new version takes over the open pages at once (the shell is fetched by name, never mixed)
        clientsClaim: true,
        skipWaiting: true,
        runtimeCaching: [
          {
            // network first, the last answer when there is no network, or when the network has not answered in
            // 10 s (a mountain line that connects but carries nothing: the page would wait for ever); a late
            // answer still lands in the cache for the next time
            urlPattern: ({ url, request }) =>
              request.method === 'GET' &&
              /^\/api\/(auth\/session|auth\/me|config|incident-categories|field\/(incidents|households)|regions\/\d+|assessment)$/.test(url.pathname),
            handler: 'NetworkFirst',
            options: { cacheName: 'gridplan-api', networkTimeoutSeconds: 10, expiration: { maxEntries: 100 }, cacheableResponse: { statuses: [200] } },
          },
        ],
      },
    }),
  ],
  build: { outDir: '../dist/web', emptyOutDir: true, chunkSizeWarningLimit: 2_000 },
  server: { proxy: { '/api': `http://localhost:${process.env.PORT ?? 8787}` } },
});
