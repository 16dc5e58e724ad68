import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium package (`.ci/run` installs it when missing); CHROMIUM_PATH points elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can. */
export const chromiumMissing = existsSync(CHROMIUM_PATH)
  ? undefined
  : `Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`;

/** The system Chromium, headless, without the background work (updates, networking) that would add noise. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      // For heapAfterGc: gc() in the page, and performance.memory without its privacy rounding.
      '--js-flags=--expose-gc',
      '--enable-precise-memory-info',
      ...extraArgs,
    ],
  });
}

const ROOT = join(import.meta.dirname, '..', '..');

// heapAfterGc's function runs in the page; the tests' tsconfig has no DOM library.
declare const window: { gc(): void; performance: { memory: { usedJSHeapSize: number } } };

/**
 * Builds the dashboard with Vite into `outDir` (not dist/, which `npm start` may be building at the same moment);
 * returns the gzipped size of its JavaScript as the build printed it.
 */
export function buildDashboard(outDir: string): { jsGzipBytes: number; output: string } {
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(ROOT, 'dashboard', 'vite.config.ts')],
    {
      cwd: ROOT,
      env: { ...process.env, DASHBOARD_OUT_DIR: outDir, DASHBOARD_BUILD_QUIET: '1', NODE_ENV: 'production' },
      encoding: 'utf8',
    },
  );
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new Error(`vite build failed (${result.status}):\n${output}`);
  const match = /Dashboard JavaScript: [\d.]+ KB, ([\d.]+) KB gzipped/.exec(output);
  if (!match) throw new Error(`vite build printed no size:\n${output}`);
  return { jsGzipBytes: Math.round(Number(match[1]) * 1024), output };
}

/**
 * The page's JavaScript heap after full garbage collections, in bytes. Needs a browser from `launchChromium`, whose
 * flags expose `gc()` and exact (not bucketed) `performance.memory` figures to the page.
 */
export async function heapAfterGc(page: Page): Promise<number> {
  return page.evaluate(async () => {
    for (let i = 0; i < 3; i += 1) {
      window.gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return window.performance.memory.usedJSHeapSize;
  });
}
