import type { EntityManager } from '@mikro-orm/postgresql';
import { DateTime } from 'luxon';
import { uuidv7 } from '../core/ids.js';
import { json, query, sql } from '../db/sql.js';
import { publish, type RealtimeEvent } from '../state/events.js';
import { addEmails, cancelEmails, emailChanged, reviveEmails } from '../state/email-state.js';
import { completeEnrollments, enrollmentsCompleted } from '../state/enrollment-state.js';
import { statusIn } from '../state/transitions.js';
import type { EmailSequence } from '../model/email-sequence.entity.js';
import { scheduleSteps, scheduleTimeZone } from './enrollment.service.js';
import type { Company } from '../model/company.entity.js';
import type { UpdateSequenceInput } from '../sequences/dto/sequence.input.js';
import { applySequenceUpdate } from '../sequences/sequence.service.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';
import type { StepDelay } from '../sequences/schedule.js';
import type { CompanyScope } from '../model/scope.js';

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
  const existing = await query<ExistingEmail>(
    em,
    sql`select id, enrollment_id, email_number, status from sequence_email where enrollment_id = any(${ids}::uuid[])`,
  );
  const plan = planSchedule(input, existing);

  if (plan.moves.length > 0) {
    await query(
      em,
      sql`update sequence_email s set scheduled_send_date = t.at, updated_at = ${now}
          from jsonb_to_recordset(${json(plan.moves)}) as t(id uuid, at timestamptz)
          where s.id = t.id and ${statusIn('s.status', [EmailStatus.PENDING])}`,
    );
  }
  // Realtime events for the emails whose status actually changed (the rows each write returns).
  const changedEmails: { id: string; status: EmailStatus }[] = [];
  if (plan.revivals.length > 0) {
    changedEmails.push(...(await reviveEmails(em, plan.revivals, now)).map((row) => ({ id: row.id, status: EmailStatus.PENDING })));
  }
  if (plan.cancels.length > 0) {
    changedEmails.push(...(await cancelEmails(em, { ids: plan.cancels }, now)).map((row) => ({ id: row.id, status: EmailStatus.CANCELED })));
  }
  if (plan.inserts.length > 0) await addEmails(em, { companyId: input.companyId, sequenceId: sequence.id, now, emails: plan.inserts });
  // An active enrollment left with nothing to send (its remaining steps were removed) is complete.
  const completed = await completeEnrollments(em, ids, now);

  const enrollmentOf = new Map(existing.map((row) => [row.id, row.enrollment_id]));
  const leadOf = new Map(input.enrollments.map((e) => [e.enrollmentId, e.leadId]));
  const events: RealtimeEvent[] = changedEmails.map(({ id, status }) => {
    const enrollmentId = enrollmentOf.get(id)!;
    return emailChanged(
      { id, company_id: input.companyId, lead_id: leadOf.get(enrollmentId)!, sequence_id: sequence.id, enrollment_id: enrollmentId },
      status,
      now,
    );
  });
  events.push(...enrollmentsCompleted(completed, now));
  await publish(em, events);
}

interface ExistingEmail {
  id: string;
  enrollment_id: string;
  email_number: number;
  status: EmailStatus;
}

/**
 * What applySchedule changes, decided from the emails as they are: pending ones move to their step's date (or are
 * canceled when the step is gone), canceled ones whose step is back revive, missing steps get a new email.
 */
function planSchedule(input: { sequence: EmailSequence; enrollments: EnrollmentBase[]; now: Date; addMissing: boolean }, existing: ExistingEmail[]) {
  const { sequence, now } = input;
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
      if (email.status === EmailStatus.PENDING) {
        if (date) moves.push({ id: email.id, at: date.toISOString() });
        else cancels.push(email.id);
      } else if (email.status === EmailStatus.CANCELED && date && input.addMissing) {
        // In a live enrollment only a removed step cancels an email: the step is back, so is its email.
        revivals.push({ id: email.id, at: date.toISOString() });
      }
    }
    if (input.addMissing) {
      const present = new Set(emails.map((e) => e.email_number));
      dates.forEach((date, index) => {
        if (!present.has(index + 1)) {
          inserts.push({
            id: uuidv7(now.getTime()),
            enrollment_id: enrollment.enrollmentId,
            lead_id: enrollment.leadId,
            email_number: index + 1,
            scheduled_send_date: date.toISOString(),
          });
        }
      });
    }
  }
  return { moves, cancels, revivals, inserts };
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
export async function updateSequence(scope: CompanyScope, id: string, input: UpdateSequenceInput): Promise<EmailSequence> {
  const { em, now } = scope;
  const company = await scope.company();
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
        where e.sequence_id = ${sequence.id}::uuid and ${statusIn('e.status', [EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED])}`,
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
