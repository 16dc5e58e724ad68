import type { RawBuilder } from 'kysely';
import { sql } from '../db/sql.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';

/*
 * The allowed transitions of an email and of an enrollment, as tables. Each named move says which statuses it
 * may start from and where it leads; every statement that changes a status takes its `where status in (…)`
 * guard from here (the guard is what makes concurrent writers safe: a move whose row changed meanwhile finds
 * nothing). Moves are named, not keyed by target, because two moves to one status can start from different
 * places: stopping cancels only PENDING emails (a SENDING one belongs to its dispatcher), while the dispatcher
 * cancels its own SENDING ones at claim time.
 */

export interface Move<S extends string> {
  readonly from: readonly S[];
  readonly to: S;
}

export enum EmailMove {
  /** A dispatcher takes a due email (the only guard against sending twice). */
  CLAIM = 'CLAIM',
  /** SES accepted it. */
  SEND = 'SEND',
  /** Rendering failed, SES rejected it, or transient errors ran out of attempts. */
  FAIL = 'FAIL',
  /** The hand-over's outcome is unknown (lost answer): never re-sent by itself. */
  LOSE = 'LOSE',
  /** Throttled or the account refused: back to the queue, the attempt not counted. */
  REQUEUE = 'REQUEUE',
  /** Claimed, but no longer sendable (suppressed, unsubscribed, enrollment ended). */
  DROP = 'DROP',
  /** Its dispatcher died mid-send and the claim's lease ran out: the outcome is unknown. */
  ABANDON = 'ABANDON',
  OPEN = 'OPEN',
  CLICK = 'CLICK',
  /** A permanent bounce ends engagement too (a scanner's click may have come first). */
  BOUNCE = 'BOUNCE',
  /** SES accepted the send, then reported it did not go out (reject, rendering failure). */
  REJECT = 'REJECT',
  /** Its enrollment stopped, or its step was removed. */
  CANCEL = 'CANCEL',
  /** Its step came back while the enrollment is live. */
  REVIVE = 'REVIVE',
  /** An operator re-queues a failed or unknown one on purpose. */
  RETRY = 'RETRY',
}

const { PENDING, SENDING, SENT, OPENED, CLICKED, BOUNCED, FAILED, UNKNOWN, CANCELED } = EmailStatus;

export const EMAIL_MOVES: Readonly<Record<EmailMove, Move<EmailStatus>>> = {
  [EmailMove.CLAIM]: { from: [PENDING], to: SENDING },
  [EmailMove.SEND]: { from: [SENDING], to: SENT },
  [EmailMove.FAIL]: { from: [SENDING], to: FAILED },
  [EmailMove.LOSE]: { from: [SENDING], to: UNKNOWN },
  [EmailMove.REQUEUE]: { from: [SENDING], to: PENDING },
  [EmailMove.DROP]: { from: [SENDING], to: CANCELED },
  [EmailMove.ABANDON]: { from: [SENDING], to: UNKNOWN },
  [EmailMove.OPEN]: { from: [SENT], to: OPENED },
  [EmailMove.CLICK]: { from: [SENT, OPENED], to: CLICKED },
  [EmailMove.BOUNCE]: { from: [SENT, OPENED, CLICKED], to: BOUNCED },
  [EmailMove.REJECT]: { from: [SENDING, SENT], to: FAILED },
  [EmailMove.CANCEL]: { from: [PENDING], to: CANCELED },
  [EmailMove.REVIVE]: { from: [CANCELED], to: PENDING },
  [EmailMove.RETRY]: { from: [FAILED, UNKNOWN], to: PENDING },
};

export enum EnrollmentMove {
  PAUSE = 'PAUSE',
  RESUME = 'RESUME',
  STOP = 'STOP',
  /** Nothing is left to send. */
  COMPLETE = 'COMPLETE',
  /** A retried email of a completed enrollment makes it live again. */
  REOPEN = 'REOPEN',
}

const { ACTIVE, PAUSED, COMPLETED, STOPPED } = EnrollmentStatus;

export const ENROLLMENT_MOVES: Readonly<Record<EnrollmentMove, Move<EnrollmentStatus>>> = {
  [EnrollmentMove.PAUSE]: { from: [ACTIVE], to: PAUSED },
  [EnrollmentMove.RESUME]: { from: [PAUSED], to: ACTIVE },
  [EnrollmentMove.STOP]: { from: [ACTIVE, PAUSED], to: STOPPED },
  [EnrollmentMove.COMPLETE]: { from: [ACTIVE], to: COMPLETED },
  [EnrollmentMove.REOPEN]: { from: [COMPLETED], to: ACTIVE },
};

/** The status a new row starts in. */
export const INITIAL_EMAIL_STATUS = PENDING;
export const INITIAL_ENROLLMENT_STATUS = ACTIVE;

/** Emails a dispatcher may still hand over or is handing over: an enrollment with one is not finished. */
export const UNSENT_EMAIL: readonly EmailStatus[] = [PENDING, SENDING];

/**
 * Emails whose engagement is real: SES has (or may have, while SENDING: outcomes are settled in groups) delivered
 * them. FAILED, UNKNOWN, CANCELED and PENDING are not: an open of one of those is not recorded.
 */
export const ENGAGEABLE_EMAIL: readonly EmailStatus[] = [SENDING, SENT, OPENED, CLICKED, BOUNCED];

/** Emails SES accepted (engagement may be recorded through the API for these). */
export const DELIVERED_EMAIL: readonly EmailStatus[] = [SENT, OPENED, CLICKED, BOUNCED];

/** Whether `move` may start from `status`. */
export function canMove<S extends string>(move: Move<S>, status: S): boolean {
  return move.from.includes(status);
}

/**
 * `column = 'A'` or `column in ('A', 'B')`, the statuses as SQL literals: statement texts stay constant (one plan
 * each, prepared statements included) and partial indexes (`where "status" = …` with a literal) still match.
 * `column` is trusted code (`s.status`), never input.
 */
export function statusIn(column: string, statuses: readonly (EmailStatus | EnrollmentStatus)[]): RawBuilder<unknown> {
  const ref = sql.raw(column);
  if (statuses.length === 1) return sql`${ref} = ${sql.lit(statuses[0]!)}`;
  return sql`${ref} in (${sql.join(statuses.map((status) => sql.lit(status)))})`;
}

/** One status as an SQL literal (see statusIn). */
export function statusLiteral(status: EmailStatus | EnrollmentStatus): RawBuilder<unknown> {
  return sql.lit(status);
}
