import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { Company } from '../model/company.entity.js';
import type { Config } from '../core/config.js';
import { json, query, sql } from '../db/sql.js';
import { Lead } from '../model/lead.entity.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';
import { recordActivities, type ActivityRecord } from '../state/timeline.js';
import { publish } from '../state/events.js';
import { emailChanged, isFinal, settleClaimed, settledActivity, type Settlement, type SettledStatus } from '../state/email-state.js';
import { completeEnrollments, completedActivities, enrollmentsCompleted } from '../state/enrollment-state.js';
import { statusIn } from '../state/transitions.js';
import { EmailSequence } from '../model/email-sequence.entity.js';
import { claimDueEmails, interleaveByCompany, type ClaimedEmail } from './claim.js';
import { SendError, type EmailProvider, type OutgoingEmail, type SendFailure } from './email-provider.js';
import { buildEmail } from './message.js';
import { RenderBudget } from '../templates/render-budget.js';
import { RenderUnavailableError } from '../templates/render.js';
import { TemplateTooSlowError } from '../templates/template-engine.js';
import { SlotQueue } from './send-budget.js';
import { markAccountPaused, refreshAccountState, type AccountState } from './account.js';

export interface DispatchStats {
  claimed: number;
  sent: number;
  failed: number;
  canceled: number;
  requeued: number;
}

interface Outcome {
  id: string;
  status: SettledStatus;
  sentAt?: string;
  messageId?: string;
  reason?: string;
  subject?: string;
  html?: string;
  text?: string;
  links?: string[];
  retryAt?: string;
  /** 1 when this attempt must not count (throttling, paused account). */
  refund?: number;
  /** The account stopped accepting mail (`reason` says why): the rest of the batch goes back untouched. */
  accountRefusal?: true;
}

interface Prepared {
  claim: ClaimedEmail;
  email: OutgoingEmail;
  links: string[];
}

/** Emails of a batch being rendered at once: enough to keep the render workers busy while replies travel. */
const RENDER_CONCURRENCY = 8;
/** Render time each company's emails may take per batch, far below the claim lease (CLAIM_LEASE_SECONDS). */
const BATCH_RENDER_BUDGET_MS = 5000;

const emptyStats = (): DispatchStats => ({ claimed: 0, sent: 0, failed: 0, canceled: 0, requeued: 0 });

/**
 * Sends due emails: claim a batch (PENDING → SENDING), cancel what may no longer be sent, render each for its
 * lead, hand it to SES within the account-wide send budget, and settle every email (SENT with the message id
 * and what was sent, FAILED with the reason, UNKNOWN when SES's answer was lost, or back to PENDING with backoff
 * when throttled).
 */
export class Dispatcher {
  #account: AccountState | undefined;
  /** Sends in flight across all batches of this dispatcher: at most `concurrency`. */
  readonly #permits: Semaphore;

  constructor(
    private readonly deps: {
      orm: MikroORM;
      clock: Clock;
      provider: EmailProvider;
      config: Config;
      logger: Logger;
      workerId: string;
    },
  ) {
    this.#permits = new Semaphore(deps.config.delivery.concurrency);
  }

  /**
   * Sends batches until nothing is due or `timeBudgetMs` is spent; `more` tells whether due emails remain.
   * Two lanes claim and prepare in turn, so the next batch is ready while this one sends (the send permits,
   * not the lanes, bound how many SendEmail calls are in flight).
   */
  async dispatchDue(timeBudgetMs = 10_000): Promise<DispatchStats & { more: boolean }> {
    const total = emptyStats();
    const started = Date.now();
    let more = false;
    const lane = async () => {
      for (;;) {
        const { stats, full } = await this.dispatchBatch();
        for (const key of Object.keys(total) as (keyof DispatchStats)[]) total[key] += stats[key];
        if (!full) return;
        if (Date.now() - started > timeBudgetMs) {
          more = true;
          return;
        }
      }
    };
    await Promise.all([lane(), lane()]);
    return { ...total, more };
  }

  /** One claim-and-send batch. `full` when the claim filled the batch (more may be due). */
  async dispatchBatch(): Promise<{ stats: DispatchStats; full: boolean }> {
    const { config, orm, clock } = this.deps;
    const account = await this.account();
    if (account.pausedReason) return { stats: emptyStats(), full: false };

    const rate = account.maxSendRate; // null: unlimited
    const limit = rate ? Math.min(config.delivery.batchSize, Math.max(5, Math.ceil(rate * 2))) : config.delivery.batchSize;
    const em = orm.em.fork();
    const claimed = await claimDueEmails(em, { now: clock.now(), limit, share: Math.max(1, Math.ceil(limit / 10)), workerId: this.deps.workerId });
    const stats = { ...emptyStats(), claimed: claimed.length };
    if (claimed.length === 0) return { stats, full: false };

    const { prepared, outcomes } = await this.prepare(em, interleaveByCompany(claimed));
    await this.settle(claimed, outcomes, stats);
    await this.sendAll(claimed, prepared, rate, stats);
    return { stats, full: claimed.length >= limit };
  }

  /** The account state, re-read from SES at most every 30 s (and shared with other processes via the database). */
  async account(force = false): Promise<AccountState> {
    const stale = !this.#account || Date.now() - this.#account.checkedAt.getTime() > 30_000;
    if (force || stale) {
      this.#account = await refreshAccountState(this.deps.orm.em.fork(), this.deps.provider, this.deps.config, this.deps.logger);
    }
    return this.#account!;
  }

  /** Cancels what must not be sent and renders the rest; a rendering error fails that one email only. */
  private async prepare(em: EntityManager, claimed: ClaimedEmail[]): Promise<{ prepared: Prepared[]; outcomes: Outcome[] }> {
    const leads = new Map((await em.find(Lead, { id: { $in: unique(claimed.map((c) => c.lead_id)) } })).map((l) => [l.id, l]));
    const sequences = new Map((await em.find(EmailSequence, { id: { $in: unique(claimed.map((c) => c.sequence_id)) } })).map((s) => [s.id, s]));
    const companies = new Map((await em.find(Company, { id: { $in: unique(claimed.map((c) => c.company_id)) } })).map((c) => [c.id, c]));
    const enrollments = new Map(
      (
        await query<{ id: string; status: EnrollmentStatus }>(
          em,
          sql`select id, status from enrollment where id = any(${unique(claimed.map((c) => c.enrollment_id))}::uuid[])`,
        )
      ).map((r) => [r.id, r.status]),
    );
    const suppressed = new Set(
      (
        await query<{ key: string }>(
          em,
          sql`select company_id || ':' || email as key from suppression
              where (company_id, email) in (select (x->>'c')::uuid, x->>'e' from jsonb_array_elements(${json(
                claimed.map((c) => ({ c: c.company_id, e: leads.get(c.lead_id)?.email ?? '' })),
              )}) x)`,
        )
      ).map((r) => r.key),
    );

    const prepared: Prepared[] = [];
    const outcomes: Outcome[] = [];
    const toRender: ClaimedEmail[] = [];
    for (const claim of claimed) {
      const lead = leads.get(claim.lead_id);
      if (lead && lead.email !== claim.to_address) {
        // updateLead changed the address since the claim recorded it: requeued, the next claim records the new one.
        outcomes.push({ id: claim.id, status: EmailStatus.PENDING, refund: 1 });
        continue;
      }
      const sendable =
        lead &&
        lead.email &&
        !lead.deletedAt &&
        !lead.unsubscribedAt &&
        enrollments.get(claim.enrollment_id) === EnrollmentStatus.ACTIVE &&
        !suppressed.has(`${claim.company_id}:${lead.email}`);
      if (!sendable) {
        outcomes.push({ id: claim.id, status: EmailStatus.CANCELED });
        continue;
      }
      toRender.push(claim);
    }
    // Rendered in the render workers, a few at a time; each company's emails share a render budget per batch, so a
    // company with slow templates cannot hold the batch (and its claim lease) for long.
    const budgets = new Map<string, RenderBudget>();
    const built = await mapConcurrently(toRender, RENDER_CONCURRENCY, async (claim) => {
      const budget = budgets.get(claim.company_id) ?? new RenderBudget(claim.company_id, BATCH_RENDER_BUDGET_MS);
      budgets.set(claim.company_id, budget);
      const email = { id: claim.id, emailNumber: claim.email_number, company: companies.get(claim.company_id)!, lead: leads.get(claim.lead_id)! };
      try {
        return { claim, ...(await buildEmail(this.deps.config, { ...email, sequence: sequences.get(claim.sequence_id)! }, budget)) };
      } catch (error) {
        outcomes.push(this.renderFailure(claim, error));
        return undefined;
      }
    });
    for (const item of built) if (item) prepared.push(item);
    // The links are stored before sending: a click that beats the SENT outcome (mail scanners follow links within
    // seconds of delivery) then finds where it leads instead of a 404.
    const linked = prepared.filter((p) => p.links.length > 0).map((p) => ({ id: p.claim.id, links: p.links }));
    if (linked.length > 0) {
      await query(
        em,
        sql`update sequence_email s set links = t.links from jsonb_to_recordset(${json(linked)}) as t(id uuid, links jsonb)
            where s.id = t.id and ${statusIn('s.status', [EmailStatus.SENDING])} and s.claimed_by = ${this.deps.workerId}`,
      );
    }
    return { prepared, outcomes };
  }

  /**
   * A slow template fails its email (TEMPLATE_TOO_SLOW); one left unrendered (budget spent, queue full, no render
   * worker able to run it) waits a minute: a fault of ours is never the email's failure.
   */
  private renderFailure(claim: ClaimedEmail, error: unknown): Outcome {
    if ((error instanceof TemplateTooSlowError && error.notRun) || error instanceof RenderUnavailableError) {
      return { id: claim.id, status: EmailStatus.PENDING, retryAt: new Date(this.deps.clock.now().getTime() + 60_000).toISOString(), refund: 1 };
    }
    const reason = error instanceof TemplateTooSlowError ? `${error.reason}: ${error.message}` : `Rendering failed: ${(error as Error).message}`;
    return { id: claim.id, status: EmailStatus.FAILED, reason: reason.slice(0, 1000) };
  }

  /**
   * Keeps `concurrency` sends in flight until the batch is done (no waiting for the slowest of a chunk), each at
   * its reserved slot when the budget is limited. Outcomes are settled in groups, off the sending path, so the
   * window in which SES has accepted an email that the database still shows SENDING stays a few milliseconds.
   */
  private async sendAll(claimed: ClaimedEmail[], prepared: Prepared[], rate: number | null, stats: DispatchStats): Promise<void> {
    const queue = [...prepared];
    const slots = rate ? new SlotQueue(this.deps.orm, rate) : null;
    let buffer: Outcome[] = [];
    let settling: Promise<void> = Promise.resolve();
    const flush = () => {
      if (buffer.length === 0) return settling;
      const items = buffer;
      buffer = [];
      settling = settling.then(() => this.settle(claimed, items, stats));
      return settling;
    };
    let refusal: Outcome | undefined;

    const worker = async () => {
      for (let item = queue.shift(); item && !refusal; item = queue.shift()) {
        const release = await this.#permits.acquire();
        let outcome: Outcome;
        try {
          if (slots) await slots.acquire();
          outcome = await this.sendOne(item);
        } finally {
          release();
        }
        buffer.push(outcome);
        if (outcome.accountRefusal) refusal = outcome;
        if (buffer.length >= 64) void flush();
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.config.delivery.concurrency, queue.length) }, worker));
    if (refusal) {
      // The account stopped accepting mail: say so to every process, and hand the rest of the batch back untouched.
      await markAccountPaused(this.deps.orm.em.fork(), refusal.reason!);
      buffer.push(...queue.splice(0).map((p): Outcome => ({ id: p.claim.id, status: EmailStatus.PENDING, refund: 1 })));
    }
    await flush();
  }

  private async sendOne({ claim, email, links }: Prepared): Promise<Outcome> {
    try {
      const { messageId } = await this.deps.provider.send(email);
      return {
        id: claim.id,
        status: EmailStatus.SENT,
        sentAt: this.deps.clock.now().toISOString(),
        messageId,
        subject: email.subject,
        html: email.html,
        text: email.text,
        links,
      };
    } catch (error) {
      const failure: SendFailure = error instanceof SendError ? error.failure : { kind: 'unknown', message: String(error) };
      return this.outcomeOfFailure(claim, failure);
    }
  }

  private outcomeOfFailure(claim: ClaimedEmail, failure: SendFailure): Outcome {
    const now = this.deps.clock.now().getTime();
    const backoff = (attempt: number) => new Date(now + Math.min(60_000, 1000 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())).toISOString();
    switch (failure.kind) {
      case 'throttled':
        return { id: claim.id, status: EmailStatus.PENDING, retryAt: backoff(claim.attempts), refund: 1 };
      case 'account':
        this.#account = { ...this.#account!, pausedReason: failure.message };
        return { id: claim.id, status: EmailStatus.PENDING, refund: 1, reason: failure.message, accountRefusal: true };
      case 'transient':
        return claim.attempts >= this.deps.config.delivery.maxAttempts
          ? { id: claim.id, status: EmailStatus.FAILED, reason: `Gave up after ${claim.attempts} attempts: ${failure.message}` }
          : { id: claim.id, status: EmailStatus.PENDING, retryAt: backoff(claim.attempts) };
      case 'permanent':
        return { id: claim.id, status: EmailStatus.FAILED, reason: failure.message };
      case 'unknown':
        // SES may or may not have it, and has no idempotency key: the email waits for an operator, never re-sent by itself.
        return { id: claim.id, status: EmailStatus.UNKNOWN, reason: `${failure.message}. Not re-sent automatically; use retryEmail if it did not arrive.` };
    }
  }

  /** Writes outcomes (only for emails this worker still holds), the timeline, and completes finished enrollments. */
  private async settle(claimed: ClaimedEmail[], outcomes: Outcome[], stats: DispatchStats): Promise<void> {
    if (outcomes.length === 0) return;
    const em = this.deps.orm.em.fork();
    const now = this.deps.clock.now();
    const rows = outcomes.map((o): Settlement => ({
      id: o.id,
      status: o.status,
      sent_at: o.sentAt ?? null,
      message_id: o.messageId ?? null,
      reason: o.status === EmailStatus.PENDING ? null : (o.reason ?? null),
      subject: o.subject ?? null,
      html: o.html ?? null,
      text: o.text ?? null,
      links: o.links ?? null,
      retry_at: o.retryAt ?? null,
      refund: o.refund ?? 0,
    }));
    const byId = new Map(claimed.map((c) => [c.id, c]));
    const outcomeOf = new Map(outcomes.map((o) => [o.id, o]));
    await em.transactional(async (tx) => {
      const settled = await settleClaimed(tx, rows, { workerId: this.deps.workerId, now });
      const activities: ActivityRecord[] = [];
      for (const row of settled) {
        const outcome = outcomeOf.get(row.id)!;
        stats[STAT[row.status]]++;
        const activity = settledActivity(byId.get(row.id)!, row.status, now, { reason: outcome.reason, messageId: outcome.messageId });
        if (activity) activities.push(activity);
      }
      await recordActivities(tx, activities);
      // Dashboards see final statuses; the milliseconds-long SENDING and a throttled email's return to PENDING are not news.
      await publish(
        tx,
        settled.filter((row) => row.status !== EmailStatus.PENDING).map((row) => emailChanged(byId.get(row.id)!, row.status, now)),
      );
      const finished = unique(settled.filter((r) => isFinal(r.status)).map((r) => byId.get(r.id)!.enrollment_id));
      if (finished.length > 0) {
        const completed = await completeEnrollments(tx, finished, now);
        await publish(tx, enrollmentsCompleted(completed, now));
        await recordActivities(tx, completedActivities(completed, now));
      }
    });
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

/** Counts permits; `acquire` resolves with the function that gives its permit back. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    return () => {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** `fn` over `items`, at most `limit` at a time; the results in the items' order. */
async function mapConcurrently<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    for (let index = next++; index < items.length; index = next++) results[index] = await fn(items[index]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return results;
}
