import { Migration } from '@mikro-orm/migrations';

/*
 * The account-wide back-off, on the send budget row every worker already shares: while SES throttles or cannot be
 * reached, dispatch waits until `backoff_until` (doubling with `backoff_level`, up to an hour) instead of probing
 * SES with every due email; `backoff_probe` marks the one batch sent when a wait ends. The last send error is kept
 * so that `deliveryStatus` can say why emails wait.
 */
export class Migration20261202091000_send_backoff extends Migration {

  override name = 'Migration20261202091000_send_backoff';

  override up(): void | Promise<void> {
    this.addSql(`alter table "send_budget" add column "backoff_level" int not null default 0, add column "backoff_until" timestamptz null,
      add column "backoff_probe" boolean not null default false, add column "last_send_error" text null, add column "last_send_error_at" timestamptz null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "send_budget" drop column "backoff_level", drop column "backoff_until", drop column "backoff_probe",
      drop column "last_send_error", drop column "last_send_error_at";`);
  }

}
