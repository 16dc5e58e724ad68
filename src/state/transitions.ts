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
  /** The claim's lease ran out before its dispatcher offered it to SES: certainly never sent, back to the queue. */
  RELEASE = 'RELEASE',
  OPEN = 'OPEN',
  CLICK = 'CLICK',
  /** A permanent bounce ends engagement too (a scanner's click may have come first; an UNKNOWN one was sent after all). */
  BOUNCE = 'BOUNCE',
  /** SES accepted the send, then reported it did not go out (reject, rendering failure). */
  REJECT = 'REJECT',
  /** Its enrollment stopped, or its step was removed. */
  CANCEL = 'CANCEL',
  /** Its step came back while the enrollment is live. */
  REVIVE = 'REVIVE',
  /** An operator re-queues a failed or unknown one on purpose. */
  RETRY = 'RETRY',
  /** SES reported an email of unknown outcome delivered: it was sent. */
  CONFIRM = 'CONFIRM',
  /** The lead answered it (a person; auto-replies do not move it). An UNKNOWN one was delivered after all. */
  REPLY = 'REPLY',
}

const { PENDING, SENDING, SENT, OPENED, CLICKED, REPLIED, BOUNCED, FAILED, UNKNOWN, CANCELED } = EmailStatus;

/**
 * Where a claim's own outcome may land: SENDING, or UNKNOWN when a sweeper gave the claim up before the outcome
 * arrived (the settle is fenced by the claim's token, so only that claim's outcome lands, and it is the truth).
 * SES's acceptance lands on a PENDING one too, re-queued by an operator meanwhile and not claimed again yet.
 */
const CLAIMED: EmailStatus[] = [SENDING, UNKNOWN];

export const EMAIL_MOVES: Readonly<Record<EmailMove, Move<EmailStatus>>> = {
  [EmailMove.CLAIM]: { from: [PENDING], to: SENDING },
  [EmailMove.SEND]: { from: [...CLAIMED, PENDING], to: SENT },
  [EmailMove.FAIL]: { from: CLAIMED, to: FAILED },
  [EmailMove.LOSE]: { from: CLAIMED, to: UNKNOWN },
  [EmailMove.REQUEUE]: { from: CLAIMED, to: PENDING },
  [EmailMove.DROP]: { from: CLAIMED, to: CANCELED },
  [EmailMove.ABANDON]: { from: [SENDING], to: UNKNOWN },
  [EmailMove.RELEASE]: { from: [SENDING], to: PENDING },
  [EmailMove.OPEN]: { from: [SENT, UNKNOWN], to: OPENED },
  [EmailMove.CLICK]: { from: [SENT, OPENED, UNKNOWN], to: CLICKED },
  [EmailMove.BOUNCE]: { from: [SENT, OPENED, CLICKED, UNKNOWN], to: BOUNCED },
  [EmailMove.REJECT]: { from: [SENDING, SENT], to: FAILED },
  [EmailMove.CANCEL]: { from: [PENDING], to: CANCELED },
  [EmailMove.REVIVE]: { from: [CANCELED], to: PENDING },
  [EmailMove.RETRY]: { from: [FAILED, UNKNOWN], to: PENDING },
  [EmailMove.CONFIRM]: { from: [UNKNOWN], to: SENT },
  [EmailMove.REPLY]: { from: [SENT, OPENED, CLICKED, UNKNOWN], to: REPLIED },
};

export enum EnrollmentMove {
  PAUSE = 'PAUSE',
  RESUME = 'RESUME',
  STOP = 'STOP',
  /** Nothing is left to send. */
  COMPLETE = 'COMPLETE',
  /** A retried email of a completed enrollment makes it live again. */
  REOPEN = 'REOPEN',
  /**
   * An out-of-office reply pauses it until a date: an active one, or one an earlier out-of-office paused (its date
   * moves). A pause by hand (no date) is the operator's and stays as it is.
   */
  PAUSE_UNTIL = 'PAUSE_UNTIL',
}

const { ACTIVE, PAUSED, COMPLETED, STOPPED } = EnrollmentStatus;

export const ENROLLMENT_MOVES: Readonly<Record<EnrollmentMove, Move<EnrollmentStatus>>> = {
  [EnrollmentMove.PAUSE]: { from: [ACTIVE], to: PAUSED },
  [EnrollmentMove.RESUME]: { from: [PAUSED], to: ACTIVE },
  [EnrollmentMove.STOP]: { from: [ACTIVE, PAUSED], to: STOPPED },
  [EnrollmentMove.COMPLETE]: { from: [ACTIVE], to: COMPLETED },
  [EnrollmentMove.REOPEN]: { from: [COMPLETED], to: ACTIVE },
  [EnrollmentMove.PAUSE_UNTIL]: { from: [ACTIVE, PAUSED], to: PAUSED },
};

/** The status a new row starts in. */
export const INITIAL_EMAIL_STATUS = PENDING;
export const INITIAL_ENROLLMENT_STATUS = ACTIVE;

/** Emails a dispatcher may still hand over or is handing over: an enrollment with one is not finished. */
export const UNSENT_EMAIL: readonly EmailStatus[] = [PENDING, SENDING];

/**
 * Emails whose engagement is real: SES has (or may have, while SENDING: outcomes are settled as they come)
 * delivered them. An UNKNOWN one was delivered if a person opens it (its tracking tokens are in no other email):
 * the open is its evidence, and it moves on as a sent one would. FAILED, CANCELED and PENDING are not: an open of
 * one of those is not recorded.
 */
export const ENGAGEABLE_EMAIL: readonly EmailStatus[] = [SENDING, SENT, OPENED, CLICKED, REPLIED, BOUNCED, UNKNOWN];

/** Emails SES accepted (engagement may be recorded through the API for these). */
export const DELIVERED_EMAIL: readonly EmailStatus[] = [SENT, OPENED, CLICKED, REPLIED, BOUNCED];

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
