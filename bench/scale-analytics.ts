/**
 * The scale bench's analytics part (issue #16, "Scale bench"): on the seeded database (10,000,000 events), the
 * largest tenant's dashboard queries end to end over HTTP with its API key — `sequenceAnalytics` of its default
 * sequence over the last 30 days, `sequenceTimeSeries` by DAY over the same 30 days, `companyAnalytics` over them,
 * and the deliverability summary — each timed REPETITIONS times after a warm-up (p99 < 50 ms), with the SQL each
 * runs captured for EXPLAIN. Before timing, the answers are checked: every count `sequenceAnalytics` and
 * `companyAnalytics` answer (the tenant has one sequence) must equal an independent count over the raw rows
 * (sequence_email, enrollment), so the bench times right answers.
 */
import type pg from 'pg';
import { gql, type BenchRow } from './support.js';
import { measure, type Measured, type StatementLog } from './scale-measure.js';

export const ANALYTICS_TARGET_MS = 50;
const QUARTER_HOUR_MS = 15 * 60_000;
const DAY_MS = 86_400_000;

const COUNTS = `enrolled sent delivered bouncedPermanent bouncedTransient complained failed unknown canceled unsubscribed
  uniqueHumanOpens uniqueMachineOpens uniqueHumanClicks uniqueMachineClicks replied`;
const RATES = `deliveryRate openRate machineOpenRate clickRate clickToOpenRate bounceRate complaintRate unsubscribeRate replyRate`;

const SEQUENCE_ANALYTICS = `query SequenceAnalytics($id: ID!, $from: DateTime!, $to: DateTime!) {
  sequenceAnalytics(sequenceId: $id, from: $from, to: $to) {
    sequence { id name } from to counts { ${COUNTS} } rates { ${RATES} }
    steps { emailNumber counts { ${COUNTS} } rates { ${RATES} } }
  }
}`;
const TIME_SERIES = `query SequenceTimeSeries($id: ID!, $from: DateTime!, $to: DateTime!) {
  sequenceTimeSeries(sequenceId: $id, from: $from, to: $to, interval: DAY) { start counts { ${COUNTS} } rates { ${RATES} } }
}`;
const COMPANY_ANALYTICS = `query CompanyAnalytics($from: DateTime!, $to: DateTime!) {
  companyAnalytics(from: $from, to: $to) {
    from to counts { ${COUNTS} } rates { ${RATES} } sequences { sequence { id name } counts { ${COUNTS} } rates { ${RATES} } }
  }
}`;
const DELIVERABILITY = `query Deliverability {
  deliverability {
    state reason changedAt pausedAt
    windows { days sent bounced complained bounceRate complaintRate enoughVolume }
    levels { warningBounceRate warningComplaintRate pauseBounceRate pauseComplaintRate sesReviewBounceRate sesReviewComplaintRate
             sesPauseBounceRate sesPauseComplaintRate minimumSends }
  }
}`;

export const ANALYTICS_OPERATIONS = {
  sequenceAnalytics: 'sequenceAnalytics, default sequence, 30 days, largest tenant',
  sequenceTimeSeries: 'sequenceTimeSeries DAY, 30 days, largest tenant',
  companyAnalytics: 'companyAnalytics, 30 days, largest tenant',
  deliverability: 'deliverability (7- and 30-day windows), largest tenant',
} as const;

/** The last 30 days up to the current quarter hour (periods end on quarter hours, as the API requires). */
function last30Days(): { from: string; to: string } {
  const to = Math.ceil(Date.now() / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
  return { from: new Date(to - 30 * DAY_MS).toISOString(), to: new Date(to).toISOString() };
}

/** Checks the answers against the raw rows, then times each query; returns the measurements by name. */
export async function measureAnalytics(input: {
  url: string;
  apiKey: string;
  admin: pg.Client;
  companyId: string;
  statements: StatementLog;
  step: (what: string) => void;
}): Promise<{ measured: Record<keyof typeof ANALYTICS_OPERATIONS, Measured>; mismatches: number; sequenceId: string }> {
  const { admin, companyId, statements, step } = input;
  const ask = <T>(query: string, variables: Record<string, unknown> = {}) => gql<T>(input.url, `Bearer ${input.apiKey}`, query, variables);
  const { rows } = await admin.query<{ id: string }>(`select id from email_sequence where company_id = $1 and is_default`, [companyId]);
  const sequenceId = rows[0]!.id;

  // The tenant has one sequence: the company's totals must be the same numbers (read from other rollup rows).
  const mismatches = await checkAgainstRawRows(admin, companyId, sequenceId, async (period) => [
    (await ask<{ sequenceAnalytics: { counts: Record<string, number> } }>(SEQUENCE_ANALYTICS, { id: sequenceId, ...period })).sequenceAnalytics.counts,
    (await ask<{ companyAnalytics: { counts: Record<string, number> } }>(COMPANY_ANALYTICS, period)).companyAnalytics.counts,
  ]);
  step(`sequenceAnalytics and companyAnalytics counts that differ from the raw rows: ${mismatches}`);

  const timed = async (name: string, run: () => Promise<unknown>) => {
    const result = await measure(statements, run);
    step(`${name}: p50 ${result.p50.toFixed(1)} ms`);
    return result;
  };
  return {
    sequenceId,
    mismatches,
    measured: {
      sequenceAnalytics: await timed('sequenceAnalytics', () => ask(SEQUENCE_ANALYTICS, { id: sequenceId, ...last30Days() })),
      sequenceTimeSeries: await timed('sequenceTimeSeries', () => ask(TIME_SERIES, { id: sequenceId, ...last30Days() })),
      companyAnalytics: await timed('companyAnalytics', () => ask(COMPANY_ANALYTICS, last30Days())),
      deliverability: await timed('deliverability', () => ask(DELIVERABILITY)),
    },
  };
}

/**
 * The counts of the default sequence over the last 30 days, counted from sequence_email and enrollment directly
 * (cohort by send time: an email counts in its period by `sent_at`, or `scheduled_send_date` if it never left;
 * an enrollment by its creation), compared with what the API answers. Returns how many counts differ.
 */
async function checkAgainstRawRows(
  admin: pg.Client,
  companyId: string,
  sequenceId: string,
  answer: (period: { from: string; to: string }) => Promise<Array<Record<string, number>>>,
): Promise<number> {
  const period = last30Days();
  const sent = `sent_at is not null`;
  const { rows } = await admin.query<Record<string, number>>(
    `select
       (select count(*)::int from enrollment where company_id = $1 and sequence_id = $2 and created_at >= $3 and created_at < $4) as "enrolled",
       count(*) filter (where ${sent})::int as "sent",
       count(*) filter (where ${sent} and (delivered_at is not null or first_human_open_at is not null or first_machine_open_at is not null
                        or first_human_click_at is not null or first_machine_click_at is not null or complained_at is not null
                        or unsubscribed_at is not null or replied_at is not null))::int as "delivered",
       count(*) filter (where ${sent} and permanent_bounce_at is not null)::int as "bouncedPermanent",
       count(*) filter (where ${sent} and transient_bounce_at is not null)::int as "bouncedTransient",
       count(*) filter (where ${sent} and complained_at is not null)::int as "complained",
       count(*) filter (where status = 'FAILED')::int as "failed",
       count(*) filter (where status = 'UNKNOWN')::int as "unknown",
       count(*) filter (where status = 'CANCELED')::int as "canceled",
       count(*) filter (where ${sent} and unsubscribed_at is not null)::int as "unsubscribed",
       count(*) filter (where ${sent} and first_human_open_at is not null)::int as "uniqueHumanOpens",
       count(*) filter (where ${sent} and first_machine_open_at is not null)::int as "uniqueMachineOpens",
       count(*) filter (where ${sent} and first_human_click_at is not null)::int as "uniqueHumanClicks",
       count(*) filter (where ${sent} and first_machine_click_at is not null)::int as "uniqueMachineClicks",
       count(*) filter (where ${sent} and replied_at is not null)::int as "replied"
     from sequence_email
     where company_id = $1 and sequence_id = $2
       and (${sent} or status in ('FAILED', 'UNKNOWN', 'CANCELED'))
       and coalesce(sent_at, scheduled_send_date) >= $3 and coalesce(sent_at, scheduled_send_date) < $4`,
    [companyId, sequenceId, period.from, period.to],
  );
  const expected = rows[0]!;
  const answers = await answer(period);
  return answers.reduce((sum, answered) => sum + Object.keys(expected).filter((key) => answered[key] !== expected[key]).length, 0);
}

/** The table rows of the analytics part. */
export function analyticsRows(mismatches: number): BenchRow[] {
  return [
    {
      bench: 'scale',
      metric: 'sequenceAnalytics and companyAnalytics counts (30 days) that differ from a count over the raw rows (must be 0)',
      value: mismatches,
      unit: 'counts',
      target: '= 0',
      pass: mismatches === 0,
    },
  ];
}
