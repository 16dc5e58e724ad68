import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { query, sql } from '../db/sql.js';
import type { EmailKeys } from '../model/email-keys.js';
import { EnrollmentStatus } from '../model/sequence.enums.js';
import { claimable, markClaimed } from '../state/email-state.js';
import { statusIn } from '../state/transitions.js';
import { companyMaySend } from './guard/paused.js';

export interface ClaimedEmail extends EmailKeys {
  attempts: number;
  /** The lead's address when claimed, recorded with the email: the only address this claim may send to. */
  to_address: string | null;
  /** This claim's fencing token: its settle touches the email only while the email still carries it. */
  claim_token: string;
}

const PAUSED_ENROLLMENT = statusIn('en.status', [EnrollmentStatus.PAUSED]);

/**
 * Claims up to `limit` due emails for this worker: PENDING → SENDING in one statement. This is the only guard
 * against sending twice (SES has no idempotency key): `FOR UPDATE SKIP LOCKED` hands each row to exactly one
 * claimer however many workers run. Emails of paused enrollments are left alone: they are out of the due indexes
 * (`paused`), and the enrollment is checked as well, so that a claim can never cancel a paused one's email.
 *
 * Fair between companies: a first pass gives every company at most `share` of its oldest due emails (so one
 * company's 100,000-lead import cannot starve another's welcome email), a second pass fills the rest of the
 * batch in due order from the companies the first pass served.
 *
 * A company the deliverability guard paused is skipped by both (src/delivery/guard/): its due emails stay PENDING,
 * untouched, until the operator resumes it, while every other company goes on.
 */
export async function claimDueEmails(em: EntityManager, input: { now: Date; limit: number; share: number; workerId: string }): Promise<ClaimedEmail[]> {
  const fair = await query<ClaimedEmail>(
    em,
    sql`with recursive ${dueCompanies(input.now)},
        due as (
          select d.id from (select company_id from due_companies where ${companyMaySend('due_companies.company_id')} order by random()) c
          cross join lateral (
            select s.id from sequence_email s
            where s.company_id = c.company_id and ${claimable('s')} and not s.paused and s.scheduled_send_date <= ${input.now}
              and not exists (select 1 from enrollment en where en.id = s.enrollment_id and ${PAUSED_ENROLLMENT})
            order by s.scheduled_send_date, s.id
            limit ${input.share}
            for update of s skip locked
          ) d
          limit ${input.limit}
        )
        ${markClaimed(input)}`,
  );
  const rest = input.limit - fair.length;
  // The fill reads the due emails of the companies the fair pass served, each from its own due index: walking the
  // global due index instead would pass every email that waits first (a paused company's backlog: 50 ms per claim
  // for 20,000 of them). Not only those that got a whole share: another claimer holding some of a company's rows
  // makes its share come back short though more are due, and a batch left short ends a dispatch run early.
  const full = [...new Set(fair.map((email) => email.company_id))];
  if (rest <= 0 || full.length === 0) return fair;
  // The fair part is claimed (committed) already: should the fill fail, the batch goes on with it rather than
  // leaving it SENDING, unowned, until its lease runs out.
  const filled = await query<ClaimedEmail>(
    em,
    // Each lateral skips rows another claimer holds, as the fair pass does. With several companies at their share, up
    // to `rest` rows of each are locked and the oldest `rest` claimed: the others are free again when this commits.
    sql`with due as (
          select c.id from unnest(${full}::uuid[]) as f(company_id)
          cross join lateral (
            select s.id, s.scheduled_send_date from sequence_email s
            where s.company_id = f.company_id and ${claimable('s')} and not s.paused and s.scheduled_send_date <= ${input.now}
              and not exists (select 1 from enrollment en where en.id = s.enrollment_id and ${PAUSED_ENROLLMENT})
            order by s.scheduled_send_date, s.id
            limit ${rest}
            for update of s skip locked
          ) c
          order by c.scheduled_send_date, c.id
          limit ${rest}
        )
        ${markClaimed(input)}`,
  ).catch((error: unknown) => {
    if (fair.length === 0) throw error;
    return [];
  });
  return [...fair, ...filled];
}

/** Due emails the claim reads whole to learn which companies have some; a larger due set is a backlog. */
const SMALL_DUE_SET = 1_000;

/**
 * The CTE `due_companies(company_id)`: the companies with due emails, found without visiting every company (a
 * scan of `company` cost ~50 ms per claim with 50,000 of them). Usually few emails are due: reading up to
 * SMALL_DUE_SET of them from the due index gives every company that has any. A larger due set is a backlog, and
 * reading it whole would cost its size: then a loose index scan on the per-company due index jumps from one
 * company with due emails to the next (one short index scan each; PostgreSQL 18's skip scan passes over a
 * company's not-yet-due emails without reading them). The branch not taken never runs: its condition is a
 * one-time filter. A company whose due emails another claimer holds just yields none in the lateral below.
 */
function dueCompanies(now: Date): RawBuilder<unknown> {
  const due = sql`${claimable('s')} and not s.paused and s.scheduled_send_date <= ${now}`;
  return sql`due_sample as materialized (
      select s.company_id from sequence_email s where ${due} order by s.scheduled_send_date limit ${SMALL_DUE_SET + 1}
    ),
    backlog_companies(company_id) as (
      (select s.company_id from sequence_email s where ${due} order by s.company_id, s.scheduled_send_date limit 1)
      union all
      select n.company_id from backlog_companies p
      cross join lateral (
        select s.company_id from sequence_email s where ${due} and s.company_id > p.company_id order by s.company_id, s.scheduled_send_date limit 1
      ) n
    ),
    due_companies as (
      select distinct company_id from due_sample where (select count(*) from due_sample) <= ${SMALL_DUE_SET}
      union all
      select company_id from backlog_companies where (select count(*) from due_sample) > ${SMALL_DUE_SET}
    )`;
}

/** Orders a batch round-robin by company, so the send budget is shared fairly within a batch too. */
export function interleaveByCompany<T extends { company_id: string }>(emails: T[]): T[] {
  const queues = [...Map.groupBy(emails, (e) => e.company_id).values()];
  const out: T[] = [];
  for (let i = 0; out.length < emails.length; i++) {
    for (const queue of queues) if (queue[i]) out.push(queue[i]!);
  }
  return out;
}
