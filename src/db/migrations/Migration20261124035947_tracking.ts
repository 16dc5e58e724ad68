import { Migration } from '@mikro-orm/migrations';

export class Migration20261124035947_tracking extends Migration {

  override name = 'Migration20261124035947_tracking';

  override up(): void | Promise<void> {
    this.addSql(`create table "email_event" ("id" uuid not null, "company_id" uuid not null, "email_id" uuid not null, "kind" text not null, "link_index" int null, "url" text null, "verdict" text null, "verdict_reason" text null, "user_agent" varchar(512) null, "detail" text null, "dedupe_key" varchar(200) null, "occurred_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "email_event" add constraint "email_event_dedupe_key_unique" unique ("dedupe_key");`);
    this.addSql(`create index "email_event_email_id_occurred_at_index" on "email_event" ("email_id", "occurred_at");`);

    this.addSql(`alter table "company" add "scoring_rules" jsonb not null default '{"openPoints":5,"clickPoints":10,"maxScore":100}';`);

    this.addSql(`alter table "activity" drop constraint "activity_type_check";`);
    this.addSql(`alter table "activity" add constraint "activity_type_check" check ("type" in ('LEAD_CREATED', 'LEAD_UPDATED', 'LEAD_DELETED', 'ENROLLED', 'ENROLLMENT_FAILED', 'ENROLLMENT_SKIPPED', 'ENROLLMENT_PAUSED', 'ENROLLMENT_RESUMED', 'ENROLLMENT_STOPPED', 'ENROLLMENT_COMPLETED', 'EMAIL_SENT', 'EMAIL_FAILED', 'EMAIL_OPENED', 'EMAIL_CLICKED', 'EMAIL_BOUNCED', 'EMAIL_DELIVERED', 'EMAIL_COMPLAINED', 'SCORE_CHANGED', 'UNSUBSCRIBED', 'RESUBSCRIBED'));`);

    this.addSql(`alter table "email_event" add constraint "email_event_company_id_foreign" foreign key ("company_id") references "company" ("id") on delete cascade;`);
    this.addSql(`alter table "email_event" add constraint "email_event_email_id_foreign" foreign key ("email_id") references "sequence_email" ("id") on delete cascade;`);
    this.addSql(`alter table "email_event" add constraint "email_event_kind_check" check ("kind" in ('OPEN', 'CLICK', 'DELIVERY', 'BOUNCE', 'COMPLAINT', 'REJECT', 'UNSUBSCRIBE'));`);
    this.addSql(`alter table "email_event" add constraint "email_event_verdict_check" check ("verdict" in ('HUMAN', 'MACHINE'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "email_event" cascade;`);

    this.addSql(`alter table "activity" drop constraint "activity_type_check";`);
    this.addSql(`alter table "activity" add constraint "activity_type_check" check ("type" in ('LEAD_CREATED', 'LEAD_UPDATED', 'LEAD_DELETED', 'ENROLLED', 'ENROLLMENT_FAILED', 'ENROLLMENT_SKIPPED', 'ENROLLMENT_PAUSED', 'ENROLLMENT_RESUMED', 'ENROLLMENT_STOPPED', 'ENROLLMENT_COMPLETED', 'EMAIL_SENT', 'EMAIL_FAILED', 'EMAIL_OPENED', 'EMAIL_CLICKED', 'EMAIL_BOUNCED', 'SCORE_CHANGED', 'UNSUBSCRIBED', 'RESUBSCRIBED'));`);

    this.addSql(`alter table "company" drop column "scoring_rules";`);
  }

}
