import { Migration } from '@mikro-orm/migrations';

export class Migration20261124060325_paused_emails extends Migration {

  override name = 'Migration20261124060325_paused_emails';

  override up(): void | Promise<void> {
    this.addSql(`drop index "sequence_email_company_due_index";`);
    this.addSql(`drop index "sequence_email_due_index";`);
    this.addSql(`alter table "sequence_email" add "paused" boolean not null default false;`);
    // Emails of enrollments paused before this migration are held as pause holds them from now on.
    this.addSql(`update "sequence_email" s set "paused" = true from "enrollment" e where e."id" = s."enrollment_id" and e."status" = 'PAUSED' and s."status" in ('PENDING', 'SENDING');`);
    this.addSql(`create index "sequence_email_company_due_unpaused_index" on "sequence_email" ("company_id", "scheduled_send_date", "id") where "status" = 'PENDING' and not "paused";`);
    this.addSql(`create index "sequence_email_due_unpaused_index" on "sequence_email" ("scheduled_send_date", "id") where "status" = 'PENDING' and not "paused";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "sequence_email_company_due_unpaused_index";`);
    this.addSql(`drop index "sequence_email_due_unpaused_index";`);
    this.addSql(`alter table "sequence_email" drop column "paused";`);
    this.addSql(`create index "sequence_email_company_due_index" on "sequence_email" ("company_id", "scheduled_send_date", "id") where status = 'PENDING'::text;`);
    this.addSql(`create index "sequence_email_due_index" on "sequence_email" ("scheduled_send_date", "id") where status = 'PENDING'::text;`);
  }

}
