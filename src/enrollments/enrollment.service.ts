import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import { EMAILS_DUE_CHANNEL } from '../state/due-signal.js';
import { query, sql } from '../db/sql.js';
import { ActivityType } from '../model/activity.entity.js';
import { publishWritten } from '../state/events.js';
import { newEmailsInsert } from '../state/email-state.js';
import { enrollmentStarted, newEnrollmentsInsert } from '../state/enrollment-state.js';
import { stepSendDate, type StepDelay } from '../sequences/schedule.js';
import { WindowTimeZone, type SendWindow } from '../model/sequence-step.js';

export interface EnrollableLead {
  id: string;
  timezone: string | null;
}

export interface NewEnrollment {
  enrollmentId: string;
  leadId: string;
}

/** The time zone a lead's schedule is computed in: its own, else the company's (or always the company's). */
export function scheduleTimeZone(window: SendWindow | null, leadTimeZone: string | null, companyTimeZone: string): string {
  if (window?.timeZone === WindowTimeZone.COMPANY) return companyTimeZone;
  return leadTimeZone ?? companyTimeZone;
}

/** Send dates of every step for one lead enrolled at `startAt`. */
export function scheduleSteps(steps: readonly StepDelay[], window: SendWindow | null, startAt: Date, timeZone: string): Date[] {
  return steps.map((step) => stepSendDate(startAt, step, window, timeZone));
}

/** What enrolling needs of a sequence (an EmailSequence is one): its schedule, not its templates. */
export interface EnrollableSequence {
  id: string;
  name: string;
  steps: readonly StepDelay[];
  sendWindow: SendWindow | null;
}

export interface EnrollInput {
  companyId: string;
  companyTimeZone: string;
  sequence: EnrollableSequence;
  leads: EnrollableLead[];
  startAt: Date;
  reason: string;
}

/**
 * Enrolls leads in one sequence in one statement: the enrollments, their emails and timeline rows, the live
 * events and, when an email is due now, the dispatchers' wake-up. Leads already in the sequence are skipped:
 * the unique (lead, sequence) key decides, so concurrent callers cannot enroll a lead twice, and only the
 * enrollments actually created get emails, timeline rows and events. Runs in the caller's transaction.
 */
export async function enrollLeads(em: EntityManager, input: EnrollInput): Promise<NewEnrollment[]> {
  if (input.leads.length === 0) return [];
  const writes = enrollmentWrites(input, 'e0');
  const signals = enrollmentSignals([writes]);
  const created = await query<{ id: string; lead_id: string }>(
    em,
    sql`with ${sql.join([writes.ctes, ...signals.ctes], sql`, `)} select c.id, c.lead_id, ${signals.run} from ${writes.created} c`,
  );
  return created.map((row) => ({ enrollmentId: row.id, leadId: row.lead_id }));
}

export type EnrollmentWrites = ReturnType<typeof enrollmentWrites>;

/**
 * What enrollment writes signal, as CTEs of the same statement: the live events of the enrollments actually
 * created, and the dispatchers' wake-up when an email is due now. PostgreSQL runs a plain CTE only when the
 * statement references it: put `run` in the final select (over the written rows, so nothing written, nothing sent).
 */
export function enrollmentSignals(writes: EnrollmentWrites[]): { ctes: RawBuilder<unknown>[]; run: RawBuilder<unknown> } {
  if (writes.length === 0) return { ctes: [], run: sql`0 as published, 0 as woken` };
  const created = sql.join(
    writes.map((w) => sql`select id from ${w.created}`),
    sql` union all `,
  );
  const dueNow = writes.some((w) => w.dueNow);
  return {
    ctes: [
      sql`events as (${publishWritten(
        writes.flatMap((w) => w.events),
        created,
      )})`,
      sql`due as (select pg_notify(${EMAILS_DUE_CHANNEL}, '') where ${dueNow}::boolean)`,
    ],
    run: sql`(select count(*) from events) as published, (select count(*) from due) as woken`,
  };
}

/**
 * The writes of enrolling `input.leads` in `input.sequence`, as CTEs named `<name>_…` for a larger statement:
 * `created` names the one that yields the enrollments created (id, lead_id). With `onlyLeadsIn` (a subquery of
 * lead ids), leads outside it are left out, e.g. the rows an intake statement skipped as duplicates. `events`
 * and `dueNow` are for enrollmentSignals.
 */
export function enrollmentWrites(input: EnrollInput, name: string, onlyLeadsIn?: RawBuilder<unknown>) {
  const { companyId, sequence, startAt } = input;
  // Every lead here starts at the same instant, so the schedule depends on the time zone alone: once per zone.
  const schedules = new Map<string, Date[]>();
  const scheduleIn = (timeZone: string): Date[] => {
    let dates = schedules.get(timeZone);
    if (!dates) schedules.set(timeZone, (dates = scheduleSteps(sequence.steps, sequence.sendWindow, startAt, timeZone)));
    return dates;
  };
  // Ids in creation order (uuidv7): the timeline keeps its sequence. Rows go as parallel arrays, the cheapest
  // parameters for PostgreSQL to read at import scale.
  const enrollments = { id: [] as string[], lead: [] as string[], activity: [] as string[] };
  const emails = { id: [] as string[], enrollment: [] as string[], number: [] as number[], at: [] as string[] };
  let dueNow = false;
  for (const lead of input.leads) {
    const enrollmentId = uuidv7(startAt.getTime());
    enrollments.id.push(enrollmentId);
    enrollments.lead.push(lead.id);
    scheduleIn(scheduleTimeZone(sequence.sendWindow, lead.timezone, input.companyTimeZone)).forEach((date, index) => {
      emails.id.push(uuidv7(startAt.getTime()));
      emails.enrollment.push(enrollmentId);
      emails.number.push(index + 1);
      emails.at.push(date.toISOString());
      dueNow ||= date <= startAt;
    });
  }
  enrollments.activity = enrollments.id.map(() => uuidv7(startAt.getTime()));
  const reason = `Enrolled in "${sequence.name}" (${input.reason}); ${sequence.steps.length} emails scheduled`;
  const events = enrollments.id.map((enrollmentId, i) => ({
    key: enrollmentId,
    event: enrollmentStarted({ id: enrollmentId, company_id: companyId, lead_id: enrollments.lead[i]!, sequence_id: sequence.id }, startAt),
  }));
  const rows = { companyId, sequenceId: sequence.id, at: startAt };

  const cte = (suffix: string) => sql.raw(`${name}_${suffix}`);
  const ctes = sql`${cte('candidate')} as (
      select * from unnest(${enrollments.id}::uuid[], ${enrollments.lead}::uuid[], ${enrollments.activity}::uuid[]) as c(id, lead_id, activity_id)
      ${onlyLeadsIn ? sql`where c.lead_id in (${onlyLeadsIn})` : sql``}
    ), ${cte('created')} as (
      ${newEnrollmentsInsert(rows, cte('candidate'))}
    ), ${cte('emails')} as (
      ${newEmailsInsert({ ...rows, emails }, cte('created'))}
    ), ${cte('timeline')} as (
      insert into activity (id, company_id, lead_id, type, reason, data, occurred_at)
      select k.activity_id, ${companyId}::uuid, c.lead_id, ${ActivityType.ENROLLED}, ${reason},
             jsonb_build_object('sequenceId', ${sequence.id}::text, 'enrollmentId', c.id), ${startAt}
      from ${cte('created')} c join ${cte('candidate')} k on k.id = c.id
    )`;
  return { ctes, created: cte('created'), dueNow, events };
}
