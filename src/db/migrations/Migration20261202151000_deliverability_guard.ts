import { Migration } from '@mikro-orm/migrations';

/*
 * The per-company deliverability guard (src/delivery/guard/), on the company row:
 * - `deliverability_state` (OK, WARNING, PAUSED) with its reason and when it last changed. Only the guard writes
 *   them, with `update … where deliverability_version = <the version it judged from>` (bumped by every change), so
 *   two processes judging at once cannot both move it (nor publish twice), one that lost re-reads and judges again
 *   (no transition is lost), and a judgement made before a pause and a resume cannot land after them.
 * - `sending_paused_at`: set exactly while PAUSED (checked), the moment the claim began skipping the company.
 * - `deliverability_counting_since`: the operator's last resume. The guard's windows count only sends after it,
 *   otherwise the very bounces that paused the company would pause it again at once. The counters are kept per
 *   15-minute bucket, so `deliverability_baseline` holds what the resume's own bucket had counted by then
 *   (`{ sent, bouncedPermanent, complained }`): the windows start at that bucket and subtract it.
 * - `sending_resumed_at` / `sending_resumed_by`: who resumed it last, and when (companies have no timeline).
 * Adding columns with constant defaults rewrites nothing.
 *
 * `company_sending_paused` lists the paused companies, kept by a trigger from `deliverability_state` (whatever
 * writes it, in the same transaction): the claim excludes them by probing this table, usually empty, and never reads
 * the company table (test/claim-fairness.test.ts holds the claim to that).
 */
export class Migration20261202151000_deliverability_guard extends Migration {

  override name = 'Migration20261202151000_deliverability_guard';

  override up(): void | Promise<void> {
    this.addSql(`alter table "company"
      add column "deliverability_state" text not null default 'OK',
      add column "deliverability_version" integer not null default 0,
      add column "deliverability_reason" text null,
      add column "deliverability_changed_at" timestamptz null,
      add column "sending_paused_at" timestamptz null,
      add column "deliverability_counting_since" timestamptz null,
      add column "deliverability_baseline" jsonb null,
      add column "sending_resumed_at" timestamptz null,
      add column "sending_resumed_by" text null,
      add constraint "company_deliverability_state_check" check ("deliverability_state" in ('OK', 'WARNING', 'PAUSED')),
      add constraint "company_sending_paused_at_check" check (("deliverability_state" = 'PAUSED') = ("sending_paused_at" is not null));`);
    this.addSql(`create table "company_sending_paused" ("company_id" uuid not null, primary key ("company_id"),
      constraint "company_sending_paused_company_id_foreign" foreign key ("company_id") references "company" ("id") on delete cascade);`);
    this.addSql(`create function "company_sending_paused_sync"() returns trigger language plpgsql as $$
      begin
        if new.deliverability_state = 'PAUSED' then
          insert into company_sending_paused (company_id) values (new.id) on conflict do nothing;
        elsif tg_op = 'UPDATE' and old.deliverability_state = 'PAUSED' then
          delete from company_sending_paused where company_id = new.id;
        end if;
        return null;
      end
    $$;`);
    this.addSql(`create trigger "company_sending_paused_sync" after insert or update of "deliverability_state" on "company"
      for each row execute function "company_sending_paused_sync"();`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop trigger "company_sending_paused_sync" on "company";`);
    this.addSql(`drop function "company_sending_paused_sync"();`);
    this.addSql(`drop table "company_sending_paused";`);
    this.addSql(`alter table "company"
      drop column "deliverability_state", drop column "deliverability_version", drop column "deliverability_reason", drop column "deliverability_changed_at",
      drop column "sending_paused_at", drop column "deliverability_counting_since", drop column "deliverability_baseline", drop column "sending_resumed_at",
      drop column "sending_resumed_by";`);
  }

}
