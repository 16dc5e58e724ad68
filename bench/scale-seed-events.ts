/**
 * The scale seed's email events (bench/scale-seed.ts calls it between planning the emails and inserting them): from
 * the planned emails (`seed_email`), the events their statuses and fates imply, then each email's facts from its
 * events (`seed_fact`), so the emails go in already consistent with them, as the product would have left them:
 *  - DELIVERY for every email that arrived (SENT, OPENED, CLICKED, REPLIED), 2 s after it left;
 *  - a permanent BOUNCE for each BOUNCED email; a transient one (mailbox full) before 1% of the delivered ones;
 *  - a COMPLAINT, an UNSUBSCRIBE or a REPLY on the email of a lead whose fate it is;
 *  - MACHINE opens (Apple Mail Privacy Protection's proxy fetching the pixel) on 30% of the delivered emails and
 *    MACHINE clicks (a link scanner's user agent, seconds after sending) on 5%: neither changes the status;
 *  - HUMAN opens on every OPENED, CLICKED and REPLIED email (1 to 3, hours after sending) and a HUMAN click on
 *    every CLICKED one; then more HUMAN repeat opens until there are exactly `total` events.
 * Facts are what the analytics migration's backfill derives from events: the first human open (a human click is
 * one too), machine open, human and machine click, permanent and transient bounce, complaint, unsubscribe and
 * reply; `opened_at`/`clicked_at` are the first human ones, `open_count`/`click_count` every open and click.
 */

/** 10,000,000 events for 1,000,000 leads. */
export const EVENTS_PER_LEAD = 10;

/** The per-email fact columns of the analytics migration (Migration20261202150000_email_stats), as seed_fact names them. */
export const FACT_COLUMNS = [
  'first_human_open_at',
  'first_machine_open_at',
  'first_human_click_at',
  'first_machine_click_at',
  'permanent_bounce_at',
  'transient_bounce_at',
  'complained_at',
  'unsubscribed_at',
  'replied_at',
] as const;

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const SCANNER = 'Mozilla/5.0 (compatible; Barracuda Sentinel)';
const ARRIVED = `('SENT', 'OPENED', 'CLICKED', 'REPLIED')`;
const LINKS = `(array['https://example.com/welcome', 'https://example.com/overview', 'https://example.com/how-it-works', 'https://example.com/customers', 'https://example.com/book'])`;

/** One kind of event: the rows of seed_email it happens to, and its columns (SQL over `e`). */
interface EventKind {
  kind: string;
  where: string;
  at: string;
  verdict?: 'HUMAN' | 'MACHINE';
  reason?: string;
  agent?: string;
  detail?: string;
  click?: true;
  ses?: true;
  /** Several per email: `g` counts them (1-based). */
  times?: string;
}

const literal = (value: string | undefined) => (value === undefined ? 'null' : `'${value.replace(/'/g, "''")}'`);

const KINDS: EventKind[] = [
  { kind: 'DELIVERY', where: `e.status in ${ARRIVED}`, at: `e.sent_at + interval '2 seconds'`, ses: true },
  {
    kind: 'BOUNCE',
    where: `e.status = 'BOUNCED'`,
    at: `e.sent_at + interval '3 seconds'`,
    detail: 'Permanent bounce (General): 550 5.1.1 user unknown',
    ses: true,
  },
  {
    kind: 'BOUNCE',
    where: `e.status in ${ARRIVED} and e.soft_roll < 0.01`,
    at: `e.sent_at + interval '1 second'`,
    detail: 'Transient bounce (MailboxFull): 452 4.2.2 mailbox full',
    ses: true,
  },
  { kind: 'COMPLAINT', where: `e.fate = 'COMPLAINED' and e.email_number = e.fate_email`, at: 'e.fate_at', detail: 'Complaint (abuse)', ses: true },
  { kind: 'UNSUBSCRIBE', where: `e.fate = 'UNSUBSCRIBED' and e.email_number = e.fate_email`, at: 'e.fate_at', detail: 'one-click' },
  { kind: 'REPLY', where: `e.status = 'REPLIED'`, at: 'e.fate_at', detail: 'Reply from the lead' },
  {
    kind: 'OPEN',
    where: `e.status in ${ARRIVED} and e.proxy_roll < 0.3`,
    at: `e.sent_at + interval '2 minutes'`,
    verdict: 'MACHINE',
    reason: 'Apple Mail Privacy Protection proxy',
    agent: 'Mozilla/5.0',
  },
  {
    kind: 'CLICK',
    where: `e.status in ${ARRIVED} and e.scanner_roll < 0.05`,
    at: `e.sent_at + interval '4 seconds'`,
    verdict: 'MACHINE',
    reason: `automated user agent (${SCANNER})`,
    agent: SCANNER,
    click: true,
  },
  {
    kind: 'OPEN',
    where: `e.status in ('OPENED', 'CLICKED', 'REPLIED')`,
    times: '1 + e.n % 3',
    at: `e.sent_at + interval '3 hours' + (g - 1) * interval '2 hours'`,
    verdict: 'HUMAN',
    agent: BROWSER,
  },
  { kind: 'CLICK', where: `e.status = 'CLICKED'`, at: `e.sent_at + interval '3 hours 1 minute'`, verdict: 'HUMAN', agent: BROWSER, click: true },
];

/** The select of one kind's rows for seed_event (occurred_at never in the future: the last emails left an hour ago). */
function eventsOf(k: EventKind): string {
  return `select e.id as email_id, e.company_id, '${k.kind}'::text as kind, ${k.click ? '0' : 'null::int'} as link_index,
                 ${k.click ? `${LINKS}[e.email_number]` : 'null::text'} as url, ${literal(k.verdict)}::text as verdict,
                 ${literal(k.reason)}::text as verdict_reason, ${literal(k.agent)}::text as user_agent, ${literal(k.detail)}::text as detail,
                 ${k.ses ? 'true' : 'false'} as from_ses, least(${k.at}, now() - interval '1 second') as occurred_at
          from seed_email e${k.times ? `, generate_series(1, ${k.times}) g` : ''}
          where ${k.where}`;
}

/** Creates seed_event (exactly `total` rows, unless the implied events alone are more) and seed_fact. */
export async function seedEvents(run: (what: string, statement: string) => Promise<void>, total: number): Promise<void> {
  await run('event plan', `create unlogged table seed_event as ${KINDS.map(eventsOf).join('\nunion all\n')}`);
  // Repeat opens by people who opened already, spread over the opened emails, up to the total.
  await run(
    'repeat opens',
    `do $$
     declare missing bigint := ${total} - (select count(*) from seed_event);
             opened bigint := (select count(*) from seed_email where status in ('OPENED', 'CLICKED', 'REPLIED'));
     begin
       if missing > 0 and opened > 0 then
         insert into seed_event
         select e.id, e.company_id, 'OPEN', null, null, 'HUMAN', null, ${literal(BROWSER)}, null, false,
                least(e.sent_at + interval '9 hours' + g * interval '1 hour', now() - interval '1 second')
         from seed_email e, generate_series(1, ceil(missing::numeric / opened)::int) g
         where e.status in ('OPENED', 'CLICKED', 'REPLIED')
         limit missing;
       end if;
     end $$`,
  );
  const first = (where: string) => `min(occurred_at) filter (where ${where})`;
  await run(
    'email facts',
    `create unlogged table seed_fact as
     select email_id,
            ${first(`kind = 'DELIVERY'`)} as delivered_at,
            ${first(`kind in ('OPEN', 'CLICK') and verdict = 'HUMAN'`)} as first_human_open_at,
            ${first(`kind = 'OPEN' and verdict = 'MACHINE'`)} as first_machine_open_at,
            ${first(`kind = 'CLICK' and verdict = 'HUMAN'`)} as first_human_click_at,
            ${first(`kind = 'CLICK' and verdict = 'MACHINE'`)} as first_machine_click_at,
            ${first(`kind = 'BOUNCE' and detail like 'Permanent bounce%'`)} as permanent_bounce_at,
            ${first(`kind = 'BOUNCE' and detail not like 'Permanent bounce%'`)} as transient_bounce_at,
            ${first(`kind = 'COMPLAINT'`)} as complained_at,
            ${first(`kind = 'UNSUBSCRIBE'`)} as unsubscribed_at,
            ${first(`kind = 'REPLY'`)} as replied_at,
            count(*) filter (where kind = 'OPEN') as opens, count(*) filter (where kind = 'CLICK') as clicks,
            max(occurred_at) as last_at
     from seed_event group by email_id;
     alter table seed_fact add primary key (email_id)`,
  );
}
