import { Migration } from '@mikro-orm/migrations';

export class Migration20261124031012 extends Migration {

  override name = 'Migration20261124031012';

  override up(): void | Promise<void> {
    this.addSql(`create table "company" ("id" uuid not null, "name" varchar(200) not null, "from_address" varchar(320) not null, "from_name" varchar(200) null, "reply_to" varchar(320) null, "timezone" varchar(64) not null default 'UTC', "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`create table "api_key" ("id" uuid not null, "company_id" uuid not null, "name" varchar(200) not null, "prefix" varchar(16) not null, "secret_hash" varchar(64) not null, "created_at" timestamptz not null, "revoked_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "api_key" add constraint "api_key_secret_hash_unique" unique ("secret_hash");`);
    this.addSql(`create index "api_key_company_id_index" on "api_key" ("company_id");`);

    this.addSql(`alter table "api_key" add constraint "api_key_company_id_foreign" foreign key ("company_id") references "company" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "api_key" drop constraint "api_key_company_id_foreign";`);

    this.addSql(`drop table if exists "company" cascade;`);
    this.addSql(`drop table if exists "api_key" cascade;`);
  }

}
