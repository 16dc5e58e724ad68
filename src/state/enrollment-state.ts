import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { query, sql } from '../db/sql.js';
import { ActivityType } from '../model/activity.entity.js';
import type { EnrollmentStatus, StopReason } from '../model/sequence.enums.js';
import { cancelEmails, emailChanged, type EmailPlace } from './email-state.js';
import { publish, Topic, type EnrollmentChangedEvent, type RealtimeEvent } from './events.js';
import { recordActivities, type ActivityRecord } from './timeline.js';
import { EMAIL_MOVES, EmailMove, ENROLLMENT_MOVES, EnrollmentMove, INITIAL_ENROLLMENT_STATUS, statusIn, statusLiteral, UNSENT_EMAIL } from './transitions.js';

/*
 * The only code that changes `enrollment.status` (and the `paused` hold its pause puts on its emails). Writes
 * are guarded by the move's "from" statuses (transitions.ts) and return what they changed.
 */

/** Where an enrollment sits: enough to address its realtime event. */
export interface EnrollmentPlace {
  id: string;
  company_id: string;
  lead_id: string;
  sequence_id: string;
}

/** The realtime event of an enrollment that just took `status`. */
export function enrollmentChanged(enrollment: EnrollmentPlace, status: EnrollmentStatus, stopReason: StopReason | null, at: Date): EnrollmentChangedEvent {
  return {
    topic: Topic.EnrollmentChanged,
    companyId: enrollment.company_id,
    leadId: enrollment.lead_id,
    sequenceId: enrollment.sequence_id,
    enrollmentId: enrollment.id,
    status,
    stopReason,
    at: at.toISOString(),
  };
}

/**
 * The insert of new enrollments (ACTIVE), as a CTE body for the enrolling statement: one per row of `candidates`
 * (a CTE yielding id, lead_id); a lead already in the sequence is skipped by the unique key. Yields id, lead_id.
 */
export function newEnrollmentsInsert(input: { companyId: string; sequenceId: string; at: Date }, candidates: RawBuilder<unknown>): RawBuilder<unknown> {
  const { companyId, sequenceId, at } = input;
  return sql`insert into enrollment (id, company_id, lead_id, sequence_id, status, started_at, created_at, updated_at)
      select c.id, ${companyId}::uuid, c.lead_id, ${sequenceId}::uuid, ${statusLiteral(INITIAL_ENROLLMENT_STATUS)}, ${at}, ${at}, ${at} from ${candidates} c
      on conflict (lead_id, sequence_id) do nothing
      returning id, lead_id`;
}

/** The event of an enrollment just created. */
export function enrollmentStarted(enrollment: EnrollmentPlace, at: Date): EnrollmentChangedEvent {
  return enrollmentChanged(enrollment, INITIAL_ENROLLMENT_STATUS, null, at);
}

/**
 * A pause by hand: ACTIVE → PAUSED, its unsent emails held out of the due indexes, and the timeline row. An
 * enrollment an out-of-office paused (PAUSED with `resume_at`) stays PAUSED but loses its date, so the auto-resume
 * job leaves it for a resume by hand (its own timeline row says so). Returns the event when the status moved (a
 * cleared date is no status change), so the caller publishes exactly that; null when nothing changed (already
 * paused by hand, or finished).
 */
export async function pauseEnrollment(em: EntityManager, enrollment: EnrollmentPlace, now: Date): Promise<{ event: EnrollmentChangedEvent | null } | null> {
  const { id } = enrollment;
  const { from, to } = ENROLLMENT_MOVES[EnrollmentMove.PAUSE];
  const [row] = await query<{ previous: EnrollmentStatus }>(
    em,
    sql`with before as (
          select id, status from enrollment
          where id = ${id}::uuid and (${statusIn('status', from)} or (${statusIn('status', [to])} and resume_at is not null))
          for update)
        update enrollment e set status = ${statusLiteral(to)}, paused_at = case when ${statusIn('before.status', from)} then ${now} else e.paused_at end,
               resume_at = null, updated_at = ${now}
        from before where e.id = before.id returning before.status as previous`,
  );
  if (!row) return null;
  const moved = row.previous !== to;
  // A SENDING one too, should SES throttling hand it back.
  await query(em, sql`update sequence_email set paused = true where enrollment_id = ${id}::uuid and ${statusIn('status', UNSENT_EMAIL)} and not paused`);
  await recordActivities(em, [
    {
      companyId: enrollment.company_id,
      leadId: enrollment.lead_id,
      type: ActivityType.ENROLLMENT_PAUSED,
      reason: moved
        ? 'Enrollment paused'
        : 'Enrollment paused by hand: the return date of the out-of-office that paused it is cleared, so it is no longer resumed then',
      data: { enrollmentId: id },
      occurredAt: now,
    },
  ]);
  return { event: moved ? enrollmentChanged(enrollment, to, null, now) : null };
}

/**
 * ACTIVE → PAUSED until `resumeAt` (an out-of-office reply), its unsent emails held, and the timeline row with
 * `reason`; an enrollment an earlier out-of-office paused takes the new date. A pause by hand (no date) and a
 * finished enrollment are left alone: null. Returns the event when the status moved (a date change is no status
 * change), so the caller publishes exactly that.
 */
export async function pauseEnrollmentUntil(
  em: EntityManager,
  enrollment: EnrollmentPlace,
  input: { resumeAt: Date; reason: string; now: Date; data?: Record<string, unknown> },
): Promise<{ event: EnrollmentChangedEvent | null } | null> {
  const { id } = enrollment;
  const { resumeAt, now } = input;
  const { from, to } = ENROLLMENT_MOVES[EnrollmentMove.PAUSE_UNTIL];
  const [row] = await query<{ previous: EnrollmentStatus }>(
    em,
    sql`with before as (
          select id, status from enrollment
          where id = ${id}::uuid and ${statusIn('status', from)} and (${statusIn('status', ENROLLMENT_MOVES[EnrollmentMove.PAUSE].from)} or resume_at is not null)
          for update)
        update enrollment e set status = ${statusLiteral(to)}, paused_at = coalesce(e.paused_at, ${now}), resume_at = ${resumeAt}, updated_at = ${now}
        from before where e.id = before.id returning before.status as previous`,
  );
  if (!row) return null;
  await query(em, sql`update sequence_email set paused = true where enrollment_id = ${id}::uuid and ${statusIn('status', UNSENT_EMAIL)} and not paused`);
  await recordActivities(em, [
    {
      companyId: enrollment.company_id,
      leadId: enrollment.lead_id,
      type: ActivityType.ENROLLMENT_PAUSED,
      reason: input.reason,
      data: { enrollmentId: id, resumeAt: resumeAt.toISOString(), ...input.data },
      occurredAt: now,
    },
  ]);
  return { event: row.previous === to ? null : enrollmentChanged(enrollment, to, null, now) };
}

/**
 * PAUSED → ACTIVE from a new schedule base (null: keep it), and its emails released; false when it was not paused.
 * The caller reschedules the emails and then writes resumedActivity.
 */
export async function resumeEnrollment(em: EntityManager, id: string, startedAt: Date | null, now: Date): Promise<boolean> {
  const { from, to } = ENROLLMENT_MOVES[EnrollmentMove.RESUME];
  const moved = await query<{ id: string }>(
    em,
    sql`update enrollment set status = ${statusLiteral(to)}, paused_at = null, resume_at = null, started_at = coalesce(${startedAt}::timestamptz, started_at), updated_at = ${now}
        where id = ${id}::uuid and ${statusIn('status', from)} returning id`,
  );
  if (moved.length === 0) return false;
  await query(em, sql`update sequence_email set paused = false where enrollment_id = ${id}::uuid and paused`);
  return true;
}

/** The timeline row of a resumed enrollment. */
export function resumedActivity(enrollment: EnrollmentPlace, now: Date): ActivityRecord {
  return {
    companyId: enrollment.company_id,
    leadId: enrollment.lead_id,
    type: ActivityType.ENROLLMENT_RESUMED,
    reason: 'Enrollment resumed; remaining emails rescheduled from now',
    data: { enrollmentId: enrollment.id },
    occurredAt: now,
  };
}

/** COMPLETED → ACTIVE (an email of it was retried); false when it was not completed. */
export async function reopenEnrollment(em: EntityManager, id: string, now: Date): Promise<boolean> {
  const { from, to } = ENROLLMENT_MOVES[EnrollmentMove.REOPEN];
  const moved = await query<{ id: string }>(
    em,
    sql`update enrollment set status = ${statusLiteral(to)}, ended_at = null, updated_at = ${now} where id = ${id}::uuid and ${statusIn('status', from)} returning id`,
  );
  return moved.length > 0;
}

/** ACTIVE → COMPLETED for those of `ids` with nothing left to send; returns the enrollments completed. */
export function completeEnrollments(em: EntityManager, ids: string[], now: Date): Promise<EnrollmentPlace[]> {
  const { from, to } = ENROLLMENT_MOVES[EnrollmentMove.COMPLETE];
  return query<EnrollmentPlace>(
    em,
    sql`update enrollment e set status = ${statusLiteral(to)}, ended_at = ${now}, updated_at = ${now}
        where e.id = any(${ids}::uuid[]) and ${statusIn('e.status', from)}
          and not exists (select 1 from sequence_email s where s.enrollment_id = e.id and ${statusIn('s.status', UNSENT_EMAIL)})
        returning e.id, e.lead_id, e.company_id, e.sequence_id`,
  );
}

/** The events of enrollments completeEnrollments completed. */
export function enrollmentsCompleted(completed: EnrollmentPlace[], now: Date): EnrollmentChangedEvent[] {
  return completed.map((e) => enrollmentChanged(e, ENROLLMENT_MOVES[EnrollmentMove.COMPLETE].to, null, now));
}

/** The timeline rows of enrollments completed because their last email went out. */
export function completedActivities(completed: EnrollmentPlace[], now: Date): ActivityRecord[] {
  return completed.map((e) => ({
    companyId: e.company_id,
    leadId: e.lead_id,
    type: ActivityType.ENROLLMENT_COMPLETED,
    reason: 'Sequence completed: the last email was sent',
    data: { enrollmentId: e.id, sequenceId: e.sequence_id },
    occurredAt: now,
  }));
}

/**
 * ACTIVE or PAUSED → STOPPED (set-based, by ids or by lead) and their pending emails canceled, with timeline rows
 * and realtime events; used by stop, delete, unsubscribe and bounces. Runs in the caller's transaction.
 */
export async function stopEnrollments(
  em: EntityManager,
  input: { companyId: string; enrollmentIds?: string[]; leadId?: string; reason: StopReason; now: Date },
): Promise<{ enrollmentIds: string[]; canceledEmails: number }> {
  const { companyId, reason, now } = input;
  const stopped = await query<EnrollmentPlace>(
    em,
    sql`${stopUpdate({ companyId, reason, now }, input.enrollmentIds ? sql`id = any(${input.enrollmentIds}::uuid[])` : sql`lead_id = ${input.leadId!}::uuid`)}`,
  );
  if (stopped.length === 0) return { enrollmentIds: [], canceledEmails: 0 };
  const ids = stopped.map((row) => row.id);
  const canceled = await cancelEmails(em, { enrollmentIds: ids }, now);
  await recordActivities(em, stoppedActivities(stopped, reason, now));
  await publish(em, stoppedEvents(stopped, canceled, reason, now));
  return { enrollmentIds: ids, canceledEmails: canceled.length };
}

/** The STOP update of the enrollments of `companyId` that `which` (a condition on enrollment) selects; yields their places. */
function stopUpdate(input: { companyId: string; reason: StopReason; now: Date }, which: RawBuilder<unknown>): RawBuilder<unknown> {
  const { companyId, reason, now } = input;
  const { from, to } = ENROLLMENT_MOVES[EnrollmentMove.STOP];
  return sql`update enrollment set status = ${statusLiteral(to)}, stop_reason = ${reason}, ended_at = ${now}, paused_at = null, resume_at = null, updated_at = ${now}
        where company_id = ${companyId}::uuid and ${statusIn('status', from)} and ${which}
        returning id, company_id, lead_id, sequence_id`;
}

/**
 * stopEnrollments for one enrollment as two CTEs of a larger statement, acting only when `guard` (a condition of
 * that statement) holds: `stopped` (the enrollment, if it was stopped: id, company_id, lead_id, sequence_id) and
 * `canceled` (its pending emails: id, company_id, enrollment_id, lead_id, sequence_id). The caller writes
 * stoppedActivities and publishes stoppedEvents of what they yield.
 */
export function stopEnrollmentCtes(
  input: { companyId: string; enrollmentId: string; reason: StopReason; now: Date },
  guard: RawBuilder<unknown>,
): RawBuilder<unknown> {
  const { from, to } = EMAIL_MOVES[EmailMove.CANCEL];
  return sql`stopped as (${stopUpdate(input, sql`id = ${input.enrollmentId}::uuid and ${guard}`)}),
        canceled as (
          update sequence_email set status = ${statusLiteral(to)}, updated_at = ${input.now}
          where enrollment_id in (select id from stopped) and ${statusIn('status', from)}
          returning id, company_id, enrollment_id, lead_id, sequence_id)`;
}

/** The timeline rows of stopped enrollments. */
export function stoppedActivities(stopped: EnrollmentPlace[], reason: StopReason, now: Date): ActivityRecord[] {
  return stopped.map((row) => ({
    companyId: row.company_id,
    leadId: row.lead_id,
    type: ActivityType.ENROLLMENT_STOPPED,
    reason: `Enrollment stopped (${reason.toLowerCase().replace(/_/g, ' ')}); pending emails canceled`,
    data: { enrollmentId: row.id },
    occurredAt: now,
  }));
}

/** The events of stopped enrollments and of their emails canceled with them. */
export function stoppedEvents(stopped: EnrollmentPlace[], canceled: EmailPlace[], reason: StopReason, now: Date): RealtimeEvent[] {
  return [
    ...stopped.map((row) => enrollmentChanged(row, ENROLLMENT_MOVES[EnrollmentMove.STOP].to, reason, now)),
    ...canceled.map((row) => emailChanged(row, EMAIL_MOVES[EmailMove.CANCEL].to, now)),
  ];
}
