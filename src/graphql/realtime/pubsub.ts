import type { Logger } from 'pino';
import type { PubSub } from 'type-graphql';
import { BoundedQueue } from './bounded-queue.js';
import { CHANNEL, decodeAccessNotices, encodeEvents, type ApiKeyRevokedEvent, type CompanyChangedEvent, type RealtimeEvent } from '../../state/events.js';
import { startListener, type Listener } from '../../db/pg-listener.js';

/**
 * Events a subscriber may lag behind before the oldest are dropped (see BoundedQueue). Queues hold references to
 * events shared by all subscribers, so an entry costs a pointer plus, at worst, its share of a ~300-byte event.
 * A burst larger than this (a 10,000-lead import) reaches a slow subscriber only in its newest part.
 */
export const DEFAULT_QUEUE_LIMIT = 1_000;

export interface PubSubStats {
  subscribers: number;
  /** Events waiting in subscribers' queues (shared objects: this counts entries, not copies). */
  queued: number;
  /** Events dropped from lagging subscribers' queues since start. */
  dropped: number;
}

/** What a subscription hears: its company's events of its topic, narrowed by `accept` (its arguments). */
export interface SubscriptionScope {
  companyId: string;
  /** Decided when the event is delivered, so events a subscriber does not want never take room in its queue. */
  accept?: (event: RealtimeEvent) => boolean;
}

/** What the WebSocket server hears about API keys that stopped authenticating, from any process. */
export interface AccessNotices {
  /** Calls `listener` with every key revoked or deleted (after commit); returns what stops it. */
  onApiKeyRevoked(listener: (event: ApiKeyRevokedEvent) => void): () => void;
  /** Calls `listener` when notices may have been missed (the LISTEN connection was down); returns what stops it. */
  onNoticesMissed(listener: () => void): () => void;
  /** Calls `listener` with every company whose row (or one of whose keys) changed (after commit); returns what stops it. */
  onCompanyChanged(listener: (event: CompanyChangedEvent) => void): () => void;
  /** False while notices may be missed (the LISTEN connection is down). */
  readonly listening: boolean;
}

export interface RealtimePubSubOptions {
  queueLimit?: number;
  log?: Logger;
}

/**
 * type-graphql PubSub that fans events out to in-process subscribers, each with its own bounded queue.
 * Routing is by topic and company: a subscription only ever sees its own company's events, whatever its
 * arguments. Delivery is synchronous and never waits for a subscriber.
 */
export class RealtimePubSub implements PubSub, AccessNotices {
  readonly #routes = new Map<string, Map<BoundedQueue<RealtimeEvent>, SubscriptionScope['accept']>>();
  readonly #revokedListeners = new Set<(event: ApiKeyRevokedEvent) => void>();
  readonly #missedListeners = new Set<() => void>();
  readonly #companyListeners = new Set<(event: CompanyChangedEvent) => void>();
  readonly #queueLimit: number;
  #droppedByClosed = 0;

  protected readonly log: Logger | undefined;

  constructor(options: RealtimePubSubOptions = {}) {
    this.#queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    this.log = options.log;
  }

  /**
   * type-graphql's publish: one event (of that topic), sent at once, outside any transaction. Services use
   * `publish(em, …)` from events.ts instead, which waits for their transaction to commit.
   */
  publish(routingKey: string, ...args: unknown[]): void {
    const event = args[0] as RealtimeEvent | undefined;
    // type-graphql names the topic with any string; the event's topic is compared with it as a string.
    const topic: string | undefined = event?.topic;
    if (!event || topic !== routingKey) throw new Error(`publish(${routingKey}) needs an event of that topic`);
    this.send([event]).catch((error: unknown) => this.log?.error({ err: error, topic: event.topic }, 'realtime publish failed'));
  }

  /** Where `publish` sends events: here, this process only; PgPubSub sends them to every process. */
  protected send(events: RealtimeEvent[]): Promise<void> {
    this.deliver(events);
    return Promise.resolve();
  }

  /**
   * Subscribes to one topic of one company; type-graphql passes the subscription's `topicId`, a company id or a
   * SubscriptionScope. There is no "every company" subscription, so no resolver can leak another tenant's events
   * by forgetting an argument.
   */
  subscribe(routingKey: string, scope?: unknown): BoundedQueue<RealtimeEvent> {
    const { companyId, accept } = typeof scope === 'string' ? { companyId: scope, accept: undefined } : ((scope ?? {}) as Partial<SubscriptionScope>);
    if (typeof companyId !== 'string' || companyId === '') throw new Error(`subscribe(${routingKey}) needs the subscriber's company id`);
    const key = routeKey(routingKey, companyId);
    const routes = this.#routes;
    const route = routes.get(key) ?? new Map<BoundedQueue<RealtimeEvent>, SubscriptionScope['accept']>();
    routes.set(key, route);
    const queue = new BoundedQueue<RealtimeEvent>(
      this.#queueLimit,
      (closed) => {
        this.#droppedByClosed += closed.dropped;
        route.delete(closed);
        if (route.size === 0 && routes.get(key) === route) routes.delete(key);
      },
      () => this.log?.warn({ topic: routingKey, companyId, limit: this.#queueLimit }, 'realtime subscriber lags behind; dropping its oldest events'),
    );
    route.set(queue, accept);
    return queue;
  }

  /** Fans events out to this process's subscribers of their topic and company. */
  deliver(events: RealtimeEvent[]): void {
    for (const event of events) {
      const route = this.#routes.get(routeKey(event.topic, event.companyId));
      if (route) for (const [queue, accept] of route) if (this.#accepts(accept, event)) queue.push(event);
    }
  }

  onApiKeyRevoked(listener: (event: ApiKeyRevokedEvent) => void): () => void {
    this.#revokedListeners.add(listener);
    return () => this.#revokedListeners.delete(listener);
  }

  onNoticesMissed(listener: () => void): () => void {
    this.#missedListeners.add(listener);
    return () => this.#missedListeners.delete(listener);
  }

  onCompanyChanged(listener: (event: CompanyChangedEvent) => void): () => void {
    this.#companyListeners.add(listener);
    return () => this.#companyListeners.delete(listener);
  }

  /** In-process only: nothing to miss. */
  get listening(): boolean {
    return true;
  }

  /** Hands access notices to their listeners; one that throws does not keep the others from hearing. */
  protected deliverAccess(revoked: ApiKeyRevokedEvent[], missed = false, companies: CompanyChangedEvent[] = []): void {
    for (const event of revoked) for (const listener of this.#revokedListeners) this.#safely(() => listener(event));
    for (const event of companies) for (const listener of this.#companyListeners) this.#safely(() => listener(event));
    if (missed) for (const listener of this.#missedListeners) this.#safely(listener);
  }

  #safely(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.log?.error({ err: error }, 'access notice listener failed');
    }
  }

  /** A predicate that throws must not stop the fan-out to everyone else: that subscriber just misses the event. */
  #accepts(accept: SubscriptionScope['accept'], event: RealtimeEvent): boolean {
    try {
      return accept === undefined || accept(event);
    } catch (error) {
      this.log?.error({ err: error, topic: event.topic }, 'realtime subscription filter failed');
      return false;
    }
  }

  stats(): PubSubStats {
    let subscribers = 0;
    let queued = 0;
    let dropped = this.#droppedByClosed;
    for (const route of this.#routes.values()) {
      for (const queue of route.keys()) {
        subscribers += 1;
        queued += queue.size;
        dropped += queue.dropped;
      }
    }
    return { subscribers, queued, dropped };
  }

  /** Ends every subscription (their GraphQL streams complete). */
  close(): void {
    for (const route of [...this.#routes.values()]) for (const queue of [...route.keys()]) queue.close();
  }
}

/**
 * The PubSub every process runs: one dedicated connection LISTENs on the app's channel and feeds the local
 * fan-out, so an event committed by any process reaches the subscribers of all of them.
 */
export class PgPubSub extends RealtimePubSub {
  #listener: Listener | undefined;

  /** True while the LISTEN connection is up. */
  override get listening(): boolean {
    return this.#listener?.connected ?? false;
  }

  /** Opens the LISTEN connection; fails when the database cannot be reached. */
  async start(databaseUrl: string, log: Logger): Promise<void> {
    this.#listener = await startListener({
      connectionString: databaseUrl,
      channel: CHANNEL,
      log,
      onPayload: (payload) => {
        const { events, revoked, companies } = decodeAccessNotices(payload);
        if (events.length === 0 && revoked.length === 0 && companies.length === 0) {
          log.warn({ channel: CHANNEL, bytes: payload.length }, 'ignored a malformed realtime notification');
        }
        this.deliverAccess(revoked, false, companies);
        this.deliver(events);
      },
      onReconnect: () => this.deliverAccess([], true),
    });
  }

  protected override send(events: RealtimeEvent[]): Promise<void> {
    if (!this.#listener) return Promise.reject(new Error('the realtime PubSub is not started'));
    return this.#listener.notify(encodeEvents(events));
  }

  /** Closes the LISTEN connection, then ends every subscription. */
  async dispose(): Promise<void> {
    await this.#listener?.dispose();
    this.close();
  }
}

/** Starts the process's PgPubSub (after the ORM: it needs the same database). */
export async function startPubSub(options: { databaseUrl: string; log: Logger; queueLimit?: number }): Promise<PgPubSub> {
  const pubSub = new PgPubSub({ queueLimit: options.queueLimit, log: options.log });
  await pubSub.start(options.databaseUrl, options.log);
  return pubSub;
}

function routeKey(topic: string, companyId: string): string {
  return `${topic}\u0000${companyId}`;
}
