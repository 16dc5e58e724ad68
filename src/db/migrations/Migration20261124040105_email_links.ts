import { Migration } from '@mikro-orm/migrations';

export class Migration20261124040105_email_links extends Migration {

  override name = 'Migration20261124040105_email_links';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sequence_email" add "links" jsonb null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "sequence_email" drop column "links";`);
  }

}
