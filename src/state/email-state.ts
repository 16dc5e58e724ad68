import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { json, query, sql } from '../db/sql.js';
import { ActivityType } from '../model/activity.entity.js';
import type { EmailKeys } from '../model/email-keys.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';
import { Topic, type EmailStatusChangedEvent } from './events.js';
import type { ActivityRecord } from './timeline.js';
import { EMAIL_MOVES, EmailMove, INITIAL_EMAIL_STATUS, statusIn, statusLiteral } from './transitions.js';

/*
 * The only code that changes `sequence_email.status`. Every write is set-based and guarded by its move's
 * "from" statuses (see transitions.ts), and returns the rows it actually changed, so callers publish and record
 * exactly those.
 */

/** Where an email sits: enough to address its realtime event and timeline row. */
export type EmailPlace = Omit<EmailKeys, 'email_number'>;

/** The realtime event of an email that just took `status`. */
export function emailChanged(email: EmailPlace, status: EmailStatus, at: Date): EmailStatusChangedEvent {
  return {
    topic: Topic.EmailStatusChanged,
    companyId: email.company_id,
    leadId: email.lead_id,
    sequenceId: email.sequence_id,
    enrollmentId: email.enrollment_id,
    emailId: email.id,
    status,
    at: at.toISOString(),
  };
}

// ---- Dispatch: claim, settle, abandon ----

/** The guard of a due email (status PENDING), for the claim's selection. */
export function claimable(alias: string): RawBuilder<unknown> {
  return statusIn(`${alias}.status`, EMAIL_MOVES[EmailMove.CLAIM].from);
}

/**
 * PENDING → SENDING for the rows of the CTE `due` (selected with `claimable` and `FOR UPDATE SKIP LOCKED`), for
 * this worker: the statement's final part, returning the claimed emails with their attempt number, the lead's
 * address it records as the email's `to_address` (what unsubscribes and SES events act on later), and the claim's
 * fencing token. The claim's time is the database's (`clock_timestamp()`), the one clock every sweeper compares
 * leases with, whatever the worker's own clock says.
 */
export function markClaimed(input: { now: Date; workerId: string }): RawBuilder<unknown> {
  return sql`update sequence_email s
             set status = ${statusLiteral(EMAIL_MOVES[EmailMove.CLAIM].to)}, attempts = s.attempts + 1, claimed_at = clock_timestamp(), claimed_by = ${input.workerId},
                 claim_token = gen_random_uuid(), offered_at = null, updated_at = ${input.now}, to_address = (select l.email from lead l where l.id = s.lead_id)
             from due where s.id = due.id
             returning s.id, s.company_id, s.lead_id, s.sequence_id, s.enrollment_id, s.email_number, s.attempts, s.to_address, s.claim_token`;
}

/** Where a claimed email can go when its dispatcher settles it, and by which move. */
const SETTLE = {
  [EmailStatus.SENT]: EmailMove.SEND,
  [EmailStatus.FAILED]: EmailMove.FAIL,
  [EmailStatus.UNKNOWN]: EmailMove.LOSE,
  [EmailStatus.PENDING]: EmailMove.REQUEUE,
  [EmailStatus.CANCELED]: EmailMove.DROP,
} as const;
export type SettledStatus = keyof typeof SETTLE;
/** Each outcome's own guard: `t.status` (the outcome) may land only where its move starts. */
const SETTLE_GUARD = sql`case t.status ${sql.join(
  Object.entries(SETTLE).map(([status, move]) => sql`when ${sql.lit(status)} then ${statusIn('s.status', EMAIL_MOVES[move].from)}`),
  sql` `,
)} else false end`;

export interface Settlement {
  id: string;
  /** The claim's fencing token: only the claim that holds the email settles it. */
  token: string;
  status: SettledStatus;
  sent_at: string | null;
  message_id: string | null;
  reason: string | null;
  subject: string | null;
  html: string | null;
  text: string | null;
  links: string[] | null;
  retry_at: string | null;
  /** 1 when this attempt must not count (throttling, paused account). */
  refund: number;
}

/**
 * Writes a dispatcher's outcomes in one statement, only for emails their claim still holds (same fencing token,
 * which only the next claim replaces) and only where each outcome's move starts: SENDING; UNKNOWN when a sweeper
 * gave the claim up before its outcome arrived; for SENT also PENDING, when an operator re-queued it meanwhile
 * (SES took it: it is not sent twice). Returns what moved.
 */
export function settleClaimed(em: EntityManager, rows: Settlement[], input: { now: Date }): Promise<{ id: string; status: SettledStatus }[]> {
  return query<{ id: string; status: SettledStatus }>(
    em,
    sql`update sequence_email s set
          status = t.status, sent_at = coalesce(t.sent_at, s.sent_at), provider_message_id = coalesce(t.message_id, s.provider_message_id),
          failure_reason = t.reason, subject = coalesce(t.subject, s.subject), body_html = coalesce(t.html, s.body_html),
          body_text = coalesce(t.text, s.body_text), links = coalesce(t.links, s.links), scheduled_send_date = coalesce(t.retry_at, s.scheduled_send_date),
          attempts = s.attempts - t.refund, updated_at = ${input.now}
        from jsonb_to_recordset(${json(rows)}) as t(id uuid, token uuid, status text, sent_at timestamptz, message_id text, reason text,
             subject text, html text, text text, links jsonb, retry_at timestamptz, refund int)
        where s.id = t.id and s.claim_token = t.token and ${SETTLE_GUARD}
        returning s.id, s.status`,
  );
}

/**
 * Marks rendered emails as offered to SES, just before sending (fenced like a settle), with their links: a click
 * that beats the SENT outcome (mail scanners follow links within seconds) then finds where it leads. An email whose
 * lease runs out unmarked was certainly never sent (see releaseUnofferedClaims).
 * Returns the ids marked: one not marked (its claim was taken) must not be sent.
 */
export async function markOffered(em: EntityManager, rows: { id: string; token: string; links: string[] | null }[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const marked = await query<{ id: string }>(
    em,
    sql`update sequence_email s set links = coalesce(t.links, s.links), offered_at = clock_timestamp()
        from jsonb_to_recordset(${json(rows)}) as t(id uuid, token uuid, links jsonb)
        where s.id = t.id and s.claim_token = t.token and ${statusIn('s.status', [EmailStatus.SENDING])}
        returning s.id`,
  );
  return new Set(marked.map((row) => row.id));
}

/** The timeline row of a settled email, for the statuses that are news on a lead's timeline (sent, not sent). */
export function settledActivity(
  email: EmailKeys,
  status: SettledStatus,
  at: Date,
  detail: { reason?: string | undefined; messageId?: string | undefined },
): ActivityRecord | undefined {
  if (status !== EmailStatus.SENT && status !== EmailStatus.FAILED && status !== EmailStatus.UNKNOWN) return undefined;
  const sent = status === EmailStatus.SENT;
  return {
    companyId: email.company_id,
    leadId: email.lead_id,
    type: sent ? ActivityType.EMAIL_SENT : ActivityType.EMAIL_FAILED,
    reason: sent
      ? `Email ${email.email_number} sent`
      : `Email ${email.email_number} ${status === EmailStatus.UNKNOWN ? 'outcome unknown' : 'failed'}: ${detail.reason}`,
    data: { emailId: email.id, sequenceId: email.sequence_id, enrollmentId: email.enrollment_id, ...(detail.messageId ? { messageId: detail.messageId } : {}) },
    occurredAt: at,
  };
}

/** Whether a settled email leaves nothing more for its dispatcher to do (its enrollment may be complete). */
export function isFinal(status: SettledStatus): boolean {
  return status === EmailStatus.SENT || status === EmailStatus.FAILED || status === EmailStatus.UNKNOWN;
}

/**
 * SENDING past the claim lease, offered to SES → UNKNOWN: their worker died mid-send, and SES may or may not have them. The lease
 * is timed by the database's clock, like the claim: no worker's or sweeper's clock enters. Returns the emails
 * moved, with the worker that held them.
 */
export function abandonExpiredClaims(
  em: EntityManager,
  now: Date,
  leaseSeconds: number,
): Promise<(EmailKeys & { claimed_by: string | null; delivered_at: Date | null })[]> {
  const move = EMAIL_MOVES[EmailMove.ABANDON];
  return query<EmailKeys & { claimed_by: string | null; delivered_at: Date | null }>(
    em,
    sql`update sequence_email
        set status = ${statusLiteral(move.to)}, updated_at = ${now},
            failure_reason = 'The dispatcher (' || coalesce(claimed_by, '?') || ') stopped while handing this email to SES. '
                             || 'It was not re-sent automatically; use retryEmail if it did not arrive.'
        where ${statusIn('status', move.from)} and claimed_at < clock_timestamp() - make_interval(secs => ${leaseSeconds})
          and (offered_at is not null or claim_token is null)
        returning id, company_id, lead_id, sequence_id, enrollment_id, email_number, claimed_by, delivered_at`,
  );
}

/**
 * SENDING past the claim lease and never offered to SES → PENDING, the attempt refunded: their claim's answer was
 * lost, or their worker stopped before sending; SES certainly never saw them. Returns how many.
 */
export async function releaseUnofferedClaims(em: EntityManager, now: Date, leaseSeconds: number): Promise<number> {
  const { from, to } = EMAIL_MOVES[EmailMove.RELEASE];
  const released = await query<{ id: string }>(
    em,
    sql`update sequence_email set status = ${statusLiteral(to)}, attempts = greatest(attempts - 1, 0), updated_at = ${now}
        where ${statusIn('status', from)} and claimed_at < clock_timestamp() - make_interval(secs => ${leaseSeconds})
          and claim_token is not null and offered_at is null
        returning id`,
  );
  return released.length;
}

/** The timeline rows of emails abandonExpiredClaims moved. */
export function abandonedActivities(emails: EmailKeys[], now: Date): ActivityRecord[] {
  return emails.map((e) => ({
    companyId: e.company_id,
    leadId: e.lead_id,
    type: ActivityType.EMAIL_FAILED,
    reason: `Email ${e.email_number}: outcome unknown (its dispatcher stopped mid-send); not re-sent automatically`,
    data: { emailId: e.id },
    occurredAt: now,
  }));
}

// ---- Engagement and SES events ----

/** The status an email takes on a human open or click: the move's target when the table allows it, else its own. */
export function engagedStatus(status: EmailStatus, kind: 'OPEN' | 'CLICK'): EmailStatus {
  const move = EMAIL_MOVES[kind === 'OPEN' ? EmailMove.OPEN : EmailMove.CLICK];
  return move.from.includes(status) ? move.to : status;
}

export interface EngagementWrite {
  id: string;
  opens: number;
  clicks: number;
  /** What engagedStatus gave (the same status when nothing moved). */
  status: EmailStatus;
  opened_at: Date | null;
  clicked_at: Date | null;
  /** The first machine open and click (analytics facts, set once): null when there was none. */
  machine_opened_at: Date | null;
  machine_clicked_at: Date | null;
}

const ENGAGE_CASES = sql.join(
  [EMAIL_MOVES[EmailMove.OPEN], EMAIL_MOVES[EmailMove.CLICK]].map(
    (move) => sql`when t.status = ${statusLiteral(move.to)} and ${statusIn('s.status', move.from)} then t.status`,
  ),
  sql` `,
);

/** Adds opens and clicks to locked emails and moves their status where the table allows (else it stays). */
export async function writeEngagement(em: EntityManager, rows: EngagementWrite[], now: Date): Promise<void> {
  await query(
    em,
    sql`update sequence_email s set open_count = s.open_count + t.opens, click_count = s.click_count + t.clicks,
          status = case ${ENGAGE_CASES} else s.status end,
          failure_reason = case when ${statusIn('s.status', [EmailStatus.UNKNOWN])} and t.status <> s.status then null else s.failure_reason end,
          opened_at = t.opened_at, clicked_at = t.clicked_at, updated_at = ${now},
          first_human_open_at = coalesce(s.first_human_open_at, t.opened_at), first_human_click_at = coalesce(s.first_human_click_at, t.clicked_at),
          first_machine_open_at = coalesce(s.first_machine_open_at, t.machine_opened_at),
          first_machine_click_at = coalesce(s.first_machine_click_at, t.machine_clicked_at)
        from jsonb_to_recordset(${json(rows)}) as t(id uuid, opens int, clicks int, status text, opened_at timestamptz, clicked_at timestamptz,
             machine_opened_at timestamptz, machine_clicked_at timestamptz)
        where s.id = t.id`,
  );
}

/** Moves one email (of `company_id`) by `move`, recording `reason`; the event when it moved, else null. */
export async function moveEmail(
  em: EntityManager,
  email: EmailPlace,
  move: EmailMove.BOUNCE | EmailMove.REJECT,
  reason: string,
  now: Date,
): Promise<EmailStatusChangedEvent | null> {
  const { from, to } = EMAIL_MOVES[move];
  const moved = await query<{ id: string }>(
    em,
    sql`update sequence_email set status = ${statusLiteral(to)}, failure_reason = ${reason}, updated_at = ${now}
        where id = ${email.id}::uuid and company_id = ${email.company_id}::uuid and ${statusIn('status', from)} returning id`,
  );
  return moved.length > 0 ? emailChanged(email, to, now) : null;
}

/**
 * UNKNOWN → SENT on SES's evidence that the email went out (a Delivery event): with the message id SES gave it and
 * its reason cleared. The event when it moved, else null.
 */
export async function confirmSent(
  em: EntityManager,
  email: EmailPlace,
  input: { messageId: string | undefined; at: Date; now: Date },
): Promise<EmailStatusChangedEvent | null> {
  const { from, to } = EMAIL_MOVES[EmailMove.CONFIRM];
  const moved = await query<{ id: string }>(
    em,
    sql`update sequence_email set status = ${statusLiteral(to)}, failure_reason = null, sent_at = coalesce(sent_at, ${input.at}),
          provider_message_id = coalesce(provider_message_id, ${input.messageId ?? null}), updated_at = ${input.now}
        where id = ${email.id}::uuid and company_id = ${email.company_id}::uuid and ${statusIn('status', from)} returning id`,
  );
  return moved.length > 0 ? emailChanged(email, to, input.now) : null;
}

// ---- Schedule: cancel, revive, add, retry ----

/** PENDING → CANCELED, by email ids or by enrollment; returns the emails canceled. */
export function cancelEmails(em: EntityManager, which: { ids: string[] } | { enrollmentIds: string[] }, now: Date): Promise<EmailPlace[]> {
  const { from, to } = EMAIL_MOVES[EmailMove.CANCEL];
  return query<EmailPlace>(
    em,
    sql`update sequence_email set status = ${statusLiteral(to)}, updated_at = ${now}
        where ${'ids' in which ? sql`id = any(${which.ids}::uuid[])` : sql`enrollment_id = any(${which.enrollmentIds}::uuid[])`} and ${statusIn('status', from)}
        returning id, company_id, enrollment_id, lead_id, sequence_id`,
  );
}

/** CANCELED → PENDING at the given dates (held if their enrollment is paused); returns the ids revived. */
export function reviveEmails(em: EntityManager, revivals: { id: string; at: string }[], now: Date): Promise<{ id: string }[]> {
  const { from, to } = EMAIL_MOVES[EmailMove.REVIVE];
  return query<{ id: string }>(
    em,
    sql`update sequence_email s set status = ${statusLiteral(to)}, paused = ${statusIn('e.status', [EnrollmentStatus.PAUSED])}, scheduled_send_date = t.at, updated_at = ${now}
        from jsonb_to_recordset(${json(revivals)}) as t(id uuid, at timestamptz), enrollment e
        where s.id = t.id and e.id = s.enrollment_id and ${statusIn('s.status', from)}
        returning s.id`,
  );
}

/** New PENDING emails for existing enrollments (held if the enrollment is paused). */
export async function addEmails(
  em: EntityManager,
  input: {
    companyId: string;
    sequenceId: string;
    now: Date;
    emails: { id: string; enrollment_id: string; lead_id: string; email_number: number; scheduled_send_date: string }[];
  },
): Promise<void> {
  const { companyId, sequenceId, now } = input;
  await query(
    em,
    sql`insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, status, paused, created_at, updated_at)
        select t.id, ${companyId}::uuid, t.enrollment_id, t.lead_id, ${sequenceId}::uuid, t.email_number, t.scheduled_send_date, ${statusLiteral(INITIAL_EMAIL_STATUS)},
               ${statusIn('e.status', [EnrollmentStatus.PAUSED])}, ${now}, ${now}
        from jsonb_to_recordset(${json(input.emails)}) as t(id uuid, enrollment_id uuid, lead_id uuid, email_number int, scheduled_send_date timestamptz)
        join enrollment e on e.id = t.enrollment_id`,
  );
}

/**
 * The insert of the emails of enrollments being created, as a CTE body for the enrolling statement: rows of
 * `emails` (parallel arrays) whose enrollment is in `created` (a CTE yielding id, lead_id) become PENDING.
 */
export function newEmailsInsert(
  input: { companyId: string; sequenceId: string; at: Date; emails: { id: string[]; enrollment: string[]; number: number[]; at: string[] } },
  created: RawBuilder<unknown>,
): RawBuilder<unknown> {
  const { companyId, sequenceId, at, emails } = input;
  return sql`insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, status, created_at, updated_at)
      select e.id, ${companyId}::uuid, c.id, c.lead_id, ${sequenceId}::uuid, e.number, e.at, ${statusLiteral(INITIAL_EMAIL_STATUS)}, ${at}, ${at}
      from unnest(${emails.id}::uuid[], ${emails.enrollment}::uuid[], ${emails.number}::int[], ${emails.at}::timestamptz[]) as e(id, enrollment_id, number, at)
      join ${created} c on c.id = e.enrollment_id`;
}

/** Whether an operator may re-queue an email in `status` (FAILED or UNKNOWN). */
export function isRetryable(status: EmailStatus): boolean {
  return EMAIL_MOVES[EmailMove.RETRY].from.includes(status);
}

/**
 * FAILED or UNKNOWN → PENDING, due now, with a fresh attempt count; false when the email was in neither. Its old
 * claim's token stays until the next claim: should that claim's SENT outcome still arrive (it was swept while the
 * database was away, say), it lands, and the email is not sent twice.
 */
export async function retryEmailNow(em: EntityManager, input: { id: string; companyId: string; now: Date }): Promise<boolean> {
  const { from, to } = EMAIL_MOVES[EmailMove.RETRY];
  const moved = await query<{ id: string }>(
    em,
    sql`update sequence_email set status = ${statusLiteral(to)}, scheduled_send_date = ${input.now}, failure_reason = null, attempts = 0,
          claimed_at = null, claimed_by = null, updated_at = ${input.now}
        where id = ${input.id}::uuid and company_id = ${input.companyId}::uuid and ${statusIn('status', from)}
          -- Evidence that it arrived (a Delivery event, an open or click, even by a machine) may land after the caller
          -- read the email: checked again here, under the row's lock, so a delivered email is never re-sent.
          and delivered_at is null and open_count = 0 and click_count = 0
        returning id`,
  );
  return moved.length > 0;
}
