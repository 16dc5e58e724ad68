import { Migration } from '@mikro-orm/migrations';

export class Migration20261124060306_lead_emails extends Migration {

  override name = 'Migration20261124060306_lead_emails';

  override up(): void | Promise<void> {
    this.addSql(`create index "sequence_email_lead_id_index" on "sequence_email" ("lead_id");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "sequence_email_lead_id_index";`);
  }

}
