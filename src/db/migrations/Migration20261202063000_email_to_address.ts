import { Migration } from '@mikro-orm/migrations';

/*
 * The address an email was sent to, recorded when a dispatcher claims it: unsubscribes, bounces and complaints act
 * on it, not on the lead's address of the moment (which updateLead may have changed since). Emails claimed before
 * this migration have none; those fall back to their lead's address, the only record there is.
 */
export class Migration20261202063000_email_to_address extends Migration {

  override name = 'Migration20261202063000_email_to_address';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sequence_email" add column "to_address" varchar(320) null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "sequence_email" drop column "to_address";`);
  }

}
