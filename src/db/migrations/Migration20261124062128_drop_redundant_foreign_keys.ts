import { Migration } from '@mikro-orm/migrations';

export class Migration20261124062128_drop_redundant_foreign_keys extends Migration {

  override name = 'Migration20261124062128_drop_redundant_foreign_keys';

  override up(): void | Promise<void> {
    this.addSql(`alter table "enrollment" drop constraint "enrollment_company_id_foreign";`);

    this.addSql(`alter table "activity" drop constraint "activity_company_id_foreign";`);

    this.addSql(`alter table "sequence_email" drop constraint "sequence_email_company_id_foreign";`);
    this.addSql(`alter table "sequence_email" drop constraint "sequence_email_lead_id_foreign";`);
    this.addSql(`alter table "sequence_email" drop constraint "sequence_email_sequence_id_foreign";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "activity" add constraint "activity_company_id_foreign" foreign key ("company_id") references "company" ("id") on update no action on delete cascade;`);

    this.addSql(`alter table "enrollment" add constraint "enrollment_company_id_foreign" foreign key ("company_id") references "company" ("id") on update no action on delete cascade;`);

    this.addSql(`alter table "sequence_email" add constraint "sequence_email_company_id_foreign" foreign key ("company_id") references "company" ("id") on update no action on delete cascade;`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_lead_id_foreign" foreign key ("lead_id") references "lead" ("id") on update no action on delete cascade;`);
    this.addSql(`alter table "sequence_email" add constraint "sequence_email_sequence_id_foreign" foreign key ("sequence_id") references "email_sequence" ("id") on update no action on delete cascade;`);
  }

}
