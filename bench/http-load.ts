/**
 * Child process of the benches: an autocannon load generator, so the clients' CPU stays out of the server's
 * event loop (as real clients would be). Forked with one message `{ options }`; answers with a summary.
 */
import { LATENCY_PERCENTILES, loadTest } from './support.js';

export interface LoadRequest {
  url: string;
  connections: number;
  amount: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** `[<id>]` in the body is replaced by a fresh id per request (autocannon's idReplacement). */
  body?: string;
}

export interface LoadSummary {
  rate: number;
  ok: number;
  failed: number;
  /** [percentile, ms] pairs at LATENCY_PERCENTILES (those autocannon's histogram has). */
  latency: Array<[number, number]>;
  total: number;
}

process.once('message', (request: LoadRequest) => {
  void answer(request);
});

/** Runs the requested load and sends its summary to the parent, then exits. */
async function answer(request: LoadRequest): Promise<void> {
  const { result, rate } = await loadTest({ ...request, idReplacement: request.body?.includes('[<id>]') ?? false });
  const stats = result.latency as unknown as Record<string, number>;
  const at = (p: number) => (p === 0 ? stats.min! : p === 100 ? stats.max! : stats[`p${String(p).replace('.', '_')}`]);
  const summary: LoadSummary = {
    rate,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    latency: LATENCY_PERCENTILES.flatMap((p): Array<[number, number]> => (at(p) === undefined ? [] : [[p, at(p)!]])),
    total: result.requests.total,
  };
  process.send!(summary, () => process.exit(0));
}
