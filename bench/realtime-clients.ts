/**
 * Child process of the realtime and soak benches: the subscribers. Running them outside the server process keeps
 * their memory out of the server's figures and their CPU out of its event loop. Driven over IPC.
 *
 * Subscribers opened without a `group` (realtime bench) report each event, by its `reason`, once every one of them
 * has it, with the arrival times. Subscribers opened in a named group (soak bench) only count what each receives,
 * and the group's first member times every event that carries an `at` against its arrival; `tally` reports them.
 */
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export type ClientCommand =
  | { type: 'open'; url: string; apiKey: string; count: number; query: string; group?: string }
  | { type: 'resubscribe'; query: string }
  /** `excluded`: [from, to] epoch-ms windows; events whose `at` falls in one are left out of `receivedOutside`. */
  | { type: 'tally'; excluded?: Array<[number, number]> }
  | { type: 'close' };

/** What the members of one group received: a count per member, and the first member's latencies (ms). */
export interface GroupTally {
  group: string;
  received: number[];
  latencies: number[];
  /** Per member, the events received whose `at` is outside the tally's `excluded` windows. */
  receivedOutside: number[];
}

export type ClientReport =
  | { type: 'opened'; total: number }
  /** Every ungrouped subscriber received the event with this reason; `times` are epoch ms with sub-ms precision. */
  | { type: 'delivered'; reason: string; times: number[] }
  | { type: 'failed'; message: string };

/** The answer to `tally`. */
export type TallyReport = { type: 'tally'; groups: GroupTally[] };

interface Subscriber {
  client: Client;
  group: Group | undefined;
  query: string;
  received: number;
  /** Grouped members: events received per second of their `at` (epoch s), for tallies that leave windows out. */
  bySecond: Map<number, number>;
  unsubscribe?: () => void;
}

interface Group {
  name: string;
  members: Subscriber[];
  latencies: number[];
}

const subscribers: Subscriber[] = [];
const groups = new Map<string, Group>();
const arrivals = new Map<string, number[]>();

const now = () => performance.timeOrigin + performance.now();
const report = (message: ClientReport | TallyReport) => {
  process.send!(message);
};

/** The payload of the one root field a subscription selects. */
type Event = { reason?: string; at?: string };

function received(subscriber: Subscriber, event: Event): void {
  subscriber.received += 1;
  const { group } = subscriber;
  if (group) {
    if (group.members[0] === subscriber && event.at) group.latencies.push(now() - Date.parse(event.at));
    if (event.at) {
      const second = Math.floor(Date.parse(event.at) / 1000);
      subscriber.bySecond.set(second, (subscriber.bySecond.get(second) ?? 0) + 1);
    }
    return;
  }
  const { reason } = event;
  if (!reason) return report({ type: 'failed', message: `an event without a reason: ${JSON.stringify(event)}` });
  const times = arrivals.get(reason) ?? [];
  arrivals.set(reason, times);
  times.push(now());
  const watching = subscribers.length - [...groups.values()].reduce((sum, g) => sum + g.members.length, 0);
  if (times.length === watching) {
    arrivals.delete(reason);
    report({ type: 'delivered', reason, times });
  }
}

function subscribe(subscriber: Subscriber): void {
  subscriber.unsubscribe = subscriber.client.subscribe<Record<string, Event>>(
    { query: subscriber.query },
    {
      next: (result) => {
        const event = result.data ? Object.values(result.data)[0] : undefined;
        if (result.errors?.length || !event) return report({ type: 'failed', message: JSON.stringify(result.errors ?? result) });
        received(subscriber, event);
      },
      error: (error) => report({ type: 'failed', message: error instanceof Error ? error.message : JSON.stringify(error) }),
      complete: () => undefined,
    },
  );
}

async function open(command: Extract<ClientCommand, { type: 'open' }>): Promise<void> {
  const group = command.group === undefined ? undefined : (groups.get(command.group) ?? { name: command.group, members: [], latencies: [] });
  if (group) groups.set(group.name, group);
  const connecting: Promise<Subscriber>[] = [];
  for (let i = 0; i < command.count; i += 1) {
    connecting.push(
      new Promise((resolve, reject) => {
        const client = createClient({
          url: command.url.replace(/^http/, 'ws'),
          webSocketImpl: WebSocket,
          connectionParams: { authorization: `Bearer ${command.apiKey}` },
          lazy: false,
          retryAttempts: 0,
          on: {
            connected: () => resolve(subscriber),
            closed: (event) => {
              const code = (event as { code?: number }).code;
              // A close before the bench asked for it is a failure (the server dropped the client).
              if (!closing) report({ type: 'failed', message: `socket closed with ${code}` });
              reject(new Error(`closed: ${code}`));
            },
          },
          onNonLazyError: reject,
        });
        const subscriber: Subscriber = { client, group, query: command.query, received: 0, bySecond: new Map() };
      }),
    );
  }
  const opened = await Promise.all(connecting);
  subscribers.push(...opened);
  group?.members.push(...opened);
  opened.forEach(subscribe);
}

/**
 * Events whose `at` second lies outside every window. Windows are widened to whole seconds (the caller's
 * expected counts use the same rule: see `outsideWindows` in faults.bench.ts).
 */
function outside(bySecond: Map<number, number>, excluded: Array<[number, number]>): number {
  let count = 0;
  for (const [second, n] of bySecond) {
    if (!excluded.some(([from, to]) => second >= Math.floor(from / 1000) && second <= Math.floor(to / 1000))) count += n;
  }
  return count;
}

let closing = false;

process.on('message', (command: ClientCommand) => {
  void (async () => {
    try {
      if (command.type === 'open') {
        await open(command);
        report({ type: 'opened', total: subscribers.length });
      } else if (command.type === 'resubscribe') {
        for (const subscriber of subscribers) {
          subscriber.unsubscribe?.();
          subscriber.query = command.query;
          subscribe(subscriber);
        }
        report({ type: 'opened', total: subscribers.length });
      } else if (command.type === 'tally') {
        report({
          type: 'tally',
          groups: [...groups.values()].map((g) => ({
            group: g.name,
            received: g.members.map((m) => m.received),
            latencies: g.latencies,
            receivedOutside: g.members.map((m) => outside(m.bySecond, command.excluded ?? [])),
          })),
        });
      } else {
        closing = true;
        // graphql-ws types dispose as `void | Promise<void>`; its client returns a promise that settles once closed.
        await Promise.all(subscribers.map((subscriber) => Promise.resolve(subscriber.client.dispose())));
        process.exit(0);
      }
    } catch (error) {
      report({ type: 'failed', message: String(error) });
    }
  })();
});

// If the bench dies, so do its subscribers.
process.on('disconnect', () => process.exit(0));
