import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'web',
  plugins: [svelte()],
  build: { outDir: '../dist/web', emptyOutDir: true, chunkSizeWarningLimit: 2_000 },
  server: { proxy: { '/api': `http://localhost:${process.env.PORT ?? 8787}` } },
});
