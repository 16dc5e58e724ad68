import type { EntityManager } from '@mikro-orm/postgresql';
import { DateTime } from 'luxon';
import { uuidv7 } from '../core/ids.js';
import { json, query, sql } from '../db/sql.js';
import { publish, Topic, type RealtimeEvent } from '../state/events.js';
import type { EmailSequence } from '../model/email-sequence.entity.js';
import { scheduleSteps, scheduleTimeZone } from './enrollment.service.js';
import type { Company } from '../model/company.entity.js';
import type { UpdateSequenceInput } from '../sequences/dto/sequence.input.js';
import { applySequenceUpdate } from '../sequences/sequence.service.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';
import type { StepDelay } from '../sequences/schedule.js';

export interface EnrollmentBase {
  enrollmentId: string;
  leadId: string;
  /** Base of the schedule: step n is due at startedAt + delay(n). */
  startedAt: Date;
  timeZone: string;
}

/**
 * Brings the emails not yet sent of some enrollments in line with the sequence as it is now: pending emails get
 * the dates their step gives from the enrollment's base, emails of steps that no longer exist are canceled, and
 * (with `addMissing`) steps that have no email yet get one, or get their canceled one back. Emails already
 * claimed or sent are never touched.
 */
export async function applySchedule(
  em: EntityManager,
  input: { companyId: string; sequence: EmailSequence; enrollments: EnrollmentBase[]; now: Date; addMissing: boolean },
): Promise<void> {
  const { sequence, now } = input;
  if (input.enrollments.length === 0) return;
  const ids = input.enrollments.map((e) => e.enrollmentId);
  const existing = await query<{ id: string; enrollment_id: string; email_number: number; status: string }>(
    em,
    sql`select id, enrollment_id, email_number, status from sequence_email where enrollment_id = any(${ids}::uuid[])`,
  );
  const byEnrollment = Map.groupBy(existing, (row) => row.enrollment_id);

  const moves: { id: string; at: string }[] = [];
  const cancels: string[] = [];
  const revivals: { id: string; at: string }[] = [];
  const inserts: { id: string; enrollment_id: string; lead_id: string; email_number: number; scheduled_send_date: string }[] = [];
  for (const enrollment of input.enrollments) {
    const dates = scheduleSteps(sequence.steps, sequence.sendWindow, enrollment.startedAt, enrollment.timeZone);
    const emails = byEnrollment.get(enrollment.enrollmentId) ?? [];
    for (const email of emails) {
      const date = dates[email.email_number - 1];
      if (email.status === 'PENDING') {
        if (date) moves.push({ id: email.id, at: date.toISOString() });
        else cancels.push(email.id);
      } else if (email.status === 'CANCELED' && date && input.addMissing) {
        // In a live enrollment only a removed step cancels an email: the step is back, so is its email.
        revivals.push({ id: email.id, at: date.toISOString() });
      }
    }
    if (input.addMissing) {
      const present = new Set(emails.map((e) => e.email_number));
      dates.forEach((date, index) => {
        if (!present.has(index + 1)) {
          inserts.push({ id: uuidv7(now.getTime()), enrollment_id: enrollment.enrollmentId, lead_id: enrollment.leadId, email_number: index + 1, scheduled_send_date: date.toISOString() });
        }
      });
    }
  }

  if (moves.length > 0) {
    await query(
      em,
      sql`update sequence_email s set scheduled_send_date = t.at, updated_at = ${now}
          from jsonb_to_recordset(${json(moves)}) as t(id uuid, at timestamptz)
          where s.id = t.id and s.status = 'PENDING'`,
    );
  }
  // Realtime events for the emails whose status actually changed (the `returning` rows).
  const changedEmails: { id: string; status: EmailStatus }[] = [];
  if (revivals.length > 0) {
    const revived = await query<{ id: string }>(
      em,
      sql`update sequence_email s set status = 'PENDING', paused = e.status = 'PAUSED', scheduled_send_date = t.at, updated_at = ${now}
          from jsonb_to_recordset(${json(revivals)}) as t(id uuid, at timestamptz), enrollment e
          where s.id = t.id and e.id = s.enrollment_id and s.status = 'CANCELED'
          returning s.id`,
    );
    changedEmails.push(...revived.map((row) => ({ id: row.id, status: EmailStatus.PENDING })));
  }
  if (cancels.length > 0) {
    const canceled = await query<{ id: string }>(
      em,
      sql`update sequence_email set status = 'CANCELED', updated_at = ${now} where id = any(${cancels}::uuid[]) and status = 'PENDING' returning id`,
    );
    changedEmails.push(...canceled.map((row) => ({ id: row.id, status: EmailStatus.CANCELED })));
  }
  if (inserts.length > 0) {
    await query(
      em,
      sql`insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, status, paused, created_at, updated_at)
          select t.id, ${input.companyId}::uuid, t.enrollment_id, t.lead_id, ${sequence.id}::uuid, t.email_number, t.scheduled_send_date, 'PENDING', e.status = 'PAUSED', ${now}, ${now}
          from jsonb_to_recordset(${json(inserts)}) as t(id uuid, enrollment_id uuid, lead_id uuid, email_number int, scheduled_send_date timestamptz)
          join enrollment e on e.id = t.enrollment_id`,
    );
  }
  // An active enrollment left with nothing to send (its remaining steps were removed) is complete.
  const completed = await query<{ id: string; lead_id: string }>(
    em,
    sql`update enrollment e set status = 'COMPLETED', ended_at = ${now}, updated_at = ${now}
        where e.id = any(${ids}::uuid[]) and e.status = 'ACTIVE'
          and not exists (select 1 from sequence_email s where s.enrollment_id = e.id and s.status in ('PENDING', 'SENDING'))
        returning e.id, e.lead_id`,
  );

  const base = { companyId: input.companyId, sequenceId: sequence.id, at: now.toISOString() };
  const enrollmentOf = new Map(existing.map((row) => [row.id, row.enrollment_id]));
  const leadOf = new Map(input.enrollments.map((e) => [e.enrollmentId, e.leadId]));
  const events: RealtimeEvent[] = changedEmails.map(({ id, status }) => {
    const enrollmentId = enrollmentOf.get(id)!;
    return { ...base, topic: Topic.EmailStatusChanged, leadId: leadOf.get(enrollmentId)!, enrollmentId, emailId: id, status };
  });
  for (const row of completed) {
    events.push({ ...base, topic: Topic.EnrollmentChanged, leadId: row.lead_id, enrollmentId: row.id, status: EnrollmentStatus.COMPLETED, stopReason: null });
  }
  await publish(em, events);
}

/**
 * The schedule base that puts `delay`'s step at `now`: resuming re-spaces the remaining emails from now
 * while keeping their intervals, and later sequence edits keep computing from the same base.
 */
export function baseForStepAt(now: Date, delay: StepDelay, timeZone: string): Date {
  return DateTime.fromJSDate(now, { zone: timeZone }).minus({ hours: delay.delayHours }).minus({ days: delay.delayDays }).toJSDate();
}

/**
 * Updates a sequence; when its steps or send window change, the emails not yet sent of its active and paused
 * enrollments follow (rescheduled, canceled or added) in the same transaction.
 */
export async function updateSequence(em: EntityManager, company: Company, id: string, input: UpdateSequenceInput, now: Date): Promise<EmailSequence> {
  return em.transactional(async (tx) => {
    const { sequence, scheduleChanged } = await applySequenceUpdate(tx, company.id, id, input);
    if (scheduleChanged) await rescheduleEnrollments(tx, company, sequence, now);
    return sequence;
  });
}

async function rescheduleEnrollments(em: EntityManager, company: Company, sequence: EmailSequence, now: Date): Promise<void> {
  const rows = await query<{ id: string; lead_id: string; started_at: Date; timezone: string | null }>(
    em,
    sql`select e.id, e.lead_id, e.started_at, l.timezone from enrollment e join lead l on l.id = e.lead_id
        where e.sequence_id = ${sequence.id}::uuid and e.status in (${EnrollmentStatus.ACTIVE}, ${EnrollmentStatus.PAUSED})`,
  );
  await applySchedule(em, {
    companyId: company.id,
    sequence,
    enrollments: rows.map((row) => ({
      enrollmentId: row.id,
      leadId: row.lead_id,
      startedAt: new Date(row.started_at),
      timeZone: scheduleTimeZone(sequence.sendWindow, row.timezone, company.timezone),
    })),
    now,
    addMissing: true,
  });
}

