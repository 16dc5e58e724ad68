// The page's live events: one graphql-ws connection holding the company-wide subscriptions. Each event goes into
// the feed (bounded: the newest FEED_LIMIT are kept, whatever the rate, so memory stays flat) and to the views
// that listen for it (a lead's score in the table, a sequence's funnel, the deliverability state).
import type { Api } from './client';
import { EmailChanges, EnrollmentChanges, ScoreChanges } from './operations';
import { DeliverabilityChanges } from './analytics-operations';
import type { DashboardDeliverabilityChangesSubscription } from '../gql/graphql';

export const FEED_LIMIT = 200;

export type LiveEvent =
  | { kind: 'score'; leadId: string; email: string | null | undefined; previousScore: number; score: number; delta: number; reason: string; at: string }
  | {
      kind: 'email';
      leadId: string;
      email: string | null | undefined;
      emailId: string;
      status: string;
      emailNumber: number;
      sequenceId: string;
      sequenceName: string;
    }
  | {
      kind: 'enrollment';
      leadId: string;
      email: string | null | undefined;
      status: string;
      stopReason: string | null | undefined;
      sequenceId: string;
      sequenceName: string;
    }
  | ({ kind: 'deliverability' } & DashboardDeliverabilityChangesSubscription['deliverabilityChanged'])
  /** Not an API event: the subscriptions are (re)established, and views reload what they may have missed. */
  | { kind: 'resync' };

/** An event shown in the feed. */
export type FeedEvent = Exclude<LiveEvent, { kind: 'resync' }>;

export interface FeedItem {
  /** Increasing; the list's key. */
  seq: number;
  /** When the page received it. */
  receivedAt: number;
  event: FeedEvent;
}

type Listener = (event: LiveEvent) => void;

export class LiveEvents {
  #items: readonly FeedItem[] = [];
  #seq = 0;
  #listeners = new Set<Listener>();
  #feedListeners = new Set<() => void>();
  #stops: Array<() => void> = [];
  /** Events received since the page opened (the feed only keeps the newest). */
  received = 0;

  constructor(private readonly api: Api) {}

  start(): void {
    this.#stops.push(
      this.api.subscribe(ScoreChanges, {}, ({ leadScoreChanged: c }) =>
        this.#emit({
          kind: 'score',
          leadId: c.lead.id,
          email: c.lead.email,
          previousScore: c.previousScore,
          score: c.score,
          delta: c.delta,
          reason: c.reason,
          at: c.at,
        }),
      ),
      this.api.subscribe(EmailChanges, {}, ({ emailStatusChanged: e }) =>
        this.#emit({
          kind: 'email',
          leadId: e.lead.id,
          email: e.lead.email,
          emailId: e.id,
          status: e.status,
          emailNumber: e.emailNumber,
          sequenceId: e.enrollment.sequence.id,
          sequenceName: e.enrollment.sequence.name,
        }),
      ),
      this.api.subscribe(EnrollmentChanges, {}, ({ enrollmentChanged: e }) =>
        this.#emit({
          kind: 'enrollment',
          leadId: e.lead.id,
          email: e.lead.email,
          status: e.status,
          stopReason: e.stopReason,
          sequenceId: e.sequence.id,
          sequenceName: e.sequence.name,
        }),
      ),
      this.api.subscribe(DeliverabilityChanges, {}, ({ deliverabilityChanged: d }) => this.#emit({ kind: 'deliverability', ...d })),
    );
  }

  stop(): void {
    for (const stop of this.#stops.splice(0)) stop();
    window.clearTimeout(this.#resyncTimer);
  }

  #resyncTimer: number | undefined;

  /**
   * The connection is up (again): events sent while it was down, or before the server registered the
   * subscriptions, were missed, so the views reload once the subscriptions surely run.
   */
  connected(): void {
    window.clearTimeout(this.#resyncTimer);
    this.#resyncTimer = window.setTimeout(() => {
      for (const listener of this.#listeners) listener({ kind: 'resync' });
    }, 300);
  }

  get items(): readonly FeedItem[] {
    return this.#items;
  }

  /** Called for every event; returns the function that stops listening. */
  listen(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called when the feed's list changed. */
  watchFeed(listener: () => void): () => void {
    this.#feedListeners.add(listener);
    return () => this.#feedListeners.delete(listener);
  }

  #emit(event: FeedEvent): void {
    this.received += 1;
    this.#seq += 1;
    // A new array each time (the view compares by identity), never longer than FEED_LIMIT.
    this.#items = [{ seq: this.#seq, receivedAt: Date.now(), event }, ...this.#items.slice(0, FEED_LIMIT - 1)];
    for (const listener of this.#listeners) listener(event);
    for (const listener of this.#feedListeners) listener();
  }
}
