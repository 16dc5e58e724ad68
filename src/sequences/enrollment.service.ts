import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from '../db/ids.js';
import { signalEmailsDue } from '../delivery/due-signal.js';
import { json, query, sql } from '../db/sql.js';
import { ActivityType } from '../leads/activity.entity.js';
import { publish, Topic } from '../realtime/events.js';
import { recordActivities } from '../leads/timeline.js';
import type { EmailSequence } from './email-sequence.entity.js';
import { EnrollmentStatus } from './sequence.enums.js';
import { stepSendDate } from './schedule.js';
import { WindowTimeZone, type SequenceStep, type SendWindow } from './sequence-step.js';

export interface EnrollableLead {
  id: string;
  timezone: string | null;
}

export interface NewEnrollment {
  enrollmentId: string;
  leadId: string;
}

const CHUNK = 5_000;

/** The time zone a lead's schedule is computed in: its own, else the company's (or always the company's). */
export function scheduleTimeZone(window: SendWindow | null, leadTimeZone: string | null, companyTimeZone: string): string {
  if (window?.timeZone === WindowTimeZone.COMPANY) return companyTimeZone;
  return leadTimeZone ?? companyTimeZone;
}

/** Send dates of every step for one lead enrolled at `startAt`. */
export function scheduleSteps(steps: SequenceStep[], window: SendWindow | null, startAt: Date, timeZone: string): Date[] {
  return steps.map((step) => stepSendDate(startAt, step, window, timeZone));
}

/**
 * Enrolls leads in one sequence, set-based: one statement for the enrollments, one per 5,000 emails, one for the
 * timeline, whatever the number of leads. Leads already in the sequence are skipped (the unique (lead, sequence)
 * key decides, so concurrent callers cannot enroll a lead twice). Runs in the caller's transaction.
 */
export async function enrollLeads(
  em: EntityManager,
  input: { companyId: string; companyTimeZone: string; sequence: EmailSequence; leads: EnrollableLead[]; startAt: Date; reason: string },
): Promise<NewEnrollment[]> {
  const { companyId, sequence, startAt } = input;
  if (input.leads.length === 0) return [];
  const candidates = input.leads.map((lead) => ({ id: uuidv7(startAt.getTime()), lead_id: lead.id }));
  const created = await query<{ id: string; lead_id: string }>(
    em,
    sql`insert into enrollment (id, company_id, lead_id, sequence_id, status, started_at, created_at, updated_at)
        select t.id, ${companyId}::uuid, t.lead_id, ${sequence.id}::uuid, 'ACTIVE', ${startAt}, ${startAt}, ${startAt}
        from jsonb_to_recordset(${json(candidates)}) as t(id uuid, lead_id uuid)
        on conflict (lead_id, sequence_id) do nothing
        returning id, lead_id`,
  );
  if (created.length === 0) return [];

  const timeZoneOf = new Map(input.leads.map((lead) => [lead.id, scheduleTimeZone(sequence.sendWindow, lead.timezone, input.companyTimeZone)]));
  const emails = created.flatMap((enrollment) =>
    scheduleSteps(sequence.steps, sequence.sendWindow, startAt, timeZoneOf.get(enrollment.lead_id)!).map((date, index) => ({
      id: uuidv7(startAt.getTime()),
      enrollment_id: enrollment.id,
      lead_id: enrollment.lead_id,
      email_number: index + 1,
      scheduled_send_date: date.toISOString(),
    })),
  );
  for (let offset = 0; offset < emails.length; offset += CHUNK) {
    await query(
      em,
      sql`insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, status, created_at, updated_at)
          select t.id, ${companyId}::uuid, t.enrollment_id, t.lead_id, ${sequence.id}::uuid, t.email_number, t.scheduled_send_date, 'PENDING', ${startAt}, ${startAt}
          from jsonb_to_recordset(${json(emails.slice(offset, offset + CHUNK))})
            as t(id uuid, enrollment_id uuid, lead_id uuid, email_number int, scheduled_send_date timestamptz)`,
    );
  }

  if (emails.some((email) => new Date(email.scheduled_send_date) <= startAt)) await signalEmailsDue(em);

  await recordActivities(
    em,
    created.map((enrollment) => ({
      companyId,
      leadId: enrollment.lead_id,
      type: ActivityType.ENROLLED,
      reason: `Enrolled in "${sequence.name}" (${input.reason}); ${sequence.steps.length} emails scheduled`,
      data: { sequenceId: sequence.id, enrollmentId: enrollment.id },
      occurredAt: startAt,
    })),
  );
  await publish(
    em,
    created.map((row) => ({
      topic: Topic.EnrollmentChanged,
      companyId,
      leadId: row.lead_id,
      sequenceId: sequence.id,
      enrollmentId: row.id,
      status: EnrollmentStatus.ACTIVE,
      stopReason: null,
      at: startAt.toISOString(),
    })),
  );
  return created.map((row) => ({ enrollmentId: row.id, leadId: row.lead_id }));
}
