import { Migration } from '@mikro-orm/migrations';

/*
 * Replies (issue 17): an email a person answered is REPLIED and its enrollment may stop with reason REPLIED; an
 * out-of-office pauses the enrollment until `resume_at` (the auto-resume job's partial index finds the due ones);
 * the timeline and the email's events name replies and auto-replies; sequences say whether a reply stops them, and
 * scoring rules how many points a reply gives (existing companies get the default, 15).
 *
 * `replied_at` belongs to the analytics migration (Migration20261202150000_*), which adds every per-email fact
 * column; it is added here too, only if missing, so this migration stands on its own whatever order the two run in.
 */
const EMAIL_STATUSES = ['PENDING', 'SENDING', 'SENT', 'OPENED', 'CLICKED', 'REPLIED', 'BOUNCED', 'FAILED', 'UNKNOWN', 'CANCELED'];
const STOP_REASONS = ['MANUAL', 'UNSUBSCRIBED', 'BOUNCED', 'COMPLAINED', 'SCORE_REACHED', 'LEAD_DELETED', 'REPLIED'];
const EVENT_KINDS = ['OPEN', 'CLICK', 'DELIVERY', 'BOUNCE', 'COMPLAINT', 'REJECT', 'UNSUBSCRIBE', 'REPLY', 'AUTO_REPLY'];
const ACTIVITY_TYPES = [
  'LEAD_CREATED', 'LEAD_UPDATED', 'LEAD_DELETED', 'ENROLLED', 'ENROLLMENT_FAILED', 'ENROLLMENT_SKIPPED', 'ENROLLMENT_PAUSED',
  'ENROLLMENT_RESUMED', 'ENROLLMENT_STOPPED', 'ENROLLMENT_COMPLETED', 'EMAIL_SENT', 'EMAIL_FAILED', 'EMAIL_OPENED', 'EMAIL_CLICKED',
  'EMAIL_BOUNCED', 'EMAIL_DELIVERED', 'EMAIL_COMPLAINED', 'EMAIL_REPLIED', 'EMAIL_AUTO_REPLIED', 'REPLY_FORWARDED', 'SCORE_CHANGED',
  'UNSUBSCRIBED', 'RESUBSCRIBED',
];
const list = (values: string[]) => values.map((v) => `'${v}'`).join(', ');
const without = (values: string[], ...removed: string[]) => values.filter((v) => !removed.includes(v));

export class Migration20261202152000_replies extends Migration {

  override name = 'Migration20261202152000_replies';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sequence_email" add column if not exists "replied_at" timestamptz null;`);
    this.addSql(`alter table "sequence_email" drop constraint if exists "sequence_email_status_check";`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_status_check" check ("status" in (${list(EMAIL_STATUSES)}));`);
    this.addSql(`alter table "enrollment" drop constraint if exists "enrollment_stop_reason_check";`);
    this.addSql(`alter table "enrollment" add constraint "enrollment_stop_reason_check" check ("stop_reason" in (${list(STOP_REASONS)}));`);
    this.addSql(`alter table "email_event" drop constraint if exists "email_event_kind_check";`);
    this.addSql(`alter table "email_event" add constraint "email_event_kind_check" check ("kind" in (${list(EVENT_KINDS)}));`);
    this.addSql(`alter table "activity" drop constraint if exists "activity_type_check";`);
    this.addSql(`alter table "activity" add constraint "activity_type_check" check ("type" in (${list(ACTIVITY_TYPES)}));`);

    this.addSql(`alter table "enrollment" add column "resume_at" timestamptz null;`);
    // The auto-resume job's scan: the few enrollments an out-of-office paused, by date.
    this.addSql(`create index "enrollment_resume_at_index" on "enrollment" ("resume_at") where "status" = 'PAUSED' and "resume_at" is not null;`);
    this.addSql(`alter table "email_sequence" add column "stop_on_reply" boolean not null default true;`);
    this.addSql(`alter table "company" alter column "scoring_rules" set default '{"openPoints":5,"clickPoints":10,"maxScore":100,"replyPoints":15}';`);
    this.addSql(`update "company" set "scoring_rules" = "scoring_rules" || '{"replyPoints":15}' where not ("scoring_rules" ? 'replyPoints');`);
  }

  override down(): void | Promise<void> {
    this.addSql(`update "company" set "scoring_rules" = "scoring_rules" - 'replyPoints';`);
    this.addSql(`alter table "company" alter column "scoring_rules" set default '{"openPoints":5,"clickPoints":10,"maxScore":100}';`);
    this.addSql(`alter table "email_sequence" drop column "stop_on_reply";`);
    this.addSql(`drop index "enrollment_resume_at_index";`);
    this.addSql(`alter table "enrollment" drop column "resume_at";`);
    this.addSql(`update "sequence_email" set "status" = 'SENT' where "status" = 'REPLIED';`);
    this.addSql(`update "enrollment" set "stop_reason" = 'MANUAL' where "stop_reason" = 'REPLIED';`);
    this.addSql(`delete from "email_event" where "kind" in ('REPLY', 'AUTO_REPLY');`);
    this.addSql(`delete from "activity" where "type" in ('EMAIL_REPLIED', 'EMAIL_AUTO_REPLIED', 'REPLY_FORWARDED');`);
    this.addSql(`alter table "sequence_email" drop constraint if exists "sequence_email_status_check";`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_status_check" check ("status" in (${list(without(EMAIL_STATUSES, 'REPLIED'))}));`);
    this.addSql(`alter table "enrollment" drop constraint if exists "enrollment_stop_reason_check";`);
    this.addSql(`alter table "enrollment" add constraint "enrollment_stop_reason_check" check ("stop_reason" in (${list(without(STOP_REASONS, 'REPLIED'))}));`);
    this.addSql(`alter table "email_event" drop constraint if exists "email_event_kind_check";`);
    this.addSql(`alter table "email_event" add constraint "email_event_kind_check" check ("kind" in (${list(without(EVENT_KINDS, 'REPLY', 'AUTO_REPLY'))}));`);
    this.addSql(`alter table "activity" drop constraint if exists "activity_type_check";`);
    this.addSql(`alter table "activity" add constraint "activity_type_check" check ("type" in (${list(without(ACTIVITY_TYPES, 'EMAIL_REPLIED', 'EMAIL_AUTO_REPLIED', 'REPLY_FORWARDED'))}));`);
  }

}
