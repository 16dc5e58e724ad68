import { Migration } from '@mikro-orm/migrations';

/*
 * Sequence analytics and the deliverability guard count from rollups kept exact in the same transaction as the raw
 * rows (README, Analytics):
 * - Per-email facts on `sequence_email`, each set once when it first happens (null until then).
 * - `email_stats`: per company, sequence, step (`email_number`; 0 holds enrollments) and 15-minute UTC bucket, the
 *   counters of the emails of that cohort. Cohort by send time: every outcome of an email counts in the bucket of its
 *   `sent_at`; an email that never left (FAILED or UNKNOWN without `sent_at`, CANCELED) in the bucket of its
 *   `scheduled_send_date`; an enrollment in the bucket of its creation.
 * - `company_send_stats`: the same buckets per company with only the deliverability counters, so a 30-day window of a
 *   company is ~2,900 rows whatever its number of sequences.
 * Statement-level triggers with transition tables add each statement's net change (what the changed rows count after,
 * minus what they counted before) in one UPSERT per table. Each counter row is split by `shard`: a backend writes only
 * the shard it holds (a session advisory lock, so no two live backends share one), so writers never wait on each
 * other's counter rows however hot a bucket is, and cannot deadlock on them. `email_stats_fold` periodically moves
 * the shards into shard 0 (skipping rows a writer holds), so a read sums few rows.
 */

/** Advisory lock class of the shard leases (the second key is the shard). */
const SHARD_LOCK_CLASS = 0x65_73_73_68;
/** Advisory lock key that serialises folds and rebuilds. */
const FOLD_LOCK_CLASS = 0x65_73_66_64;

const FACTS = [
  'first_human_open_at',
  'first_machine_open_at',
  'first_human_click_at',
  'first_machine_click_at',
  'permanent_bounce_at',
  'transient_bounce_at',
  'complained_at',
  'unsubscribed_at',
  'replied_at',
];

const COUNTERS = [
  'enrolled',
  'sent',
  'delivered',
  'bounced_permanent',
  'bounced_transient',
  'complained',
  'failed',
  'unknown',
  'canceled',
  'unsubscribed',
  'human_opens',
  'machine_opens',
  'human_clicks',
  'machine_clicks',
  'replied',
];
const SEND_COUNTERS = ['sent', 'delivered', 'bounced_permanent', 'bounced_transient', 'complained'];

const BUCKET = (ts: string) => `date_bin('15 minutes', ${ts}, timestamptz '2000-01-01 00:00:00+00')`;

/** Whether an email row counts anywhere: it left (sent_at), or it never will (failed, unknown, canceled). */
const COUNTED = (r: string) => `(${r}.sent_at is not null or ${r}.status in ('FAILED', 'UNKNOWN', 'CANCELED'))`;

/** One email row's contribution to its bucket, times `sign`, as the select list company_id … replied. */
function contribution(r: string, sign: number): string {
  const sent = `${r}.sent_at is not null`;
  const fact = (column: string) => `((${sent} and ${r}.${column} is not null)::int * ${sign})`;
  // Delivered: SES said so, or the email shows it arrived (engagement, a complaint, an unsubscribe, a reply), so
  // opens, clicks, complaints, unsubscribes and replies are always a part of delivered.
  const arrived = ['delivered_at', ...FACTS.filter((f) => !f.includes('bounce'))].map((c) => `${r}.${c} is not null`).join(' or ');
  return [
    `${r}.company_id`,
    `${r}.sequence_id`,
    `${r}.email_number`,
    `${BUCKET(`coalesce(${r}.sent_at, ${r}.scheduled_send_date)`)} as bucket`,
    `0 as enrolled`,
    `((${sent})::int * ${sign}) as sent`,
    `((${sent} and (${arrived}))::int * ${sign}) as delivered`,
    `${fact('permanent_bounce_at')} as bounced_permanent`,
    `${fact('transient_bounce_at')} as bounced_transient`,
    `${fact('complained_at')} as complained`,
    `((${r}.status = 'FAILED')::int * ${sign}) as failed`,
    `((${r}.status = 'UNKNOWN')::int * ${sign}) as unknown`,
    `((${r}.status = 'CANCELED')::int * ${sign}) as canceled`,
    `${fact('unsubscribed_at')} as unsubscribed`,
    `${fact('first_human_open_at')} as human_opens`,
    `${fact('first_machine_open_at')} as machine_opens`,
    `${fact('first_human_click_at')} as human_clicks`,
    `${fact('first_machine_click_at')} as machine_clicks`,
    `${fact('replied_at')} as replied`,
  ].join(', ');
}

/** An enrollment row's contribution: one enrolled, in step 0 of the bucket of its creation. */
function enrollment(r: string, sign: number): string {
  return [`${r}.company_id`, `${r}.sequence_id`, `0 as email_number`, `${BUCKET(`${r}.created_at`)} as bucket`, `${sign} as enrolled`]
    .concat(COUNTERS.slice(1).map((c) => `0 as ${c}`))
    .join(', ');
}

const KEY = 'company_id, sequence_id, bucket, email_number';
const DAILY_KEY = 'company_id, sequence_id, day, email_number';
/** A bucket's UTC day. */
const DAILY_KEY_OF = `company_id, sequence_id, (bucket at time zone 'UTC')::date, email_number`;
const sums = (columns: string[]) => columns.map((c) => `sum(${c})::int as ${c}`).join(', ');
const anyNonZero = (columns: string[]) => columns.map((c) => `sum(${c}) <> 0`).join(' or ');
const added = (table: string, columns: string[]) => columns.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');

/**
 * The statement that adds `rows` (a select of contributions) to both tables in `shard`. Ordered by key, so the rows
 * of one statement are locked in one order.
 */
function upsert(rows: string, shard: string): string {
  return `with d as (select ${KEY}, ${sums(COUNTERS)} from (${rows}) c group by ${KEY} having ${anyNonZero(COUNTERS)}),
    e as (insert into email_stats (${KEY}, shard, ${COUNTERS.join(', ')})
          select ${KEY}, ${shard}, ${COUNTERS.join(', ')} from d order by ${KEY}
          on conflict (${KEY}, shard) do update set ${added('email_stats', COUNTERS)})
    insert into company_send_stats (company_id, bucket, shard, ${SEND_COUNTERS.join(', ')})
      select company_id, bucket, ${shard}, ${sums(SEND_COUNTERS)} from d group by company_id, bucket having ${anyNonZero(SEND_COUNTERS)}
      order by company_id, bucket
      on conflict (company_id, bucket, shard) do update set ${added('company_send_stats', SEND_COUNTERS)}`;
}

/*
 * The shard is a call inside the statement, not a PL/pgSQL variable: a statement with a parameter gets custom plans
 * (0.5 ms of planning on every call), one without is planned once per connection.
 */
const SHARD = '(select email_stats_shard())';

/** The columns an email's contribution depends on: an update that changes none of them changes no count. */
const INPUTS = ['company_id', 'sequence_id', 'email_number', 'status', 'sent_at', 'scheduled_send_date', 'delivered_at', ...FACTS];

/** A trigger function running `body`, unless `skip` (a condition) says the statement changes no count. */
function trigger(name: string, body: string, skip = 'false'): string {
  return `create function "${name}"() returns trigger language plpgsql as $$
    begin
      if ${skip} then return null; end if;
      ${body};
      return null;
    end $$;`;
}

// Most statements change no count (claims, offers, repeated opens, pending emails of a new enrollment): they skip the
// upserts after a cheap look at their rows.
const NOTHING_NEW = (table: string, alias: string) => `not exists (select 1 from ${table} ${alias} where ${COUNTED(alias)})`;
const NOTHING_CHANGED = `not exists (select 1 from new_rows n join old_rows o on o.id = n.id
  where (${INPUTS.map((c) => `n.${c}`).join(', ')}) is distinct from (${INPUTS.map((c) => `o.${c}`).join(', ')}))`;

export class Migration20261202150000_email_stats extends Migration {

  override name = 'Migration20261202150000_email_stats';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sequence_email" ${FACTS.map((f) => `add "${f}" timestamptz null`).join(', ')};`);
    this.addSql(`create table "email_stats" ("company_id" uuid not null, "sequence_id" uuid not null, "email_number" int not null,
      "bucket" timestamptz not null, "shard" smallint not null, ${COUNTERS.map((c) => `"${c}" integer not null default 0`).join(', ')},
      primary key ("company_id", "sequence_id", "bucket", "email_number", "shard"));`);
    this.addSql(`create table "company_send_stats" ("company_id" uuid not null, "bucket" timestamptz not null, "shard" smallint not null,
      ${SEND_COUNTERS.map((c) => `"${c}" integer not null default 0`).join(', ')}, primary key ("company_id", "bucket", "shard"));`);
    // Whole UTC days of folded counts: a long period reads its whole days here and only its partial edge days (and
    // what is not folded yet) from email_stats. Kept by the fold and the rebuild only: daily = the shard-0 rows of each day.
    this.addSql(`create table "email_stats_daily" ("company_id" uuid not null, "sequence_id" uuid not null, "day" date not null,
      "email_number" int not null, ${COUNTERS.map((c) => `"${c}" integer not null default 0`).join(', ')},
      primary key ("company_id", "sequence_id", "day", "email_number"));`);
    // The rows not folded yet, for the middle of a long period: a handful, recent.
    this.addSql(`create index "email_stats_unfolded_index" on "email_stats" ("company_id", "sequence_id", "bucket") where "shard" <> 0;`);
    // A folded-away shard row is deleted; many dead rows between vacuums would slow the reads that skip them.
    this.addSql(`alter table "email_stats" set (autovacuum_vacuum_scale_factor = 0.02);`);
    this.addSql(`alter table "company_send_stats" set (autovacuum_vacuum_scale_factor = 0.02);`);
    // Reads here are a few thousand rows of a primary-key range: a parallel plan's workers take 10 ms to start for
    // under 1 ms of work (the scale bench's companyAnalytics: p99 151 → 16 ms without them).
    for (const table of ['email_stats', 'company_send_stats', 'email_stats_daily']) this.addSql(`alter table "${table}" set (parallel_workers = 0);`);

    // The shard this backend writes: the lowest free one, held by a session advisory lock for the backend's life
    // and remembered in a session setting (a rolled-back transaction resets the setting; the lock is still ours,
    // so the same shard comes back).
    this.addSql(`create function "email_stats_shard"() returns smallint language plpgsql volatile as $$
      declare held text := current_setting('email_stats.shard', true);
      begin
        if held is not null and held <> '' then return held::smallint; end if;
        for i in 1..32000 loop
          if pg_try_advisory_lock(${SHARD_LOCK_CLASS}, i) then
            perform set_config('email_stats.shard', i::text, false);
            return i;
          end if;
        end loop;
        raise exception 'no free email_stats shard';
      end $$;`);

    const counted = (table: string, alias: string, sign: number) =>
      `select ${contribution(alias, sign)} from ${table} ${alias} where ${COUNTED(alias)}`;
    this.addSql(trigger('email_stats_email_insert', upsert(counted('new_rows', 'n', 1), SHARD), NOTHING_NEW('new_rows', 'n')));
    this.addSql(
      trigger('email_stats_email_update', upsert(`${counted('new_rows', 'n', 1)} union all ${counted('old_rows', 'o', -1)}`, SHARD), NOTHING_CHANGED),
    );
    this.addSql(trigger('email_stats_email_delete', upsert(counted('old_rows', 'o', -1), SHARD), NOTHING_NEW('old_rows', 'o')));
    this.addSql(trigger('email_stats_enrollment_insert', upsert(`select ${enrollment('n', 1)} from new_rows n`, SHARD)));
    this.addSql(trigger('email_stats_enrollment_delete', upsert(`select ${enrollment('o', -1)} from old_rows o`, SHARD)));
    this.addSql(`create trigger "email_stats_email_insert" after insert on "sequence_email" referencing new table as new_rows
      for each statement execute function "email_stats_email_insert"();`);
    this.addSql(`create trigger "email_stats_email_update" after update on "sequence_email" referencing old table as old_rows new table as new_rows
      for each statement execute function "email_stats_email_update"();`);
    this.addSql(`create trigger "email_stats_email_delete" after delete on "sequence_email" referencing old table as old_rows
      for each statement execute function "email_stats_email_delete"();`);
    this.addSql(`create trigger "email_stats_enrollment_insert" after insert on "enrollment" referencing new table as new_rows
      for each statement execute function "email_stats_enrollment_insert"();`);
    this.addSql(`create trigger "email_stats_enrollment_delete" after delete on "enrollment" referencing old table as old_rows
      for each statement execute function "email_stats_enrollment_delete"();`);

    // Recomputes both tables from the raw rows, into shard 0. The exclusive lock waits for writers that already
    // counted, and holds the ones that would count, until the new numbers are committed: they then add to them.
    this.addSql(`create function "email_stats_rebuild"() returns void language plpgsql volatile as $$
      begin
        perform pg_advisory_xact_lock(${FOLD_LOCK_CLASS}, 0);
        lock table email_stats, company_send_stats, email_stats_daily in exclusive mode;
        delete from email_stats;
        delete from company_send_stats;
        delete from email_stats_daily;
        ${upsert(`${counted('sequence_email', 's', 1)} union all select ${enrollment('e', 1)} from enrollment e`, '0')};
        insert into email_stats_daily (${DAILY_KEY}, ${COUNTERS.join(', ')})
          select ${DAILY_KEY_OF}, ${sums(COUNTERS)} from email_stats group by 1, 2, 3, 4 having ${anyNonZero(COUNTERS)};
      end $$;`);

    // Moves up to max_rows shard rows into shard 0; rows a writer holds are skipped (next time). Returns how many.
    this.addSql(`create function "email_stats_fold"(max_rows integer) returns integer language plpgsql volatile as $$
      declare moved integer; moved_send integer;
      begin
        if not pg_try_advisory_xact_lock(${FOLD_LOCK_CLASS}, 0) then return 0; end if;
        with picked as (select ctid from email_stats where shard <> 0 limit max_rows for update skip locked),
             gone as (delete from email_stats s using picked where s.ctid = picked.ctid returning s.*),
             folded as (insert into email_stats (${KEY}, shard, ${COUNTERS.join(', ')})
               select ${KEY}, 0, ${sums(COUNTERS)} from gone group by ${KEY} having ${anyNonZero(COUNTERS)} order by ${KEY}
               on conflict (${KEY}, shard) do update set ${added('email_stats', COUNTERS)} returning 1),
             daily as (insert into email_stats_daily (${DAILY_KEY}, ${COUNTERS.join(', ')})
               select ${DAILY_KEY_OF}, ${sums(COUNTERS)} from gone group by 1, 2, 3, 4 having ${anyNonZero(COUNTERS)} order by 1, 2, 3, 4
               on conflict (${DAILY_KEY}) do update set ${added('email_stats_daily', COUNTERS)} returning 1)
        select count(*) into moved from gone;
        with picked as (select ctid from company_send_stats where shard <> 0 limit max_rows for update skip locked),
             gone as (delete from company_send_stats s using picked where s.ctid = picked.ctid returning s.*),
             folded as (insert into company_send_stats (company_id, bucket, shard, ${SEND_COUNTERS.join(', ')})
               select company_id, bucket, 0, ${sums(SEND_COUNTERS)} from gone group by company_id, bucket having ${anyNonZero(SEND_COUNTERS)}
               order by company_id, bucket
               on conflict (company_id, bucket, shard) do update set ${added('company_send_stats', SEND_COUNTERS)} returning 1)
        select count(*) into moved_send from gone;
        return moved + moved_send;
      end $$;`);

    // Backfill: facts from the events recorded so far, then the rollups from the raw rows.
    const first = (column: string, where: string) =>
      `update sequence_email s set ${column} = e.at from (select email_id, min(occurred_at) as at from email_event where ${where} group by email_id) e where e.email_id = s.id;`;
    this.addSql(first('first_human_open_at', `verdict = 'HUMAN' and kind in ('OPEN', 'CLICK')`));
    this.addSql(first('first_machine_open_at', `verdict = 'MACHINE' and kind = 'OPEN'`));
    this.addSql(first('first_human_click_at', `verdict = 'HUMAN' and kind = 'CLICK'`));
    this.addSql(first('first_machine_click_at', `verdict = 'MACHINE' and kind = 'CLICK'`));
    this.addSql(first('permanent_bounce_at', `kind = 'BOUNCE' and detail like 'Permanent bounce%'`));
    this.addSql(first('transient_bounce_at', `kind = 'BOUNCE' and detail not like 'Permanent bounce%'`));
    this.addSql(first('complained_at', `kind = 'COMPLAINT'`));
    this.addSql(first('unsubscribed_at', `kind = 'UNSUBSCRIBE'`));
    this.addSql(`select email_stats_rebuild();`);
  }

  override down(): void | Promise<void> {
    for (const name of ['email_stats_email_insert', 'email_stats_email_update', 'email_stats_email_delete']) {
      this.addSql(`drop trigger "${name}" on "sequence_email";`);
      this.addSql(`drop function "${name}"();`);
    }
    for (const name of ['email_stats_enrollment_insert', 'email_stats_enrollment_delete']) {
      this.addSql(`drop trigger "${name}" on "enrollment";`);
      this.addSql(`drop function "${name}"();`);
    }
    this.addSql(`drop function "email_stats_fold"(integer);`);
    this.addSql(`drop function "email_stats_rebuild"();`);
    this.addSql(`drop function "email_stats_shard"();`);
    this.addSql(`drop table "company_send_stats";`);
    this.addSql(`drop table "email_stats_daily";`);
    this.addSql(`drop table "email_stats";`);
    this.addSql(`alter table "sequence_email" ${FACTS.map((f) => `drop column "${f}"`).join(', ')};`);
  }

}
