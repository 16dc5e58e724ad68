import { Migration } from '@mikro-orm/migrations';

export class Migration20261124040430_ses_events extends Migration {

  override name = 'Migration20261124040430_ses_events';

  override up(): void | Promise<void> {
    this.addSql(`create index "sequence_email_provider_message_id_index" on "sequence_email" ("provider_message_id") where "provider_message_id" is not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "sequence_email_provider_message_id_index";`);
  }

}
