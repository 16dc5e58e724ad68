import { Migration } from '@mikro-orm/migrations';

export class Migration20261124032021_leads_sequences extends Migration {

  override name = 'Migration20261124032021_leads_sequences';

  override up(): void | Promise<void> {
    this.addSql(`create table "email_sequence" ("id" uuid not null, "company_id" uuid not null, "name" varchar(200) not null, "description" text null, "active" boolean not null default true, "trigger" text not null, "score_threshold" int null, "steps" jsonb not null, "send_window" jsonb null, "is_default" boolean not null default false, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create unique index "email_sequence_one_default" on "email_sequence" ("company_id") where "is_default";`);
    this.addSql(`create index "email_sequence_company_id_trigger_active_index" on "email_sequence" ("company_id", "trigger", "active");`);

    this.addSql(`create table "lead" ("id" uuid not null, "company_id" uuid not null, "email" varchar(320) null, "first_name" varchar(200) null, "last_name" varchar(200) null, "company_name" varchar(200) null, "timezone" varchar(64) null, "score" int not null default 0, "attributes" jsonb not null default '{}', "unsubscribed_at" timestamptz null, "deleted_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "lead_company_score_live_index" on "lead" ("company_id", "score", "id") where "deleted_at" is null;`);
    this.addSql(`create index "lead_company_created_live_index" on "lead" ("company_id", "created_at", "id") where "deleted_at" is null;`);
    this.addSql(`create unique index "lead_company_email_live_unique" on "lead" ("company_id", "email") where "deleted_at" is null and "email" is not null;`);

    this.addSql(`create table "enrollment" ("id" uuid not null, "company_id" uuid not null, "lead_id" uuid not null, "sequence_id" uuid not null, "status" text not null default 'ACTIVE', "stop_reason" text null, "started_at" timestamptz not null, "paused_at" timestamptz null, "ended_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "enrollment_sequence_id_status_index" on "enrollment" ("sequence_id", "status");`);
    this.addSql(`alter table "enrollment" add constraint "enrollment_lead_id_sequence_id_unique" unique ("lead_id", "sequence_id");`);

    this.addSql(`create table "activity" ("id" uuid not null, "company_id" uuid not null, "lead_id" uuid not null, "type" text not null, "reason" text not null, "score_delta" int null, "score_after" int null, "data" jsonb not null default '{}', "occurred_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "activity_lead_id_occurred_at_id_index" on "activity" ("lead_id", "occurred_at", "id");`);

    this.addSql(`create table "sequence_email" ("id" uuid not null, "company_id" uuid not null, "enrollment_id" uuid not null, "lead_id" uuid not null, "sequence_id" uuid not null, "email_number" int not null, "scheduled_send_date" timestamptz not null, "status" text not null default 'PENDING', "sent_at" timestamptz null, "delivered_at" timestamptz null, "opened_at" timestamptz null, "clicked_at" timestamptz null, "open_count" int not null default 0, "click_count" int not null default 0, "provider_message_id" varchar(200) null, "failure_reason" text null, "attempts" int not null default 0, "subject" text null, "body_html" text null, "body_text" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "sequence_email_sequence_id_status_index" on "sequence_email" ("sequence_id", "status");`);
    this.addSql(`create index "sequence_email_company_due_index" on "sequence_email" ("company_id", "scheduled_send_date", "id") where "status" = 'PENDING';`);
    this.addSql(`create index "sequence_email_due_index" on "sequence_email" ("scheduled_send_date", "id") where "status" = 'PENDING';`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_enrollment_id_email_number_unique" unique ("enrollment_id", "email_number");`);

    this.addSql(`create table "suppression" ("id" uuid not null, "company_id" uuid not null, "email" varchar(320) not null, "reason" text not null, "created_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "suppression" add constraint "suppression_company_id_email_unique" unique ("company_id", "email");`);

    this.addSql(`alter table "email_sequence" add constraint "email_sequence_company_id_foreign" foreign key ("company_id") references "company" ("id") on delete cascade;`);
    this.addSql(`alter table "email_sequence" add constraint "email_sequence_trigger_check" check ("trigger" in ('LEAD_CREATED', 'SCORE_THRESHOLD', 'MANUAL'));`);

    this.addSql(`alter table "lead" add constraint "lead_company_id_foreign" foreign key ("company_id") references "company" ("id") on delete cascade;`);
    this.addSql(`alter table "lead" add constraint "lead_score_range" check ((score >= 0) AND (score <= 100));`);

    this.addSql(`alter table "enrollment" add constraint "enrollment_company_id_foreign" foreign key ("company_id") references "company" ("id") on delete cascade;`);
    this.addSql(`alter table "enrollment" add constraint "enrollment_lead_id_foreign" foreign key ("lead_id") references "lead" ("id") on delete cascade;`);
    this.addSql(`alter table "enrollment" add constraint "enrollment_sequence_id_foreign" foreign key ("sequence_id") references "email_sequence" ("id") on delete cascade;`);
    this.addSql(`alter table "enrollment" add constraint "enrollment_status_check" check ("status" in ('ACTIVE', 'PAUSED', 'COMPLETED', 'STOPPED'));`);
    this.addSql(`alter table "enrollment" add constraint "enrollment_stop_reason_check" check ("stop_reason" in ('MANUAL', 'UNSUBSCRIBED', 'BOUNCED', 'COMPLAINED', 'SCORE_REACHED', 'LEAD_DELETED'));`);

    this.addSql(`alter table "activity" add constraint "activity_company_id_foreign" foreign key ("company_id") references "company" ("id") on delete cascade;`);
    this.addSql(`alter table "activity" add constraint "activity_lead_id_foreign" foreign key ("lead_id") references "lead" ("id") on delete cascade;`);
    this.addSql(`alter table "activity" add constraint "activity_type_check" check ("type" in ('LEAD_CREATED', 'LEAD_UPDATED', 'LEAD_DELETED', 'ENROLLED', 'ENROLLMENT_FAILED', 'ENROLLMENT_SKIPPED', 'ENROLLMENT_PAUSED', 'ENROLLMENT_RESUMED', 'ENROLLMENT_STOPPED', 'ENROLLMENT_COMPLETED', 'EMAIL_SENT', 'EMAIL_FAILED', 'EMAIL_OPENED', 'EMAIL_CLICKED', 'EMAIL_BOUNCED', 'SCORE_CHANGED', 'UNSUBSCRIBED', 'RESUBSCRIBED'));`);

    this.addSql(`alter table "sequence_email" add constraint "sequence_email_company_id_foreign" foreign key ("company_id") references "company" ("id") on delete cascade;`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_enrollment_id_foreign" foreign key ("enrollment_id") references "enrollment" ("id") on delete cascade;`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_lead_id_foreign" foreign key ("lead_id") references "lead" ("id") on delete cascade;`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_sequence_id_foreign" foreign key ("sequence_id") references "email_sequence" ("id") on delete cascade;`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_status_check" check ("status" in ('PENDING', 'SENDING', 'SENT', 'OPENED', 'CLICKED', 'BOUNCED', 'FAILED', 'CANCELED'));`);

    this.addSql(`alter table "suppression" add constraint "suppression_company_id_foreign" foreign key ("company_id") references "company" ("id") on delete cascade;`);
    this.addSql(`alter table "suppression" add constraint "suppression_reason_check" check ("reason" in ('UNSUBSCRIBED', 'HARD_BOUNCE', 'COMPLAINT', 'MANUAL'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "enrollment" drop constraint "enrollment_sequence_id_foreign";`);
    this.addSql(`alter table "sequence_email" drop constraint "sequence_email_sequence_id_foreign";`);
    this.addSql(`alter table "enrollment" drop constraint "enrollment_lead_id_foreign";`);
    this.addSql(`alter table "activity" drop constraint "activity_lead_id_foreign";`);
    this.addSql(`alter table "sequence_email" drop constraint "sequence_email_lead_id_foreign";`);
    this.addSql(`alter table "sequence_email" drop constraint "sequence_email_enrollment_id_foreign";`);

    this.addSql(`drop table if exists "email_sequence" cascade;`);
    this.addSql(`drop table if exists "lead" cascade;`);
    this.addSql(`drop table if exists "enrollment" cascade;`);
    this.addSql(`drop table if exists "activity" cascade;`);
    this.addSql(`drop table if exists "sequence_email" cascade;`);
    this.addSql(`drop table if exists "suppression" cascade;`);
  }

}
