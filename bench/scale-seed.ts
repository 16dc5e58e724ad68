/**
 * Seeds the scale bench's database in set-based SQL: 1,000,000 leads across 300 companies (one holding 40%),
 * each enrolled in its company's default 5-step sequence, so 5,000,000 emails, with the enrollments, the
 * timeline and the suppressions that history leaves behind, and 10,000,000 email events (bench/scale-seed-events.ts):
 * deliveries, permanent and transient bounces, complaints, unsubscribes, replies, and opens and clicks judged
 * HUMAN or MACHINE, with each email's fact columns, counts and status derived from its events. Leads arrived
 * evenly over the last 120 days, so about 6% of the emails are still PENDING (most in the future, those of the
 * last hour due now, those of long-paused enrollments overdue) and the rest are SENT, OPENED, CLICKED, REPLIED,
 * BOUNCED, FAILED or CANCELED. The analytics rollups are then rebuilt from those rows (`email_stats_rebuild()`).
 * `SCALE_LEADS` seeds fewer leads (events stay at 10 per lead), for trying the bench out.
 *
 * Rows go into the real, migrated tables with their real indexes. Ids are UUIDv7 taken at the row's own
 * creation time, as the product makes them, so index locality is what production would have.
 */
import type pg from 'pg';
import { EVENTS_PER_LEAD, FACT_COLUMNS, seedEvents } from './scale-seed-events.js';

export const LEADS = Number(process.env.SCALE_LEADS ?? 1_000_000);
export const EMAILS_PER_LEAD = 5;
export const COMPANIES = 300;
/** The largest tenant's share of the leads: the worst case for every per-company query. */
export const LARGEST_SHARE = 0.4;

export interface SeedCounts {
  leads: number;
  emails: number;
  enrollments: number;
  activities: number;
  events: number;
  pending: number;
  /** Of the pending ones: due now, and held by paused enrollments. */
  dueNow: number;
  held: number;
}

/**
 * `largestCompanyId` already exists with its default sequence (made through the API); the other companies are
 * created here with a copy of it. Runs on its own session: foreign-key triggers are off while it loads (every
 * reference is made from the rows just inserted), and everything is vacuumed and analysed at the end, as
 * autovacuum would have left a database that old.
 */
export async function seedScale(client: pg.Client, largestCompanyId: string, step: (what: string) => void): Promise<SeedCounts> {
  const run = async (what: string, statement: string) => {
    const started = performance.now();
    await client.query(statement);
    step(`${what} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  };
  await client.query(`set session_replication_role = replica; set work_mem = '512MB'; set maintenance_work_mem = '1GB'`);

  await run(
    'companies',
    `insert into company (id, name, from_address, timezone, created_at, updated_at)
     select uuidv7(), 'Tenant ' || lpad(n::text, 3, '0'), 'team@tenant' || n || '.example.com', 'UTC', now() - interval '400 days', now()
     from generate_series(1, ${COMPANIES - 1}) n;
     insert into email_sequence (id, company_id, name, description, active, trigger, steps, is_default, created_at, updated_at)
     select uuidv7(), c.id, s.name, s.description, true, 'LEAD_CREATED', s.steps, true, c.created_at, c.created_at
     from company c, email_sequence s
     where s.company_id = '${largestCompanyId}' and s.is_default and c.id <> '${largestCompanyId}'`,
  );

  // One row per lead with the dice for its history: when it arrived, how engaged it is, and whether it
  // unsubscribes, bounces, complains, replies or is paused at some email. The other companies' sizes fall off steeply (the second
  // largest has about 10% of the leads, the smallest a few hundred).
  await run(
    'lead plan',
    `create unlogged table seed_lead as
     with others as (select array_agg(id order by name) as ids from company where id <> '${largestCompanyId}'),
     arrivals as (select n, now() - random() * interval '120 days' as created_at from generate_series(1, ${LEADS}) n),
     dice as (
       select a.n, a.created_at,
              case when a.n <= ${LARGEST_SHARE * LEADS} then '${largestCompanyId}'::uuid else o.ids[1 + floor(${COMPANIES - 1} * random() ^ 2.5)::int] end as company_id,
              uuidv7(a.created_at - now()) as id, uuidv7(a.created_at - now()) as enrollment_id,
              0.8 * random() ^ 2 as engagement, random() as fate_roll, 1 + floor(random() * ${EMAILS_PER_LEAD})::int as fate_email
       from arrivals a, others o
     )
     select d.*, s.id as sequence_id,
            case when fate_roll < 0.05 then 'UNSUBSCRIBED' when fate_roll < 0.065 then 'BOUNCED' when fate_roll < 0.07 then 'PAUSED'
                 when fate_roll < 0.071 then 'COMPLAINED' when fate_roll < 0.081 then 'REPLIED' end as fate
     from dice d join email_sequence s on s.company_id = d.company_id and s.is_default`,
  );
  // When the fate struck: a bounce half a minute after its email left, a reply five hours after, an unsubscribe or a
  // complaint a day after; a pause half a day before the email it holds. Fates still to come are none yet.
  await run(
    'email plan',
    `alter table seed_lead add column fate_at timestamptz;
     update seed_lead set fate_at = case
       when fate = 'PAUSED' then created_at + make_interval(days => (array[0, 3, 7, 10, 14])[greatest(fate_email, 2)]) - interval '12 hours'
       when fate is not null then created_at + make_interval(days => (array[0, 3, 7, 10, 14])[fate_email])
                                  + case fate when 'BOUNCED' then interval '30 seconds' when 'REPLIED' then interval '5 hours' else interval '1 day' end end;
     update seed_lead set fate = null, fate_at = null where fate_at > now();
     create unlogged table seed_email as
     select e.*,
            case when e.status in ('SENT', 'OPENED', 'CLICKED', 'REPLIED', 'BOUNCED') then e.scheduled_send_date + random() * interval '20 seconds' end as sent_at,
            random() as soft_roll, random() as proxy_roll, random() as scanner_roll
     from (
       select l.n, l.id as lead_id, l.company_id, l.enrollment_id, l.sequence_id, l.created_at, l.k as email_number, l.fate, l.fate_email, l.fate_at,
              uuidv7(l.created_at - now()) as id, l.scheduled_send_date,
              coalesce(l.fate = 'PAUSED' and l.k >= greatest(l.fate_email, 2), false) as paused,
              case
                when l.fate = 'PAUSED' and l.k >= greatest(l.fate_email, 2) then 'PENDING'
                when l.fate in ('UNSUBSCRIBED', 'BOUNCED', 'COMPLAINED', 'REPLIED') and l.k > l.fate_email then 'CANCELED'
                when l.scheduled_send_date > now() - interval '1 hour' then 'PENDING'
                when l.fate = 'BOUNCED' and l.k = l.fate_email then 'BOUNCED'
                when l.fate = 'REPLIED' and l.k = l.fate_email then 'REPLIED'
                -- Failed to render: never left. Not the email someone unsubscribed from or complained about.
                when l.r < 0.002 and not coalesce(l.fate in ('UNSUBSCRIBED', 'COMPLAINED') and l.k = l.fate_email, false) then 'FAILED'
                when l.r < l.engagement * 0.25 then 'CLICKED'
                when l.r < l.engagement then 'OPENED'
                else 'SENT'
              end as status
       from (
         select seed_lead.*, k, random() as r, created_at + make_interval(days => (array[0, 3, 7, 10, 14])[k]) as scheduled_send_date
         from seed_lead, generate_series(1, ${EMAILS_PER_LEAD}) k
       ) l
     ) e;
     create unlogged table seed_score as
     select n, least(100, 5 * count(*) filter (where status in ('OPENED', 'CLICKED', 'REPLIED')) + 10 * count(*) filter (where status = 'CLICKED')
                          + 15 * count(*) filter (where status = 'REPLIED'))::int as score,
            count(*) filter (where status = 'PENDING') as pending, max(sent_at) as last_sent_at
     from seed_email group by n;
     alter table seed_score add primary key (n)`,
  );
  await seedEvents(run, LEADS * EVENTS_PER_LEAD);

  await run(
    'leads',
    `insert into lead (id, company_id, email, first_name, last_name, company_name, timezone, score, attributes, unsubscribed_at, created_at, updated_at)
     select l.id, l.company_id, 'lead' || l.n || '@example.com',
            (array['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Niklaus'])[1 + l.n % 10],
            case when l.n % 7 = 0 then null else (array['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson'])[1 + l.n % 8] end,
            case when l.n % 3 = 0 then null else 'Customer ' || (l.n % 20000) end,
            case when l.n % 5 = 0 then (array['Europe/Berlin', 'America/New_York', 'Asia/Tokyo'])[1 + l.n % 3] end,
            s.score, jsonb_build_object('source', (array['webinar', 'signup', 'import', 'referral'])[1 + l.n % 4]),
            case when l.fate = 'UNSUBSCRIBED' then l.fate_at end, l.created_at, coalesce(l.fate_at, s.last_sent_at, l.created_at)
     from seed_lead l join seed_score s using (n)
     order by l.created_at`,
  );
  await run(
    'enrollments',
    `insert into enrollment (id, company_id, lead_id, sequence_id, status, stop_reason, started_at, paused_at, ended_at, created_at, updated_at)
     select l.enrollment_id, l.company_id, l.id, l.sequence_id,
            case when l.fate = 'PAUSED' then 'PAUSED' when l.fate is not null then 'STOPPED' when s.pending > 0 then 'ACTIVE' else 'COMPLETED' end,
            case when l.fate <> 'PAUSED' then l.fate end,
            l.created_at, case when l.fate = 'PAUSED' then l.fate_at end,
            case when l.fate <> 'PAUSED' then l.fate_at when s.pending = 0 then s.last_sent_at end,
            l.created_at, coalesce(l.fate_at, s.last_sent_at, l.created_at)
     from seed_lead l join seed_score s using (n)
     order by l.created_at`,
  );
  await run(
    'suppressions',
    `insert into suppression (id, company_id, email, reason, created_at)
     select uuidv7(fate_at - now()), company_id, 'lead' || n || '@example.com',
            case fate when 'BOUNCED' then 'HARD_BOUNCE' when 'COMPLAINED' then 'COMPLAINT' else 'UNSUBSCRIBED' end, fate_at
     from seed_lead where fate in ('UNSUBSCRIBED', 'BOUNCED', 'COMPLAINED')`,
  );
  // Sent emails carry their subject, links and an SES-shaped message id (send time first, as SES's are). Not their
  // rendered HTML and text: some 20 KB per email that PostgreSQL compresses and moves out of line (TOAST), which no
  // measured statement reads (the columns are lazy) and which would take this seed from minutes to an hour.
  await run(
    'emails',
    `insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, status, paused, sent_at, delivered_at,
                                 opened_at, clicked_at, open_count, click_count, provider_message_id, failure_reason, attempts, subject, links,
                                 claimed_at, claimed_by, created_at, updated_at, ${FACT_COLUMNS.join(', ')})
     select e.id, e.company_id, e.enrollment_id, e.lead_id, e.sequence_id, e.email_number, e.scheduled_send_date, e.status, e.paused, e.sent_at,
            f.delivered_at, f.first_human_open_at, f.first_human_click_at, coalesce(f.opens, 0), coalesce(f.clicks, 0),
            case when e.sent_at is not null
                 then '0100' || lpad(to_hex((extract(epoch from e.sent_at) * 1000)::bigint), 12, '0') || '-' || gen_random_uuid() || '-000000' end,
            case when e.status = 'FAILED' then 'Rendering failed: the template could not be rendered' end,
            case when e.sent_at is not null or e.status = 'FAILED' then 1 else 0 end,
            case when e.sent_at is not null then (array['Welcome!', 'Learn more about us', 'How we can help', 'Success stories', 'Schedule a conversation'])[e.email_number] end,
            case when e.sent_at is not null then jsonb_build_array((array['https://example.com/welcome', 'https://example.com/overview', 'https://example.com/how-it-works', 'https://example.com/customers', 'https://example.com/book'])[e.email_number]) end,
            case when e.status = 'FAILED' then e.scheduled_send_date + interval '1 second' else e.sent_at end,
            case when e.sent_at is not null or e.status = 'FAILED' then 'worker-1' end, e.created_at,
            greatest(e.created_at, e.sent_at, f.last_at), ${FACT_COLUMNS.map((c) => `f.${c}`).join(', ')}
     from seed_email e left join seed_fact f on f.email_id = e.id
     order by e.created_at, e.email_number`,
  );
  await run(
    'events',
    `insert into email_event (id, company_id, email_id, kind, link_index, url, verdict, verdict_reason, user_agent, detail, dedupe_key, occurred_at)
     select uuidv7(occurred_at - now()), company_id, email_id, kind, link_index, url, verdict, verdict_reason, user_agent, detail,
            case when from_ses then gen_random_uuid()::text end, occurred_at
     from seed_event order by occurred_at`,
  );
  // The timeline: creation and enrollment of every lead, and each score change with its reason. (Sends, opens
  // and clicks have timeline rows too in the product; no measured query reads this table, whose size only
  // matters as cache pressure, so the rows that explain scores stand for the rest.)
  await run(
    'activities',
    `insert into activity (id, company_id, lead_id, type, reason, score_delta, score_after, data, occurred_at)
     select uuidv7(t.occurred_at - now()), t.company_id, t.lead_id, t.type, t.reason, t.score_delta, t.score_after, t.data, t.occurred_at
     from (
       select company_id, id as lead_id, 'LEAD_CREATED' as type, 'Lead created' as reason, null::int as score_delta, null::int as score_after, '{}'::jsonb as data, created_at as occurred_at
       from seed_lead
       union all
       select company_id, id, 'ENROLLED', 'Enrolled in "Welcome sequence" (lead created); 5 emails scheduled', null, null,
              jsonb_build_object('sequenceId', sequence_id, 'enrollmentId', enrollment_id), created_at
       from seed_lead
       union all
       select company_id, lead_id, 'SCORE_CHANGED',
              'first ' || case status when 'CLICKED' then 'open and click' when 'REPLIED' then 'open and reply' else 'open' end || ' of email ' || email_number || ' of Welcome sequence',
              delta, least(100, sum(delta) over (partition by lead_id order by email_number))::int,
              jsonb_build_object('emailId', id, 'sequenceId', sequence_id), sent_at + interval '3 hours'
       from (select *, case status when 'CLICKED' then 15 when 'REPLIED' then 20 else 5 end as delta from seed_email where status in ('OPENED', 'CLICKED', 'REPLIED')) engaged
     ) t
     order by t.occurred_at`,
  );
  await run('drop plans', 'drop table seed_lead, seed_email, seed_score, seed_event, seed_fact');
  await client.query('reset session_replication_role');
  // The rollups, as the analytics migration's backfill makes them: the triggers were off while the rows went in.
  await run('email_stats_rebuild()', 'select email_stats_rebuild()');
  await run('vacuum analyze', 'vacuum (analyze)');
  // The load's gigabytes of dirty pages are written now, not by the checkpointer while latencies are measured.
  await run('checkpoint', 'checkpoint');

  const { rows } = await client.query<Record<keyof SeedCounts, string>>(
    `select (select count(*) from lead) as leads, (select count(*) from sequence_email) as emails, (select count(*) from enrollment) as enrollments,
            (select count(*) from activity) as activities, (select count(*) from email_event) as events,
            (select count(*) from sequence_email where status = 'PENDING') as pending,
            (select count(*) from sequence_email where status = 'PENDING' and not paused and scheduled_send_date <= now()) as "dueNow",
            (select count(*) from sequence_email where status = 'PENDING' and paused) as held`,
  );
  return Object.fromEntries(Object.entries(rows[0]!).map(([key, value]) => [key, Number(value)])) as unknown as SeedCounts;
}
