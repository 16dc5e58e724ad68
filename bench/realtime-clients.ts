/**
 * Child process of the realtime bench: the subscribers. Running them outside the server process keeps their
 * memory out of the server's figures and their CPU out of its event loop. Driven over IPC by realtime.bench.ts.
 */
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export type ClientCommand =
  | { type: 'open'; url: string; apiKey: string; count: number; query: string }
  | { type: 'resubscribe'; query: string }
  | { type: 'close' };

export type ClientReport =
  | { type: 'opened'; total: number }
  /** Every subscriber received the event with this reason; `times` are epoch ms with sub-ms precision. */
  | { type: 'delivered'; reason: string; times: number[] }
  | { type: 'failed'; message: string };

const clients: Client[] = [];
const unsubscribes: Array<() => void> = [];
const arrivals = new Map<string, number[]>();
let query = '';

const now = () => performance.timeOrigin + performance.now();
const report = (message: ClientReport) => process.send!(message);

function subscribeAll(from = 0): void {
  for (const client of clients.slice(from)) {
    unsubscribes.push(
      client.subscribe<{ leadScoreChanged: { reason: string } }>(
        { query },
        {
          next: (result) => {
            const reason = result.data?.leadScoreChanged.reason;
            if (!reason) return report({ type: 'failed', message: JSON.stringify(result.errors) });
            const times = arrivals.get(reason) ?? [];
            arrivals.set(reason, times);
            times.push(now());
            if (times.length === clients.length) {
              arrivals.delete(reason);
              report({ type: 'delivered', reason, times });
            }
          },
          error: (error) => report({ type: 'failed', message: String(error) }),
          complete: () => undefined,
        },
      ),
    );
  }
}

async function open(url: string, apiKey: string, count: number): Promise<void> {
  const from = clients.length;
  const connecting: Promise<void>[] = [];
  for (let i = 0; i < count; i += 1) {
    connecting.push(
      new Promise((resolve, reject) => {
        clients.push(
          createClient({
            url: url.replace(/^http/, 'ws'),
            webSocketImpl: WebSocket,
            connectionParams: { authorization: `Bearer ${apiKey}` },
            lazy: false,
            retryAttempts: 0,
            on: { connected: () => resolve(), closed: (event) => reject(new Error(`closed: ${(event as { code?: number }).code}`)) },
            onNonLazyError: reject,
          }),
        );
      }),
    );
  }
  await Promise.all(connecting);
  subscribeAll(from);
}

process.on('message', (command: ClientCommand) => {
  void (async () => {
    try {
      if (command.type === 'open') {
        query = command.query;
        await open(command.url, command.apiKey, command.count);
        report({ type: 'opened', total: clients.length });
      } else if (command.type === 'resubscribe') {
        for (const stop of unsubscribes.splice(0)) stop();
        query = command.query;
        subscribeAll();
        report({ type: 'opened', total: clients.length });
      } else {
        await Promise.all(clients.map((client) => client.dispose()));
        process.exit(0);
      }
    } catch (error) {
      report({ type: 'failed', message: String(error) });
    }
  })();
});

// If the bench dies, so do its subscribers.
process.on('disconnect', () => process.exit(0));
