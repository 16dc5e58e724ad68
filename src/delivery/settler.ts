import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { EmailStatus } from '../model/sequence.enums.js';
import { recordActivities, type ActivityRecord } from '../state/timeline.js';
import { publish } from '../state/events.js';
import { emailChanged, isFinal, settleClaimed, settledActivity, type Settlement, type SettledStatus } from '../state/email-state.js';
import { completeEnrollments, completedActivities, enrollmentsCompleted } from '../state/enrollment-state.js';
import type { ClaimedEmail } from './claim.js';

export interface DispatchStats {
  claimed: number;
  sent: number;
  failed: number;
  canceled: number;
  requeued: number;
}

export const emptyStats = (): DispatchStats => ({ claimed: 0, sent: 0, failed: 0, canceled: 0, requeued: 0 });

/** What became of one claimed email, to be written by its claim's settle. */
export interface Outcome {
  id: string;
  status: SettledStatus;
  sentAt?: string;
  messageId?: string;
  /** Why it failed, or why it waits (kept on a PENDING email; a SENT one clears it). */
  reason?: string;
  subject?: string;
  html?: string;
  text?: string;
  links?: string[];
  retryAt?: string;
  /** 1 when this attempt must not count (throttling, paused account, handed back unsent). */
  refund?: number;
  /** The account stopped accepting mail (`reason` says why): the rest of the batch goes back untouched. */
  accountRefusal?: true;
}

/** The outcome of an email given back untouched: never offered to SES, due again at once, its attempt not counted. */
export function handedBack(id: string, reason?: string): Outcome {
  return { id, status: EmailStatus.PENDING, refund: 1, ...(reason ? { reason } : {}) };
}

/** Waits between tries of a settle the database refused: from 100 ms, doubling, at most 5 s. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

/**
 * Writes a batch's outcomes by group commit: an outcome is written as soon as the previous write finished (those
 * arriving meanwhile share the next one), so an email SES accepted is SENT in the database within one write of its
 * answer. A write the database refuses is tried again, with backoff, until it lands: an outcome SES gave (a message
 * id above all) is the truth and is never dropped, and nothing is left to fail unobserved. Every write is fenced by
 * the claim's token: an email whose claim was taken over (swept and re-queued by an operator) is not touched.
 */
export class Settler {
  readonly #claims: Map<string, ClaimedEmail>;
  #queue: Outcome[] = [];
  #writing: Promise<void> | undefined;
  readonly #settled = new Set<string>();

  constructor(
    private readonly deps: { orm: MikroORM; clock: Clock; logger: Logger },
    claimed: ClaimedEmail[],
    readonly stats: DispatchStats,
  ) {
    this.#claims = new Map(claimed.map((c) => [c.id, c]));
  }

  /** Queues outcomes for the next write (an email's first outcome is its only one). */
  add(...outcomes: Outcome[]): void {
    for (const outcome of outcomes) {
      if (this.#settled.has(outcome.id)) continue;
      this.#settled.add(outcome.id);
      this.#queue.push(outcome);
    }
    if (this.#queue.length > 0) this.#writing ??= this.#drainQueue();
  }

  /** Resolves once every outcome added so far is written. Never rejects. */
  async done(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #drainQueue(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue;
      this.#queue = [];
      await this.#writeUntilLanded(group);
    }
    this.#writing = undefined;
  }

  async #writeUntilLanded(group: Outcome[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#write(group);
        return;
      } catch (error) {
        const waitMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));
        this.deps.logger.warn({ err: error, emails: group.length, attempt, waitMs }, 'settling sent emails failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  /** One write: outcomes, timeline, realtime events, and the enrollments they finish, in one transaction. */
  async #write(outcomes: Outcome[]): Promise<void> {
    const now = this.deps.clock.now();
    const rows = outcomes.map((o): Settlement => ({
      id: o.id,
      token: this.#claims.get(o.id)!.claim_token,
      status: o.status,
      sent_at: o.sentAt ?? null,
      message_id: o.messageId ?? null,
      reason: o.reason ?? null,
      subject: o.subject ?? null,
      html: o.html ?? null,
      text: o.text ?? null,
      links: o.links ?? null,
      retry_at: o.retryAt ?? null,
      refund: o.refund ?? 0,
    }));
    const outcomeOf = new Map(outcomes.map((o) => [o.id, o]));
    const counted: (keyof DispatchStats)[] = [];
    const landed = new Set<string>();
    await this.deps.orm.em.fork().transactional(async (tx) => {
      const settled = await settleClaimed(tx, rows, { now });
      for (const row of settled) landed.add(row.id);
      const activities: ActivityRecord[] = [];
      for (const row of settled) {
        const outcome = outcomeOf.get(row.id)!;
        counted.push(STAT[row.status]);
        const activity = settledActivity(this.#claims.get(row.id)!, row.status, now, { reason: outcome.reason, messageId: outcome.messageId });
        if (activity) activities.push(activity);
      }
      await recordActivities(tx, activities);
      // Dashboards see final statuses; the milliseconds-long SENDING and a throttled email's return to PENDING are not news.
      await publish(
        tx,
        settled.filter((row) => row.status !== EmailStatus.PENDING).map((row) => emailChanged(this.#claims.get(row.id)!, row.status, now)),
      );
      const finished = [...new Set(settled.filter((r) => isFinal(r.status)).map((r) => this.#claims.get(r.id)!.enrollment_id))];
      if (finished.length > 0) {
        const completed = await completeEnrollments(tx, finished, now);
        await publish(tx, enrollmentsCompleted(completed, now));
        await recordActivities(tx, completedActivities(completed, now));
      }
    });
    // Counted once the write committed: a retried write counts once.
    for (const key of counted) this.stats[key]++;
    // A SENT outcome the fence refused (its claim was taken over meanwhile) is SES's word all the same: never dropped silently.
    for (const outcome of outcomes.filter((o) => o.status === EmailStatus.SENT && !landed.has(o.id))) {
      this.deps.logger.error(
        { emailId: outcome.id, messageId: outcome.messageId },
        'SES accepted an email whose claim was taken over meanwhile: its SENT outcome was not written',
      );
    }
  }
}

/** Which counter a settled email adds to (an unknown outcome counts as failed: it was not known to be sent). */
const STAT: Record<SettledStatus, keyof DispatchStats> = {
  [EmailStatus.SENT]: 'sent',
  [EmailStatus.FAILED]: 'failed',
  [EmailStatus.UNKNOWN]: 'failed',
  [EmailStatus.CANCELED]: 'canceled',
  [EmailStatus.PENDING]: 'requeued',
};
