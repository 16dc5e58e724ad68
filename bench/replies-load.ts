/**
 * Child process of the replies bench: posts signed SNS notifications to the inbound webhook, so the load's CPU
 * (undici, JSON) stays off the app's event loop. Forked with one `ReplyLoad` message; answers with a `ReplyLoadResult`.
 * Open loop: one message every 1/rate s whatever the answers do, each latency from its own send to its answer.
 * Closed loop: `concurrency` messages in flight, for the ceiling.
 */
import { readFileSync } from 'node:fs';

export type ReplyLoad = { url: string; file: string } & ({ mode: 'open'; rate: number } | { mode: 'closed'; concurrency: number });

export interface ReplyLoadResult {
  /** Messages handled (answered `processed`) per second, from the first send to the last answer. */
  rate: number;
  latencies: number[];
  failed: number;
  /** Open loop: latencies by the second of the schedule their message was sent in, to tell a spike from a queue. */
  series: number[][];
}

process.once('message', (load: ReplyLoad) => {
  const bodies = JSON.parse(readFileSync(load.file, 'utf8')) as string[];
  const done = load.mode === 'open' ? openLoop(load.url, bodies, load.rate) : closedLoop(load.url, bodies, load.concurrency);
  void done.then((result) => process.send!(result, () => process.exit(0)));
});

async function openLoop(url: string, bodies: string[], rate: number): Promise<ReplyLoadResult> {
  const latencies: number[] = [];
  const series: number[][] = [];
  let failed = 0;
  const started = performance.now();
  let last = started;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < bodies.length; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      post(url, bodies[i]!).then(({ ok, ms }) => {
        latencies.push(ms);
        (series[Math.floor(i / rate)] ??= []).push(ms);
        if (!ok) failed++;
        last = performance.now();
      }),
    );
  }
  await Promise.all(pending);
  return { rate: (bodies.length - failed) / ((last - started) / 1000), latencies, failed, series };
}

async function closedLoop(url: string, bodies: string[], concurrency: number): Promise<ReplyLoadResult> {
  let next = 0;
  let failed = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const { ok, ms } = await post(url, bodies[next++]!);
        latencies.push(ms);
        if (!ok) failed++;
      }
    }),
  );
  return { rate: (bodies.length - failed) / ((performance.now() - started) / 1000), latencies, failed, series: [] };
}

async function post(url: string, body: string): Promise<{ ok: boolean; ms: number }> {
  const started = performance.now();
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain; charset=UTF-8' }, body });
    const answer = (await response.json()) as { status?: string };
    return { ok: response.status === 200 && answer.status === 'processed', ms: performance.now() - started };
  } catch {
    return { ok: false, ms: performance.now() - started }; // a reset connection is a failed message, not a crashed bench
  }
}
