import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';
import { EmailSequence } from '../model/email-sequence.entity.js';
import { findSequence } from '../model/lookups.js';
import type { CompanyScope } from '../model/scope.js';
import { AnalyticsInterval } from './analytics.enums.js';
import { periodRows } from './period-rows.js';
import { addCounts, countsOf, ratesOf, sumColumns, zeroCounts, type EmailCounts, type EmailRates } from './counts.js';

/*
 * Sequence and company analytics, read from the email_stats rollups (see README, Analytics). Periods were checked
 * before (period.ts): their ends are quarter hours, so `bucket >= from and bucket < to` counts exactly the emails of
 * the period. Each answer is one statement over the company's rows of the period (primary key range scans; whole
 * UTC days from the daily rows, period-rows.ts).
 */

export interface Period {
  from: Date;
  to: Date;
}

export interface Measured {
  counts: EmailCounts;
  rates: EmailRates;
}

export interface StepAnalytics extends Measured {
  emailNumber: number;
}

export interface SequenceAnalytics extends Measured, Period {
  sequence: EmailSequence;
  steps: StepAnalytics[];
}

export interface AnalyticsPoint extends Measured {
  start: Date;
}

export interface CompanyAnalytics extends Measured, Period {
  sequences: (Measured & { sequence: EmailSequence })[];
}

/** The most sequences a company summary lists (the busiest of the period first); the totals count them all. */
export const MAX_SUMMARY_SEQUENCES = 100;

const measured = (counts: EmailCounts): Measured => ({ counts, rates: ratesOf(counts) });

/** A sequence's counts and rates over the period, in total and per step (every step of the sequence, and any step
 * that had emails in the period since removed). Another company's sequence does not exist (NOT_FOUND). */
export async function sequenceAnalytics(scope: CompanyScope, args: Period & { sequenceId: string }): Promise<SequenceAnalytics> {
  const sequence = await findSequence(scope.em, scope.companyId, args.sequenceId);
  const rows = await query<{ email_number: number } & Partial<EmailCounts>>(
    scope.em,
    sql`select s.email_number, ${sumColumns('s')} from (${periodRows({ companyId: scope.companyId, sequenceId: sequence.id }, args)}) s
        group by s.email_number order by s.email_number`,
  );
  const byStep = new Map(rows.map((row) => [row.email_number, countsOf(row)]));
  const stepCount = Math.max(sequence.steps.length, ...rows.map((row) => row.email_number));
  const steps = Array.from({ length: stepCount }, (_, index) => ({ emailNumber: index + 1, ...measured(byStep.get(index + 1) ?? zeroCounts()) }));
  // Step 0 holds the enrollments: part of the total, not a step.
  const total = [...byStep.values()].reduce(addCounts, zeroCounts());
  return { sequence, from: args.from, to: args.to, ...measured(total), steps };
}

const TRUNC_UNIT: Record<AnalyticsInterval, string> = {
  [AnalyticsInterval.HOUR]: 'hour',
  [AnalyticsInterval.DAY]: 'day',
  [AnalyticsInterval.WEEK]: 'week',
};

/**
 * A sequence's counts per local hour, day or ISO week of the company's time zone: one point per interval that
 * meets the period (every one, empty ones included), the first starting at `from` and the last ending at `to` when
 * those fall inside an interval. PostgreSQL's calendar arithmetic in the zone makes the points DST-correct: a day
 * is midnight to midnight, 23 or 25 hours on change days.
 */
export async function sequenceTimeSeries(scope: CompanyScope, args: Period & { sequenceId: string; interval: AnalyticsInterval }): Promise<AnalyticsPoint[]> {
  const sequence = await findSequence(scope.em, scope.companyId, args.sequenceId);
  const zone = (await scope.company()).timezone;
  const unit = TRUNC_UNIT[args.interval];
  const rows = await query<{ start: Date } & Partial<EmailCounts>>(
    scope.em,
    sql`with sums as (
          select date_trunc(${unit}::text, s.bucket, ${zone}::text) as key, ${sumColumns('s')} from email_stats s
          where s.company_id = ${scope.companyId}::uuid and s.sequence_id = ${sequence.id}::uuid and s.bucket >= ${args.from} and s.bucket < ${args.to}
          group by 1)
        select greatest(p.key, ${args.from}::timestamptz) as start, sums.*
        from generate_series(date_trunc(${unit}::text, ${args.from}::timestamptz, ${zone}::text), ${args.to}::timestamptz, ${`1 ${unit}`}::interval, ${zone}::text) as p(key)
        left join sums on sums.key = p.key
        where p.key < ${args.to}
        order by p.key`,
  );
  return rows.map((row) => ({ start: new Date(row.start), ...measured(countsOf(row)) }));
}

/** The company's counts over the period across its sequences, and each sequence's (the busiest first). */
export async function companyAnalytics(scope: CompanyScope, args: Period): Promise<CompanyAnalytics> {
  const rows = await query<{ sequence_id: string } & Partial<EmailCounts>>(
    scope.em,
    sql`select s.sequence_id, ${sumColumns('s')} from (${periodRows({ companyId: scope.companyId }, args)}) s group by s.sequence_id`,
  );
  const perSequence = rows.map((row) => ({ id: row.sequence_id, counts: countsOf(row) }));
  const total = perSequence.reduce((sum, entry) => addCounts(sum, entry.counts), zeroCounts());
  const busiest = perSequence
    .filter((entry) => Object.values(entry.counts).some((n) => n !== 0))
    .sort((a, b) => b.counts.sent - a.counts.sent || b.counts.enrolled - a.counts.enrolled || a.id.localeCompare(b.id))
    .slice(0, MAX_SUMMARY_SEQUENCES);
  const sequences = await loadSequences(
    scope.em,
    scope.companyId,
    busiest.map((entry) => entry.id),
  );
  return {
    from: args.from,
    to: args.to,
    ...measured(total),
    sequences: busiest.flatMap((entry) => {
      const sequence = sequences.get(entry.id);
      return sequence ? [{ sequence, ...measured(entry.counts) }] : [];
    }),
  };
}

async function loadSequences(em: EntityManager, companyId: string, ids: string[]): Promise<Map<string, EmailSequence>> {
  if (ids.length === 0) return new Map();
  const found = await em.find(EmailSequence, { id: { $in: ids }, company: companyId });
  return new Map(found.map((sequence) => [sequence.id, sequence]));
}
