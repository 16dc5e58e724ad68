import { DateTime } from 'luxon';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldEmailStats } from '../src/analytics/fold.js';
import type { Dispatcher } from '../src/delivery/dispatcher.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { queryRows, testDispatcher } from './helpers/dispatch.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { LOSE_ANSWER, startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { errorOf, ok, type GraphQLClient, type Untyped } from './helpers/graphql.js';
import { headerOf, startMailbox, type SesMailbox, type StoredEmail } from './helpers/ses.js';
import { postSns, sesEvents, SNS_TOPIC, snsSigner } from './helpers/sns-signer.js';

/*
 * Issue 16's "exact numbers": a fixture of a few hundred emails made through the real flows — leads imported over
 * GraphQL, their emails sent by the dispatcher through the SES emulator (some refused by SES, some with their answer
 * lost), opens and clicks by pixel and redirect requests with human and machine user agents, signed SNS deliveries,
 * bounces and complaints, one-click unsubscribes — in a Europe/Berlin company whose sends straddle the end of summer
 * time (2026-10-25 03:00 CEST → 02:00 CET). Then every count and rate of the analytics API must equal a count made
 * here, independently, from the raw rows (sequence_email, email_event, enrollment): per step, in total, per point of
 * each time series, and company-wide, for the whole period and a sub-period.
 */

const ZONE = 'Europe/Berlin';
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const APPLE_PROXY = 'Mozilla/5.0'; // Apple Mail Privacy Protection's prefetch
const SCANNER = 'Mimecast-Url-Protect/1.0';
const MINUTE = 60_000;
const HOUR = 3_600_000;

const COUNTERS = [
  'enrolled',
  'sent',
  'delivered',
  'bouncedPermanent',
  'bouncedTransient',
  'complained',
  'failed',
  'unknown',
  'canceled',
  'unsubscribed',
  'uniqueHumanOpens',
  'uniqueMachineOpens',
  'uniqueHumanClicks',
  'uniqueMachineClicks',
  'replied',
] as const;
type Counts = Record<(typeof COUNTERS)[number], number>;
const COUNTS = `{ ${COUNTERS.join(' ')} }`;
const RATES = '{ deliveryRate openRate machineOpenRate clickRate clickToOpenRate bounceRate complaintRate unsubscribeRate replyRate }';

/** One email as the raw rows tell it (no rollup, no fact column but D's replied_at). */
interface RawEmail {
  sequence_id: string;
  email_number: number;
  /** When it counts: sent_at, or scheduled_send_date for one that never left. */
  at: Date;
  sent: boolean;
  status: string;
  human_open: boolean;
  machine_open: boolean;
  human_click: boolean;
  machine_click: boolean;
  bounced_permanent: boolean;
  bounced_transient: boolean;
  complained: boolean;
  unsubscribed: boolean;
  delivery: boolean;
  replied: boolean;
}

interface Period {
  from: Date;
  to: Date;
}

const utc = (iso: string) => new Date(iso);
/** Berlin local time → instant (`offset` picks the first or second 02:xx on the night summer time ends). */
const berlin = (iso: string) => DateTime.fromISO(iso, { zone: ZONE }).toJSDate();

/** The whole period: Saturday 24 October 00:00 CEST to Wednesday 28 October 00:00 CET, DST change inside. */
const WHOLE: Period = { from: berlin('2026-10-24T00:00'), to: berlin('2026-10-28T00:00') };
/** A sub-period around the change: 24 October 23:00 UTC to 25 October 12:15 UTC. */
const PART: Period = { from: utc('2026-10-24T23:00:00Z'), to: utc('2026-10-25T12:15:00Z') };
/** Two ISO weeks: Monday 19 October to Monday 2 November, local midnights. */
const WEEKS: Period = { from: berlin('2026-10-19T00:00'), to: berlin('2026-11-02T00:00') };

function zero(): Counts {
  return Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counts;
}

/** The counts of the raw rows in [from, to), by cohort of send time: written from the definitions, not from the code. */
function expectedCounts(
  emails: RawEmail[],
  enrollments: { sequence_id: string; created_at: Date }[],
  period: Period,
  where: (e: { sequence_id: string; email_number?: number }) => boolean,
): Counts {
  const c = zero();
  const inside = (at: Date) => at >= period.from && at < period.to;
  c.enrolled = enrollments.filter((e) => where(e) && inside(e.created_at)).length;
  for (const e of emails.filter((x) => where(x) && inside(x.at))) {
    const add = (key: keyof Counts, yes: boolean) => (c[key] += yes ? 1 : 0);
    add('failed', e.status === 'FAILED');
    add('unknown', e.status === 'UNKNOWN');
    add('canceled', e.status === 'CANCELED');
    if (!e.sent) continue;
    add('sent', true);
    add('delivered', e.delivery || e.human_open || e.machine_open || e.human_click || e.machine_click || e.complained || e.unsubscribed || e.replied);
    add('bouncedPermanent', e.bounced_permanent);
    add('bouncedTransient', e.bounced_transient);
    add('complained', e.complained);
    add('unsubscribed', e.unsubscribed);
    add('uniqueHumanOpens', e.human_open);
    add('uniqueMachineOpens', e.machine_open);
    add('uniqueHumanClicks', e.human_click);
    add('uniqueMachineClicks', e.machine_click);
    add('replied', e.replied);
  }
  return c;
}

function expectedRates(c: Counts) {
  const div = (a: number, b: number) => (b === 0 ? null : a / b);
  return {
    deliveryRate: div(c.delivered, c.sent),
    openRate: div(c.uniqueHumanOpens, c.delivered),
    machineOpenRate: div(c.uniqueMachineOpens, c.delivered),
    clickRate: div(c.uniqueHumanClicks, c.delivered),
    clickToOpenRate: div(c.uniqueHumanClicks, c.uniqueHumanOpens),
    bounceRate: div(c.bouncedPermanent, c.sent),
    complaintRate: div(c.complained, c.delivered),
    unsubscribeRate: div(c.unsubscribed, c.delivered),
    replyRate: div(c.replied, c.delivered),
  };
}

/** The starts of the local hours, days or ISO weeks meeting [from, to), by luxon's calendar (independent of PostgreSQL's). */
function expectedStarts(period: Period, interval: 'HOUR' | 'DAY' | 'WEEK'): Date[] {
  const unit = ({ HOUR: 'hour', DAY: 'day', WEEK: 'week' } as const)[interval];
  const starts: Date[] = [];
  for (let at = DateTime.fromJSDate(period.from, { zone: ZONE }).startOf(unit); at.toJSDate() < period.to; at = at.plus({ [`${unit}s`]: 1 })) {
    starts.push(new Date(Math.max(at.toMillis(), period.from.getTime())));
  }
  return starts;
}

describe('sequence analytics: exact numbers from the rollups', () => {
  let mailbox: SesMailbox;
  let proxy: FaultProxy;
  let t: TestApp;
  let tenant: Tenant;
  let other: Tenant;
  let gql: GraphQLClient;
  let dispatcher: Dispatcher;
  let sequenceId: string;
  const signer = snsSigner();
  const disposers: (() => unknown)[] = [];
  let raw: { emails: RawEmail[]; enrollments: { sequence_id: string; created_at: Date }[] };

  beforeAll(async () => {
    mailbox = await startMailbox();
    // SES refuses the emails of `reject-` addresses; the answer to `lose-` ones is lost once SES took them (UNKNOWN).
    proxy = await startFaultProxy(mailbox.url, (call) =>
      !call.path.includes('outbound-emails')
        ? undefined
        : call.body.includes('"reject-')
          ? { status: 400, errorType: 'MessageRejected', message: 'Email address is not verified' }
          : call.body.includes('"lose-')
            ? LOSE_ANSWER
            : undefined,
    );
    t = await startTestApp(
      { SES_MAX_SEND_RATE: '0', SES_SNS_TOPIC_ARNS: SNS_TOPIC, PUBLIC_URL: 'https://mail.example.com' },
      { sesWebhook: { fetchCertificate: signer.fetchCertificate, confirmSubscription: () => Promise.resolve(undefined) } },
    );
    tenant = await createTenant(t, { timezone: ZONE });
    other = await createTenant(t, { timezone: 'America/New_York' });
    gql = t.as(tenant.apiKey);
    dispatcher = testDispatcher(t, disposers, 'analytics-test', proxy.url);
    sequenceId = ok(await gql(`{ sequences(first: 1) { edges { node { id } } } }`)).sequences.edges[0].node.id;
    await buildFixture();
    raw = await readRaw();
  }, 300_000);
  afterAll(async () => {
    while (disposers.length) await disposers.pop()!();
    await t?.dispose();
    await proxy?.dispose();
    await mailbox?.dispose();
  });

  /** Imports leads and sends what is due at a series of moments around the DST change; then engagement and SES events. */
  async function buildFixture() {
    const ticks: Date[] = [];
    for (let at = utc('2026-10-19T21:10:00Z').getTime(); at < utc('2026-10-29T06:00:00Z').getTime(); at += 7 * HOUR + 13 * MINUTE) ticks.push(new Date(at));
    // The two 02:xx hours of 25 October in Berlin (CEST, then CET), and the edges of the periods.
    ticks.push(utc('2026-10-25T00:20:00Z'), utc('2026-10-25T00:50:00Z'), utc('2026-10-25T01:20:00Z'), utc('2026-10-25T01:50:00Z'));
    ticks.push(utc('2026-10-23T21:59:00Z'), utc('2026-10-23T22:00:00Z'), utc('2026-10-27T22:59:59Z'), utc('2026-10-27T23:00:00Z'), utc('2026-10-25T12:14:00Z'));
    ticks.sort((a, b) => a.getTime() - b.getTime());
    let n = 0;
    for (const [index, at] of ticks.entries()) {
      t.clock.set(at);
      const inputs = Array.from({ length: 5 }, (_, i) => {
        n += 1;
        const kind = i === 0 && index % 4 === 0 ? 'reject' : i === 1 && index % 6 === 0 ? 'lose' : 'lead';
        return { email: `${kind}-${n}@example.com`, firstName: `Lead${n}` };
      });
      expect(ok(await gql(`mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created } }`, { i: inputs })).importLeads.created).toBe(5);
      await dispatcher.dispatchDue();
    }
    // SNS certificates are checked against the app's clock: events arrive now (cohorts stay with their send time).
    t.clock.set(new Date());
    await engage();
  }

  async function engage() {
    const sent = await queryRows<{ id: string; provider_message_id: string; to_address: string; status: string }>(
      t,
      `select id, provider_message_id, to_address, status from sequence_email where company_id = ? and (sent_at is not null or status = 'UNKNOWN') order by id`,
      [tenant.companyId],
    );
    const stored = new Map((await mailbox.emails()).map((e) => [headerOf(e, 'X-LN-Email-Id'), e] as const));
    const requests: (() => Promise<unknown>)[] = [];
    const hit = (path: string, init: RequestInit, userAgent: string) => () =>
      fetch(`${t.baseUrl}${path}`, { redirect: 'manual', ...init, headers: { 'user-agent': userAgent, ...(init.headers ?? {}) } }).then((r) => r.arrayBuffer());
    const sns = (event: object) => async () => expect((await postSns(t.baseUrl, signer.notification(event))).status).toBe(200);
    for (const [i, email] of sent.entries()) {
      const mail = stored.get(email.id);
      if (email.status === 'UNKNOWN') {
        // SES took some of them after all: a Delivery event (found by the email_id tag) makes one SENT, counted when it arrived.
        if (i % 2 === 0) requests.push(sns(sesEvents.delivery(null, email.to_address, utc('2026-10-26T10:07:00Z'), email.id)));
        continue;
      }
      const pixel = new URL(/<img src="([^"]+\/t\/o\/[^"]+)"/.exec(mail!.body.html!)![1]!).pathname;
      const link = new URL(/href="([^"]+\/t\/c\/[^"]+)"/.exec(mail!.body.html!)![1]!).pathname;
      const unsubscribe = new URL(headerOf(mail as StoredEmail, 'List-Unsubscribe')!.slice(1, -1)).pathname;
      if (i % 3 === 0) requests.push(sns(sesEvents.delivery(email.provider_message_id, email.to_address, new Date())));
      if (i % 5 === 1) requests.push(hit(pixel, {}, BROWSER), hit(pixel, {}, BROWSER));
      if (i % 7 === 2) requests.push(hit(pixel, {}, APPLE_PROXY));
      if (i % 17 === 5) requests.push(hit(pixel, { method: 'HEAD' }, BROWSER));
      if (i % 11 === 3) requests.push(hit(link, {}, BROWSER));
      if (i % 13 === 4) requests.push(hit(link, {}, SCANNER));
      if (i % 29 === 6) requests.push(sns(sesEvents.bounce(email.provider_message_id, email.to_address, 'Permanent')));
      if (i % 19 === 7) requests.push(sns(sesEvents.bounce(email.provider_message_id, email.to_address, 'Transient')));
      if (i % 37 === 8) requests.push(sns(sesEvents.complaint(email.provider_message_id, email.to_address)));
      if (i % 23 === 9) requests.push(hit(unsubscribe, { method: 'POST', body: 'List-Unsubscribe=One-Click' }, BROWSER));
    }
    for (let start = 0; start < requests.length; start += 16) await Promise.all(requests.slice(start, start + 16).map((request) => request()));
    await t.app.recorder.flush();
  }

  async function readRaw() {
    const emails = await queryRows<RawEmail>(
      t,
      `with ev as (
         select email_id,
                bool_or(kind in ('OPEN', 'CLICK') and verdict = 'HUMAN') as human_open, bool_or(kind = 'OPEN' and verdict = 'MACHINE') as machine_open,
                bool_or(kind = 'CLICK' and verdict = 'HUMAN') as human_click, bool_or(kind = 'CLICK' and verdict = 'MACHINE') as machine_click,
                bool_or(kind = 'BOUNCE' and detail like 'Permanent bounce%') as bounced_permanent,
                bool_or(kind = 'BOUNCE' and detail not like 'Permanent bounce%') as bounced_transient,
                bool_or(kind = 'COMPLAINT') as complained, bool_or(kind = 'UNSUBSCRIBE') as unsubscribed, bool_or(kind = 'DELIVERY') as delivery
         from email_event where company_id = ? group by email_id)
       select s.sequence_id, s.email_number, coalesce(s.sent_at, s.scheduled_send_date) as at, s.sent_at is not null as sent, s.status,
              coalesce(human_open, false) as human_open, coalesce(machine_open, false) as machine_open, coalesce(human_click, false) as human_click,
              coalesce(machine_click, false) as machine_click, coalesce(bounced_permanent, false) as bounced_permanent,
              coalesce(bounced_transient, false) as bounced_transient, coalesce(complained, false) as complained,
              coalesce(unsubscribed, false) as unsubscribed, coalesce(delivery, false) as delivery, s.replied_at is not null as replied
       from sequence_email s left join ev on ev.email_id = s.id
       where s.company_id = ? and (s.sent_at is not null or s.status in ('FAILED', 'UNKNOWN', 'CANCELED'))`,
      [tenant.companyId, tenant.companyId],
    );
    const enrollments = await queryRows<{ sequence_id: string; created_at: Date }>(t, `select sequence_id, created_at from enrollment where company_id = ?`, [
      tenant.companyId,
    ]);
    return {
      emails: emails.map((e) => ({ ...e, at: new Date(e.at) })),
      enrollments: enrollments.map((e) => ({ ...e, created_at: new Date(e.created_at) })),
    };
  }

  const ofSequence = (e: { sequence_id: string }) => e.sequence_id === sequenceId;

  it('the fixture exercises every counter, with sends on both sides of the DST change', () => {
    const all = expectedCounts(raw.emails, raw.enrollments, { from: utc('2026-01-01T00:00:00Z'), to: utc('2027-01-01T00:00:00Z') }, () => true);
    expect(all.sent).toBeGreaterThan(250);
    for (const counter of COUNTERS.filter((c) => c !== 'replied')) expect(all[counter], counter).toBeGreaterThan(0);
    const inWhole = expectedCounts(raw.emails, raw.enrollments, WHOLE, () => true);
    expect(inWhole.sent).toBeGreaterThan(80);
    expect(inWhole.sent).toBeLessThan(all.sent);
    // Both 02:xx hours of 25 October have sends.
    const sentIn = (from: string, to: string) => raw.emails.filter((e) => e.sent && e.at >= utc(from) && e.at < utc(to)).length;
    expect(sentIn('2026-10-25T00:00:00Z', '2026-10-25T01:00:00Z')).toBeGreaterThan(0);
    expect(sentIn('2026-10-25T01:00:00Z', '2026-10-25T02:00:00Z')).toBeGreaterThan(0);
  });

  /** sequenceAnalytics over `period` against the raw rows: every count and rate, per step and in total. */
  async function checkSequence(period: Period) {
    const { sequenceAnalytics } = ok(
      await gql(
        `query($s: ID!, $from: DateTime!, $to: DateTime!) { sequenceAnalytics(sequenceId: $s, from: $from, to: $to) {
           sequence { id } from to counts ${COUNTS} rates ${RATES} steps { emailNumber counts ${COUNTS} rates ${RATES} } } }`,
        { s: sequenceId, from: period.from.toISOString(), to: period.to.toISOString() },
      ),
    );
    expect(sequenceAnalytics.sequence.id).toBe(sequenceId);
    expect(new Date(sequenceAnalytics.from)).toEqual(period.from);
    const total = expectedCounts(raw.emails, raw.enrollments, period, ofSequence);
    expect(sequenceAnalytics.counts).toEqual(total);
    expect(sequenceAnalytics.rates).toEqual(expectedRates(total));
    expect(sequenceAnalytics.steps.map((s: Untyped) => s.emailNumber)).toEqual([1, 2, 3, 4, 5]);
    for (const step of sequenceAnalytics.steps) {
      const counts = expectedCounts(raw.emails, [], period, (e) => ofSequence(e) && e.email_number === step.emailNumber);
      expect(step.counts, `step ${step.emailNumber}`).toEqual(counts);
      expect(step.rates, `step ${step.emailNumber}`).toEqual(expectedRates(counts));
    }
    return sequenceAnalytics;
  }

  /** companyAnalytics over `period` against the raw rows. */
  async function checkCompany(period: Period) {
    const { companyAnalytics } = ok(
      await gql(
        `query($from: DateTime!, $to: DateTime!) { companyAnalytics(from: $from, to: $to) {
           from to counts ${COUNTS} rates ${RATES} sequences { sequence { id } counts ${COUNTS} rates ${RATES} } } }`,
        {
          from: period.from.toISOString(),
          to: period.to.toISOString(),
        },
      ),
    );
    const total = expectedCounts(raw.emails, raw.enrollments, period, () => true);
    expect(companyAnalytics.counts).toEqual(total);
    expect(companyAnalytics.rates).toEqual(expectedRates(total));
    expect(companyAnalytics.sequences).toEqual(
      total.sent + total.enrolled > 0 ? [{ sequence: { id: sequenceId }, counts: total, rates: expectedRates(total) }] : [],
    );
  }

  /** Periods of every shape: within a day, across days (whole UTC days read from the daily rows), two weeks. */
  const PERIODS = [WHOLE, PART, WEEKS, { from: utc('2026-10-20T07:45:00Z'), to: utc('2026-10-26T00:00:00Z') }];

  for (const [name, period] of [
    ['the whole period', WHOLE],
    ['a sub-period', PART],
  ] as const) {
    it(`sequenceAnalytics for ${name}: every count and rate of every step and the total equal the raw rows`, async () => {
      const answer = await checkSequence(period);
      expect(answer.steps.filter((s: Untyped) => s.counts.sent > 0).length).toBeGreaterThanOrEqual(2);
    });

    it(`companyAnalytics for ${name} equals the raw rows, in total and per sequence`, async () => {
      await checkCompany(period);
    });
  }

  for (const [interval, period] of [
    ['HOUR', WHOLE],
    ['DAY', WHOLE],
    ['WEEK', WEEKS],
    ['HOUR', PART],
    ['DAY', PART],
  ] as const) {
    it(`sequenceTimeSeries by ${interval} from ${period.from.toISOString()}: every point equals the raw rows, in Berlin's calendar`, async () => {
      const { sequenceTimeSeries } = ok(
        await gql(
          `query($s: ID!, $from: DateTime!, $to: DateTime!, $i: AnalyticsInterval!) {
             sequenceTimeSeries(sequenceId: $s, from: $from, to: $to, interval: $i) { start counts ${COUNTS} rates ${RATES} } }`,
          { s: sequenceId, from: period.from.toISOString(), to: period.to.toISOString(), i: interval },
        ),
      );
      const starts = expectedStarts(period, interval);
      expect(sequenceTimeSeries.map((p: Untyped) => new Date(p.start))).toEqual(starts);
      for (const [index, point] of sequenceTimeSeries.entries()) {
        const slice = { from: starts[index]!, to: starts[index + 1] ?? period.to };
        const counts = expectedCounts(raw.emails, raw.enrollments, slice, ofSequence);
        expect(point.counts, `${interval} point at ${point.start}`).toEqual(counts);
        expect(point.rates).toEqual(expectedRates(counts));
      }
      // The points add up to the period.
      const sum = zero();
      for (const point of sequenceTimeSeries) for (const c of COUNTERS) sum[c] += point.counts[c];
      expect(sum).toEqual(expectedCounts(raw.emails, raw.enrollments, period, ofSequence));
    });
  }

  it('days and hours follow the DST change: 25 October is 25 hours long and has two 02:00 hours', async () => {
    const series = async (interval: string) =>
      ok(
        await gql(
          `query($s: ID!, $from: DateTime!, $to: DateTime!, $i: AnalyticsInterval!) { sequenceTimeSeries(sequenceId: $s, from: $from, to: $to, interval: $i) { start } }`,
          {
            s: sequenceId,
            from: WHOLE.from.toISOString(),
            to: WHOLE.to.toISOString(),
            i: interval,
          },
        ),
      ).sequenceTimeSeries.map((p: Untyped) => new Date(p.start).getTime()) as number[];
    const days = await series('DAY');
    expect(days.map((d) => new Date(d).toISOString())).toEqual([
      '2026-10-23T22:00:00.000Z',
      '2026-10-24T22:00:00.000Z',
      '2026-10-25T23:00:00.000Z',
      '2026-10-26T23:00:00.000Z',
    ]);
    expect(days[2]! - days[1]!).toBe(25 * HOUR);
    const hours = await series('HOUR');
    expect(hours).toHaveLength(4 * 24 + 1);
    const localTwo = hours.filter((h) => DateTime.fromMillis(h, { zone: ZONE }).hour === 2 && DateTime.fromMillis(h, { zone: ZONE }).day === 25);
    expect(localTwo).toHaveLength(2);
  });

  /** The rollups as one comparable list: every key's summed counters (zero rows left out). */
  async function rollups() {
    return queryRows(
      t,
      `select company_id, sequence_id, email_number, bucket, sum(enrolled)::int as enrolled, sum(sent)::int as sent, sum(delivered)::int as delivered,
              sum(bounced_permanent)::int as bp, sum(bounced_transient)::int as bt, sum(complained)::int as complained, sum(failed)::int as failed,
              sum(unknown)::int as unknown, sum(canceled)::int as canceled, sum(unsubscribed)::int as unsubscribed, sum(human_opens)::int as ho,
              sum(machine_opens)::int as mo, sum(human_clicks)::int as hc, sum(machine_clicks)::int as mc, sum(replied)::int as replied
       from email_stats group by 1, 2, 3, 4
       having (abs(sum(enrolled)) + abs(sum(sent)) + abs(sum(delivered)) + abs(sum(bounced_permanent)) + abs(sum(bounced_transient)) + abs(sum(complained)) + abs(sum(failed)) + abs(sum(unknown))
                  + abs(sum(canceled)) + abs(sum(unsubscribed)) + abs(sum(human_opens)) + abs(sum(machine_opens)) + abs(sum(human_clicks)) + abs(sum(machine_clicks)) + abs(sum(replied))) > 0
       order by 1, 2, 4, 3`,
    );
  }
  async function sendRollups() {
    return queryRows(
      t,
      `select company_id, bucket, sum(sent)::int as sent, sum(delivered)::int as delivered, sum(bounced_permanent)::int as bp,
              sum(bounced_transient)::int as bt, sum(complained)::int as complained
       from company_send_stats group by 1, 2 having (abs(sum(sent)) + abs(sum(delivered)) + abs(sum(bounced_permanent)) + abs(sum(bounced_transient)) + abs(sum(complained))) > 0
       order by 1, 2`,
    );
  }

  const DAILY_COLUMNS = `sum(enrolled)::int as enrolled, sum(sent)::int as sent, sum(delivered)::int as delivered, sum(human_opens)::int as ho,
    sum(machine_clicks)::int as mc, sum(canceled)::int as canceled, sum(bounced_permanent)::int as bp, sum(unsubscribed)::int as unsubscribed`;
  /** The daily rows (what a long period reads) … */
  function daily() {
    return queryRows(
      t,
      `select company_id, sequence_id, day::text as day, email_number, ${DAILY_COLUMNS} from email_stats_daily group by 1, 2, 3, 4 order by 1, 2, 3, 4`,
    );
  }
  /** … must always be the folded 15-minute rows of each UTC day. */
  function dailyFromBuckets() {
    return queryRows(
      t,
      `select company_id, sequence_id, (bucket at time zone 'UTC')::date::text as day, email_number, ${DAILY_COLUMNS}
       from email_stats where shard = 0 group by 1, 2, 3, 4
       having sum(abs(enrolled) + abs(sent) + abs(delivered) + abs(human_opens) + abs(machine_clicks) + abs(canceled) + abs(bounced_permanent)
                  + abs(unsubscribed) + abs(failed) + abs(unknown) + abs(complained) + abs(bounced_transient) + abs(machine_opens) + abs(human_clicks)) > 0
       order by 1, 2, 3, 4`,
    );
  }

  it('email_stats_rebuild() recomputes from the raw rows exactly what the triggers kept; folding the shards changes no number', async () => {
    const incremental = await rollups();
    const incrementalSend = await sendRollups();
    expect(incremental.length).toBeGreaterThan(50);
    const [shards] = await queryRows(t, `select count(distinct shard)::int as n from email_stats`);
    expect(shards!.n).toBeGreaterThan(1); // the fixture was written by several backends, each in its own shard

    // A partial fold (some shard rows in shard 0 and the daily rows, some not yet): every answer stays exact.
    const [partly] = await queryRows(t, `select email_stats_fold(40) as n`);
    expect(partly!.n).toBeGreaterThan(0);
    expect((await queryRows(t, `select count(*)::int as n from email_stats where shard <> 0`))[0]!.n).toBeGreaterThan(0);
    expect(await daily()).toEqual(await dailyFromBuckets());
    for (const period of PERIODS) {
      await checkSequence(period);
      await checkCompany(period);
    }

    expect(await foldEmailStats(t.app.orm.em.fork())).toBeGreaterThan(0); // what the fold-email-stats job runs
    expect(await daily()).toEqual(await dailyFromBuckets());
    for (const period of PERIODS) {
      await checkSequence(period);
      await checkCompany(period);
    }
    expect((await queryRows(t, `select count(*)::int as n from email_stats where shard <> 0`))[0]!.n).toBe(0);
    expect(await rollups()).toEqual(incremental);
    expect(await sendRollups()).toEqual(incrementalSend);

    await queryRows(t, `select email_stats_rebuild()`);
    expect(await rollups()).toEqual(incremental);
    expect(await sendRollups()).toEqual(incrementalSend);
    expect(await daily()).toEqual(await dailyFromBuckets());
    for (const period of PERIODS) await checkSequence(period);
  });

  it('company_send_stats (the deliverability windows) agree with email_stats', async () => {
    const { sendWindowCounts } = await import('../src/analytics/windows.js');
    const counts = await sendWindowCounts(t.app.orm.em.fork(), tenant.companyId, WHOLE.from, WHOLE.to);
    const expected = expectedCounts(raw.emails, raw.enrollments, WHOLE, () => true);
    expect(counts).toEqual({
      sent: expected.sent,
      delivered: expected.delivered,
      bouncedPermanent: expected.bouncedPermanent,
      bouncedTransient: expected.bouncedTransient,
      complained: expected.complained,
    });
  });

  it('a rolled-back transaction leaves no count behind', async () => {
    const before = await rollups();
    const client = new pg.Client({ connectionString: t.app.config.databaseUrl! });
    await client.connect();
    try {
      await client.query('begin');
      await client.query(
        `update sequence_email set complained_at = now(), first_human_open_at = now() where company_id = $1 and sent_at is not null and complained_at is null`,
        [tenant.companyId],
      );
      await client.query(`update sequence_email set status = 'CANCELED' where company_id = $1 and status = 'PENDING'`, [tenant.companyId]);
      const inside = await client.query(`select sum(complained)::int as complained from email_stats where company_id = $1`, [tenant.companyId]);
      // Inside the transaction the counts moved with the rows (so the check below can fail) …
      expect(inside.rows[0].complained).toBeGreaterThan(raw.emails.filter((e) => e.complained).length);
      await client.query('rollback');
    } finally {
      await client.end();
    }
    // … and after the rollback nothing of it is left.
    expect(await rollups()).toEqual(before);
  });

  it('writers of one hot counter do not wait for each other (each connection has its own shard), nor for a fold', async () => {
    // Two emails of one step sent in the same quarter hour: their counts land on the same counter key.
    const [pair] = await queryRows<{ first: string; second: string }>(
      t,
      `select s1.id as first, s2.id as second from sequence_email s1 join sequence_email s2
         on s2.sequence_id = s1.sequence_id and s2.email_number = s1.email_number and s2.id > s1.id
        and date_bin('15 minutes', s2.sent_at, timestamptz '2000-01-01Z') = date_bin('15 minutes', s1.sent_at, timestamptz '2000-01-01Z')
       where s1.company_id = ? and s1.first_machine_click_at is null and s2.first_machine_click_at is null and s1.first_machine_open_at is null
       limit 1`,
      [tenant.companyId],
    );
    expect(pair).toBeDefined();
    const clients = [0, 1, 2].map(() => new pg.Client({ connectionString: t.app.config.databaseUrl! }));
    const [a, b, folder] = clients as [pg.Client, pg.Client, pg.Client];
    await Promise.all(clients.map((client) => client.connect()));
    try {
      await b.query(`set statement_timeout = 3000`);
      await folder.query(`set statement_timeout = 3000`);
      // `a` has a committed row in its shard for the key, then holds it locked in an open transaction.
      await a.query(`update sequence_email set first_machine_open_at = now() where id = $1`, [pair!.first]);
      await a.query('begin');
      await a.query(`update sequence_email set first_machine_click_at = now() where id = $1`, [pair!.first]);
      // `b` adds to the same key meanwhile: it would time out if it waited for `a`.
      await b.query('begin');
      await b.query(`update sequence_email set first_machine_click_at = now() where id = $1`, [pair!.second]);
      await b.query('rollback');
      // A fold skips the row `a` holds (it would time out if it waited), and folds it once `a` is done.
      await folder.query(`select email_stats_fold(1000000)`);
      const held = await folder.query(`select count(*)::int as n from email_stats where shard <> 0`);
      expect(held.rows[0].n).toBeGreaterThan(0);
      await a.query('commit');
      await folder.query(`select email_stats_fold(1000000)`);
      expect((await folder.query(`select count(*)::int as n from email_stats where shard <> 0`)).rows[0].n).toBe(0);
      // The fixture as it was: the counts go back with the facts.
      await a.query(`update sequence_email set first_machine_open_at = null, first_machine_click_at = null where id = $1`, [pair!.first]);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
    await checkSequence(WHOLE);
    await checkSequence(PART);
  });

  it("another company's sequence does not exist, and another company sees none of these numbers", async () => {
    const stranger = t.as(other.apiKey);
    const error = errorOf(
      await stranger(`query($s: ID!) { sequenceAnalytics(sequenceId: $s, from: "2026-10-24T00:00:00Z", to: "2026-10-25T00:00:00Z") { counts { sent } } }`, {
        s: sequenceId,
      }),
    );
    expect(error.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'SEQUENCE_NOT_FOUND' });
    const series = errorOf(
      await stranger(
        `query($s: ID!) { sequenceTimeSeries(sequenceId: $s, from: "2026-10-24T00:00:00Z", to: "2026-10-25T00:00:00Z", interval: DAY) { start } }`,
        {
          s: sequenceId,
        },
      ),
    );
    expect(series.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'SEQUENCE_NOT_FOUND' });
    const { companyAnalytics } = ok(
      await stranger(
        `{ companyAnalytics(from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z") { counts { sent enrolled } sequences { sequence { id } } } }`,
      ),
    );
    expect(companyAnalytics).toEqual({ counts: { sent: 0, enrolled: 0 }, sequences: [] });
    expect(
      errorOf(await stranger(`{ sequenceAnalytics(sequenceId: "not-a-uuid", from: "2026-10-24T00:00:00Z", to: "2026-10-25T00:00:00Z") { counts { sent } } }`))
        .extensions,
    ).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('bad periods are BAD_USER_INPUT with reason INVALID_PERIOD, naming the argument', async () => {
    const ask = (from: string, to: string, interval = 'DAY') =>
      gql(
        `query($s: ID!, $from: DateTime!, $to: DateTime!, $i: AnalyticsInterval!) { sequenceTimeSeries(sequenceId: $s, from: $from, to: $to, interval: $i) { start } }`,
        {
          s: sequenceId,
          from,
          to,
          i: interval,
        },
      );
    const cases: [string, string, string, string][] = [
      ['2026-10-24T00:07:00Z', '2026-10-25T00:00:00Z', 'DAY', 'from'], // inside a bucket
      ['2026-10-24T00:00:00Z', '2026-10-25T00:00:30Z', 'DAY', 'to'],
      ['2026-10-25T00:00:00Z', '2026-10-25T00:00:00Z', 'DAY', 'to'], // empty
      ['2026-10-26T00:00:00Z', '2026-10-25T00:00:00Z', 'DAY', 'to'], // backwards
      ['2025-01-01T00:00:00Z', '2026-10-25T00:00:00Z', 'WEEK', 'to'], // longer than 366 days
      ['2026-09-01T00:00:00Z', '2026-10-25T00:00:00Z', 'HOUR', 'interval'], // over 400 points
    ];
    for (const [from, to, interval, field] of cases) {
      const error = errorOf(await ask(from, to, interval));
      expect(error.extensions, `${from} → ${to} by ${interval}`).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_PERIOD' });
      expect(error.extensions!.fields!.map((f) => f.field)).toContain(field);
    }
    const company = errorOf(await gql(`{ companyAnalytics(from: "2026-10-24T00:00:00Z", to: "2026-10-24T00:00:00.001Z") { counts { sent } } }`));
    expect(company.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_PERIOD' });
    // The limits themselves are accepted: 366 days by DAY, 400 hours by HOUR.
    ok(await ask('2025-10-24T00:00:00Z', '2026-10-25T00:00:00Z', 'DAY'));
    ok(await ask('2026-10-01T00:00:00Z', '2026-10-17T16:00:00Z', 'HOUR'));
  });
});
