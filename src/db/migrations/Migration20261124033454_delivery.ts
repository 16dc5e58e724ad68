import { Migration } from '@mikro-orm/migrations';

export class Migration20261124033454_delivery extends Migration {

  override name = 'Migration20261124033454_delivery';

  override up(): void | Promise<void> {
    this.addSql(`create table "send_budget" ("id" int not null default 1, "next_slot_at" timestamptz not null, "max_send_rate" double precision null, "paused_reason" text null, "checked_at" timestamptz null, primary key ("id"));`);
    this.addSql(`insert into "send_budget" ("id", "next_slot_at") values (1, now());`);

    this.addSql(`alter table "sequence_email" add "claimed_at" timestamptz null, add "claimed_by" varchar(100) null;`);
    this.addSql(`create index "sequence_email_sending_index" on "sequence_email" ("claimed_at") where "status" = 'SENDING';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "send_budget" cascade;`);

    this.addSql(`drop index "sequence_email_sending_index";`);
    this.addSql(`alter table "sequence_email" drop column "claimed_at", drop column "claimed_by";`);
  }

}
