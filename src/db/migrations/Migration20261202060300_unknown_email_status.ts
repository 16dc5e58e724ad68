import { Migration } from '@mikro-orm/migrations';

/*
 * An email whose hand-over to SES has an unknown outcome gets a status of its own, UNKNOWN, instead of FAILED with a
 * reason starting "Outcome unknown" (what the dispatcher and the sweeper wrote until now). The reason keeps its text.
 */
export class Migration20261202060300_unknown_email_status extends Migration {

  override name = 'Migration20261202060300_unknown_email_status';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sequence_email" drop constraint if exists "sequence_email_status_check";`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_status_check" check ("status" in ('PENDING', 'SENDING', 'SENT', 'OPENED', 'CLICKED', 'BOUNCED', 'FAILED', 'UNKNOWN', 'CANCELED'));`);
    this.addSql(`update "sequence_email" set "status" = 'UNKNOWN' where "status" = 'FAILED' and "failure_reason" like 'Outcome unknown%';`);
    // `stuckEmails` and `deliveryStatus`: a company's unknown ones, newest first. Partial, so it stays a handful of rows.
    this.addSql(`create index "sequence_email_company_unknown_index" on "sequence_email" ("company_id", "updated_at", "id") where "status" = 'UNKNOWN';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "sequence_email_company_unknown_index";`);
    this.addSql(`update "sequence_email" set "status" = 'FAILED', "failure_reason" = case when "failure_reason" like 'Outcome unknown%' then "failure_reason" else 'Outcome unknown: ' || coalesce("failure_reason", '') end where "status" = 'UNKNOWN';`);
    this.addSql(`alter table "sequence_email" drop constraint if exists "sequence_email_status_check";`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_status_check" check ("status" in ('PENDING', 'SENDING', 'SENT', 'OPENED', 'CLICKED', 'BOUNCED', 'FAILED', 'CANCELED'));`);
  }

}
