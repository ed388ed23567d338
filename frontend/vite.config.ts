import { defineConfig } from 'vitest/config';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// The dev server proxies the API (and the WebSocket) to a local pulse, so `npm run dev`
// behaves like the embedded build: same origin, same paths.
const target = process.env.PULSE_URL ?? 'http://127.0.0.1:8080';

// dist/.gitkeep is committed so that a fresh clone's `go build` has something to embed
// (frontend/embed.go); the build empties dist/, so it is put back with every build.
const keepGitkeep: Plugin = {
  name: 'pulse-keep-gitkeep',
  generateBundle() {
    this.emitFile({ type: 'asset', fileName: '.gitkeep', source: '' });
  },
};

export default defineConfig({
  plugins: [react(), keepGitkeep],
  server: {
    proxy: {
      '/v1': { target, ws: true, changeOrigin: false },
      '/readyz': target,
    },
  },
  build: {
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
