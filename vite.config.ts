import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

/**
 * The web app, installable on a phone (command centre issue §6): a web app manifest and a service
 * worker (Workbox, `web/sw/sw.ts`) that keeps the app shell, so /report opens with no signal after one
 * visit. What a worker needs of the API offline — the session, the categories, their grids and
 * households, their open cases — is answered from the network when there is one and from the
 * last answer when there is none; sign-out forgets it. Reports and patrols kept offline are sent by
 * the worker when the signal returns, the app closed or not (Background Sync).
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
      // our own service worker (web/sw/sw.ts): the shell and the offline answers as Workbox generated them, and Background Sync
      strategies: 'injectManifest',
      srcDir: 'sw',
      filename: 'sw.ts',
      injectManifest: {
        globPatterns: ['**/*.{js,mjs,css,html,svg,png,woff2}'],
        // MapLibre and deck.gl are large; the shell is kept whole
        maximumFileSizeToCacheInBytes: 12 * 1024 * 1024,
      },
    }),
  ],
  build: { outDir: '../dist/web', emptyOutDir: true, chunkSizeWarningLimit: 2_000 },
  server: { proxy: { '/api': `http://localhost:${process.env.PORT ?? 8787}` } },
});
