import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { LEASE_MARGIN_MS, SEND_BUDGET_MAX_WAIT_MS, SES_SEND_TIMEOUT_MS, type Config } from '../core/config.js';
import { Semaphore } from '../core/semaphore.js';
import { EmailStatus } from '../model/sequence.enums.js';
import { claimDueEmails, interleaveByCompany, type ClaimedEmail } from './claim.js';
import { SendError, type EmailProvider, type SendFailure } from './email-provider.js';
import { prepareBatch, type Prepared } from './prepare.js';
import { OfferWaves } from './offer-waves.js';
import { SlotQueue } from './send-budget.js';
import { emptyStats, handedBack, Settler, type DispatchStats, type Outcome } from './settler.js';
import { markAccountPaused, refreshAccountState, type AccountState } from './account.js';
import { failureOutcome, sendBackoff } from './retry-policy.js';

export type { DispatchStats } from './settler.js';

/**
 * Sends due emails: claim a batch (PENDING → SENDING), cancel what may no longer be sent, render each for its
 * lead, hand it to SES within the account-wide send budget and the claim's lease, and settle every email (SENT
 * with the message id and what was sent, FAILED with the reason, UNKNOWN when SES's answer was lost, or back to
 * PENDING when SES did not take it).
 *
 * Leases are timed by the database's clock and fenced: the claim records the database's time and a fresh token;
 * this worker turns the lease into a deadline on its own monotonic clock (measured from before it asked, so it
 * ends no later than the database's), starts a send only if the send can end before it, and settles by the token.
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
   * not the lanes, bound how many SendEmail calls are in flight). A lane's error is thrown once both lanes ended.
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
    const lanes = await Promise.allSettled([lane(), lane()]);
    const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (failed) throw failed.reason;
    return { ...total, more };
  }

  /**
   * One claim-and-send batch. `full` when the claim filled the batch (more may be due). Every claimed email is
   * settled before it returns: a database error before sending hands the whole batch back untouched.
   */
  async dispatchBatch(): Promise<{ stats: DispatchStats; full: boolean }> {
    const { config, orm, clock } = this.deps;
    const account = await this.account();
    if (account.pausedReason) return { stats: emptyStats(), full: false };
    if (await sendBackoff(this.deps).holds(clock.now())) return { stats: emptyStats(), full: false }; // SES throttling or down: see retry-policy.ts

    const rate = account.maxSendRate; // null: unlimited
    const limit = rate ? Math.min(config.delivery.batchSize, Math.max(5, Math.ceil(rate * 2))) : config.delivery.batchSize;
    const em = orm.em.fork();
    const asked = performance.now();
    const claimed = await claimDueEmails(em, { now: clock.now(), limit, share: Math.max(1, Math.ceil(limit / 10)), workerId: this.deps.workerId });
    const stats = { ...emptyStats(), claimed: claimed.length };
    if (claimed.length === 0) return { stats, full: false };

    const deadline = asked + config.delivery.claimLeaseSeconds * 1000;
    const settler = new Settler(this.deps, claimed, stats);
    let ready: Awaited<ReturnType<typeof prepareBatch>>;
    try {
      ready = await prepareBatch(this.deps, em, interleaveByCompany(claimed));
    } catch (error) {
      // Nothing of the batch reached SES: all of it goes back, attempts refunded (written once the database answers).
      settler.add(...claimed.map((c) => handedBack(c.id)));
      await settler.done();
      throw error;
    }
    settler.add(...ready.outcomes);
    await this.sendAll(ready.prepared, rate, settler, deadline);
    await settler.done();
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

  /**
   * Keeps `concurrency` sends in flight until the batch is done (no waiting for the slowest of a chunk), each at
   * its reserved slot when the budget is limited and only while the claim's lease leaves room for the whole send.
   * Each outcome goes to the settler at once. Never throws: an email that could not be offered goes back untouched.
   */
  private async sendAll(prepared: Prepared[], rate: number | null, settler: Settler, deadline: number): Promise<void> {
    const queue = [...prepared];
    const slots = rate ? new SlotQueue(this.deps.orm, rate) : null;
    const offers = new OfferWaves(this.deps.orm, prepared, this.deps.config.delivery.concurrency);
    let refusal: Outcome | undefined;

    const worker = async () => {
      // The refusal is checked before taking an email: one taken is always settled.
      while (!refusal && queue.length > 0) {
        const item = queue.shift()!;
        const outcome = await this.sendInLease(item, slots, offers, deadline);
        settler.add(outcome);
        if (outcome.accountRefusal) refusal = outcome;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.config.delivery.concurrency, queue.length) }, worker));
    if (refusal) {
      // The account stopped accepting mail: hand the rest of the batch back untouched, and say so to every process.
      settler.add(...queue.splice(0).map((p) => handedBack(p.claim.id, refusal!.reason)));
      await markAccountPaused(this.deps.orm.em.fork(), refusal.reason!).catch((error: unknown) =>
        this.deps.logger.warn({ err: error }, 'could not record the paused account; other workers learn it from SES'),
      );
    }
  }

  /** Sends one email once its permit and slot are there, if the send can still end within the lease; else hands it back. */
  private async sendInLease(item: Prepared, slots: SlotQueue | null, offers: OfferWaves, deadline: number): Promise<Outcome> {
    const release = await this.#permits.acquire();
    try {
      if (!(await this.mayStart(item, slots, deadline)) || !(await offers.ready(item))) return handedBack(item.claim.id);
      // sendOne turns every answer into an outcome; should anything else throw, SES may have the email all the same.
      return await this.sendOne(item).catch((error: unknown) => this.outcomeOfFailure(item.claim, { kind: 'unknown', message: String(error) }));
    } finally {
      release();
    }
  }

  /** Whether a send may start now: its slot came within SEND_BUDGET_MAX_WAIT_MS and SES's full timeout fits in the lease. */
  private async mayStart(item: Prepared, slots: SlotQueue | null, deadline: number): Promise<boolean> {
    try {
      if (slots && !(await slots.acquire(SEND_BUDGET_MAX_WAIT_MS))) return false;
    } catch (error) {
      // The database refused the slot reservation: SES never saw the email.
      this.deps.logger.warn({ err: error, emailId: item.claim.id }, 'could not reserve a send slot; the email goes back to the queue');
      return false;
    }
    return performance.now() + SES_SEND_TIMEOUT_MS + LEASE_MARGIN_MS <= deadline;
  }

  private async sendOne({ claim, email, links }: Prepared): Promise<Outcome> {
    let messageId: string;
    try {
      ({ messageId } = await this.deps.provider.send(email));
    } catch (error) {
      const failure: SendFailure = error instanceof SendError ? error.failure : { kind: 'unknown', message: String(error) };
      return this.outcomeOfFailure(claim, failure);
    }
    sendBackoff(this.deps).succeeded();
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
  }

  private outcomeOfFailure(claim: ClaimedEmail, failure: SendFailure): Outcome {
    if (failure.kind === 'account') this.#account = { ...this.#account!, pausedReason: failure.message };
    return { id: claim.id, ...failureOutcome(failure, claim.attempts, this.deps.clock.now(), sendBackoff(this.deps)) };
  }
}
