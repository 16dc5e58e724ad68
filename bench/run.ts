/**
 * `npm run bench [-- name…]`: runs the bench modules below (all but those marked `named`, or those named) in sequence, prints one table
 * and writes bench/results/latest.json and bench/results/latency.svg (the latency distributions). A bench is a
 * `*.bench.ts` file exporting `run(): Promise<BenchResult>`, listed here. Targets missed are reported in the
 * table, not as a failure: only a bench that crashes or overruns its time limit makes the run exit non-zero.
 */
// Before any bench module: they load the product's decorated classes (type-graphql), as main.ts does.
import 'reflect-metadata';
import { mkdir, writeFile } from 'node:fs/promises';
import { latencyChart } from './chart.js';
import type { BenchResult, BenchRow, LatencySeries } from './support.js';

const MINUTE = 60_000;

/** Each with a time limit: one that hangs must not hang the run. */
/** `named`: runs only when named (`npm run bench -- faults`), not in a run of all. */
const benches: Array<{ name: string; limitMs: number; named?: true; load: () => Promise<{ run: () => Promise<BenchResult> }> }> = [
  { name: 'intake', limitMs: 5 * MINUTE, load: () => import('./intake.bench.js') },
  { name: 'api', limitMs: 10 * MINUTE, load: () => import('./api.bench.js') },
  { name: 'delivery', limitMs: 5 * MINUTE, load: () => import('./delivery.bench.js') },
  { name: 'realtime', limitMs: 3 * MINUTE, load: () => import('./realtime.bench.js') },
  { name: 'tracking', limitMs: 3 * MINUTE, load: () => import('./tracking.bench.js') },
  { name: 'replies', limitMs: 5 * MINUTE, load: () => import('./replies.bench.js') },
  // The seed alone (10 million events, the rollups rebuilt) takes a quarter of an hour on 2 cores.
  { name: 'scale', limitMs: 45 * MINUTE, load: () => import('./scale.bench.js') },
  { name: 'counting', limitMs: 10 * MINUTE, load: () => import('./counting.bench.js') },
  { name: 'soak', limitMs: 20 * MINUTE, load: () => import('./soak.bench.js') },
  // 10,000 events into the page in headless Chromium (at 10× the 1,000/min by default; see the file).
  { name: 'dashboard', limitMs: 15 * MINUTE, load: () => import('./dashboard.bench.js') },
  // FAULTS_SECONDS (600) of load under faults, then up to SETTLE_SECONDS (240) for the last emails to leave.
  { name: 'faults', limitMs: 30 * MINUTE, named: true, load: () => import('./faults.bench.js') },
];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !benches.some((bench) => bench.name === name));
  if (unknown.length > 0) throw new Error(`unknown bench ${unknown.join(', ')} (have ${benches.map((b) => b.name).join(', ')})`);

  const rows: BenchRow[] = [];
  const latencies: LatencySeries[] = [];
  const crashed: string[] = [];
  for (const bench of benches.filter((b) => (wanted.length === 0 && !b.named) || wanted.includes(b.name))) {
    const started = Date.now();
    process.stdout.write(`bench ${bench.name}…\n`);
    try {
      const result = await withTimeLimit(bench.name, bench.limitMs, (async () => (await bench.load()).run())());
      rows.push(...result.rows);
      latencies.push(...(result.latencies ?? []));
      process.stdout.write(`bench ${bench.name} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      crashed.push(bench.name);
      process.stderr.write(`bench ${bench.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
  }
  process.stdout.write(`\n${table(rows)}\n`);
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  const at = new Date().toISOString();
  await writeFile(new URL('./results/latest.json', import.meta.url), `${JSON.stringify({ at, node: process.version, rows, latencies }, null, 2)}\n`);
  if (latencies.length > 0) await writeFile(new URL('./results/latency.svg', import.meta.url), latencyChart(latencies, at));
  process.stdout.write('wrote bench/results/latest.json and bench/results/latency.svg\n');
  // Explicit exit: a bench that leaked a handle must not keep the process alive.
  process.exit(crashed.length > 0 ? 1 : 0);
}

function withTimeLimit<T>(name: string, limitMs: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} ran longer than ${limitMs / 1000} s`)), limitMs);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function table(rows: BenchRow[]): string {
  const cells = [
    ['bench', 'metric', 'value', 'unit', 'target', 'pass'],
    ...rows.map((r) => [r.bench, r.metric, format(r.value), r.unit, r.target ?? '', r.pass === undefined ? '' : r.pass ? 'yes' : 'NO']),
  ];
  const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => (column === 2 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

function format(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 100 ? 0 : 2);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
