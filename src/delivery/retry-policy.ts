import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { query, sql } from '../db/sql.js';
import { EmailStatus } from '../model/sequence.enums.js';
import type { SendFailure } from './email-provider.js';

/*
 * What happens to an email SES did not take. An outage is never a failure: an email that certainly never reached
 * SES (unreachable, a server error, throttling) waits and is tried again with capped exponential backoff for as
 * long as its enrollment lives. Each email backs off by its own attempts, and the account as a whole backs off
 * (through the send_budget row every worker shares), so that while SES throttles or is down it is probed by one
 * batch now and then, not by every due email.
 */

/** The first wait after a failed attempt: short, so one throttled call among many successes costs about a second. */
const FIRST_BACKOFF_MS = 1000;
/** The longest wait, for an email and for the account. */
export const MAX_BACKOFF_MS = 3_600_000;

/** The wait after `failures` consecutive failures: doubling from a second up to an hour, with equal jitter (half to all of it). */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const capped = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, Math.min(failures, 32) - 1));
  return capped * (0.5 + random() / 2);
}

/** The outcome of a send that failed (`attempts`: this one included). */
export interface FailureOutcome {
  status: EmailStatus.PENDING | EmailStatus.FAILED | EmailStatus.UNKNOWN;
  reason: string;
  retryAt?: string;
  /** 1 when this attempt must not count (the account refused: the email was never offered). */
  refund?: number;
  /** The account stopped accepting mail: the rest of the batch goes back untouched. */
  accountRefusal?: true;
}

/** Decides what a failed send does to its email; failures that mean "SES did not take it" also make the account back off. */
export function failureOutcome(failure: SendFailure, attempts: number, now: Date, backoff: SendBackoff): FailureOutcome {
  switch (failure.kind) {
    case 'throttled':
    case 'transient': {
      backoff.failed(failure.message, now);
      const retryAt = new Date(now.getTime() + backoffMs(attempts)).toISOString();
      const why = failure.kind === 'throttled' ? 'SES is throttling' : 'SES could not take it';
      return { status: EmailStatus.PENDING, retryAt, reason: `${why}; retried with backoff (attempt ${attempts}): ${failure.message}` };
    }
    case 'account':
      return { status: EmailStatus.PENDING, refund: 1, reason: failure.message, accountRefusal: true };
    case 'permanent':
      return { status: EmailStatus.FAILED, reason: failure.message };
    case 'unknown':
      // SES may or may not have it, and has no idempotency key: the email waits for an operator, never re-sent by itself.
      return { status: EmailStatus.UNKNOWN, reason: `${failure.message}. Not re-sent automatically; use retryEmail if it did not arrive.` };
  }
}

/** Clocks of workers disagree by less than this. */
const CLOCK_SKEW_MS = 300_000;
/** Whether a back-off end is over at `now` (or so far ahead that it was set by a clock far ahead of ours: not to be trusted). */
const over = (now: Date) => sql`(backoff_until <= ${now} or backoff_until > ${new Date(now.getTime() + MAX_BACKOFF_MS + CLOCK_SKEW_MS)})`;
/** The wait after `level` consecutive failed periods, as an interval (see backoffMs). */
const waitOf = (level: RawLevel) =>
  sql`make_interval(secs => least(${MAX_BACKOFF_MS / 1000}, ${FIRST_BACKOFF_MS / 1000} * 2 ^ (${level} - 1)) * (0.5 + random() / 2))`;
type RawLevel = ReturnType<typeof sql.raw>;
/** Whether a failure doubles the wait: no back-off is on (or it is over), or it comes from the probe batch. */
const deepen = (now: Date) => sql`(backoff_until is null or ${over(now)} or backoff_probe)`;

/**
 * The account-wide back-off of one process, over the send_budget row (`backoff_level`, `backoff_until`,
 * `backoff_probe`). A failure when no back-off is on, or from the probe batch, doubles the wait; failures from
 * sends already in flight do not. When a wait ends, one dispatcher (whichever marks the probe first) sends a
 * batch; a successful send ends the back-off for every worker. Times come from the app's clock, like the due dates
 * of emails they are compared with.
 */
export class SendBackoff {
  /** Writes in order, so that a dispatcher's next check sees its own last outcome. */
  #writes: Promise<void> = Promise.resolve();
  /** Whether, as far as this process knows, the account is backing off (successes need no write otherwise). */
  #on = false;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
  ) {}

  /** Whether dispatch must wait; when a wait is over, only the caller that marks the probe goes ahead. */
  async holds(now: Date): Promise<boolean> {
    await this.#writes;
    const em = this.orm.em.fork();
    const [row] = await query<{ until: Date | null; over: boolean }>(
      em,
      sql`select backoff_until as until, coalesce(${over(now)}, false) as over from send_budget where id = 1`,
    );
    this.#on = Boolean(row?.until);
    if (!row?.until) return false;
    if (!row.over) return true;
    const probe = await query(
      em,
      sql`update send_budget set backoff_until = ${now}::timestamptz + ${waitOf(sql.raw('backoff_level'))}, backoff_probe = true
          where id = 1 and ${over(now)} returning id`,
    );
    return probe.length === 0;
  }

  /** SES did not take an email (`message` says why). */
  failed(message: string, now: Date): void {
    this.#on = true;
    this.write('record a send failure', (em) =>
      query(
        em,
        // Every right-hand side reads the row as it was (the latest committed version once the row lock is ours).
        sql`update send_budget set
              backoff_level = case when ${deepen(now)} then least(backoff_level + 1, 32) else backoff_level end,
              backoff_until = case when ${deepen(now)} then ${now}::timestamptz + ${waitOf(sql.raw('backoff_level + 1'))} else backoff_until end,
              backoff_probe = false, last_send_error = ${message}, last_send_error_at = ${now}
            where id = 1`,
      ),
    );
  }

  /** SES took an email: the account is not backing off (any more). */
  succeeded(): void {
    if (!this.#on) return;
    this.#on = false;
    this.write('end the send back-off', (em) =>
      query(em, sql`update send_budget set backoff_level = 0, backoff_until = null, backoff_probe = false where id = 1 and backoff_until is not null`),
    );
  }

  private write(what: string, statement: (em: EntityManager) => Promise<unknown>): void {
    // A lost write costs at most one batch sent too early or one period waited too long: logged, never thrown.
    this.#writes = this.#writes
      .then(() => statement(this.orm.em.fork()))
      .then(
        () => undefined,
        (error: unknown) => this.logger.warn({ err: error }, `could not ${what}`),
      );
  }
}

const perProcess = new WeakMap<MikroORM, SendBackoff>();

/** The back-off of this process's dispatchers (one per database connection pool). */
export function sendBackoff({ orm, logger }: { orm: MikroORM; logger: Logger }): SendBackoff {
  let backoff = perProcess.get(orm);
  if (!backoff) perProcess.set(orm, (backoff = new SendBackoff(orm, logger)));
  return backoff;
}

/** The account-wide back-off as last recorded (for `deliveryStatus` in any process). */
export async function readSendBackoff(em: EntityManager): Promise<{ until: Date | null; lastError: string | null; lastErrorAt: Date | null }> {
  const [row] = await query<{ backoff_until: Date | null; last_send_error: string | null; last_send_error_at: Date | null }>(
    em,
    sql`select backoff_until, last_send_error, last_send_error_at from send_budget where id = 1`,
  );
  const date = (value: Date | null | undefined) => (value ? new Date(value) : null);
  return { until: date(row?.backoff_until), lastError: row?.last_send_error ?? null, lastErrorAt: date(row?.last_send_error_at) };
}
