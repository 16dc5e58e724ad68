// The dashboard's build: a static single-page app served by the API server at /dashboard
// (src/http/dashboard.routes.ts). `npm run build` writes it to dist/dashboard; tests build it into a temporary
// folder of their own (DASHBOARD_OUT_DIR) so they never race a developer's `npm start`.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import preact from '@preact/preset-vite';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = process.env.DASHBOARD_OUT_DIR ?? fileURLToPath(new URL('../dist/dashboard', import.meta.url));

/** The budget for the page's JavaScript, gzipped. */
export const JS_BUDGET_GZIP_BYTES = 250 * 1024;

/**
 * Writes a gzip and a brotli copy beside each asset (the server sends them to clients that accept them, so the page
 * costs what the budget measures), prints the JavaScript's gzipped size and fails the build over the budget.
 */
function compressAndMeasure(): Plugin {
  return {
    name: 'dashboard-compress-and-measure',
    apply: 'build',
    closeBundle() {
      const assets = join(outDir, 'assets');
      let js = 0;
      let jsGzip = 0;
      for (const name of readdirSync(assets)) {
        if (!/\.(js|css|svg)$/.test(name)) continue;
        const content = readFileSync(join(assets, name));
        const gzip = gzipSync(content, { level: 9 });
        writeFileSync(join(assets, `${name}.gz`), gzip);
        writeFileSync(join(assets, `${name}.br`), brotliCompressSync(content));
        if (name.endsWith('.js')) {
          js += content.length;
          jsGzip += gzip.length;
        }
      }
      const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
      process.stdout.write(`Dashboard JavaScript: ${kb(js)}, ${kb(jsGzip)} gzipped (budget ${kb(JS_BUDGET_GZIP_BYTES)})\n`);
      if (jsGzip > JS_BUDGET_GZIP_BYTES) throw new Error(`The dashboard's JavaScript is ${kb(jsGzip)} gzipped, over the budget of ${kb(JS_BUDGET_GZIP_BYTES)}`);
    },
  };
}

export default defineConfig({
  root,
  base: '/dashboard/',
  plugins: [preact(), compressAndMeasure()],
  logLevel: process.env.DASHBOARD_BUILD_QUIET ? 'warn' : 'info',
  // `npm run dev:dashboard`: the page from its sources, GraphQL (HTTP and WebSocket) passed to a running API.
  server: { proxy: { '/graphql': { target: process.env.API_URL ?? 'http://localhost:4000', ws: true } } },
  build: {
    outDir,
    emptyOutDir: true,
    // The strict Content-Security-Policy allows no inline script: Vite's modulepreload polyfill is not needed by
    // any browser that runs ES modules natively, so it is left out rather than inlined.
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
});
