import { Migration } from '@mikro-orm/migrations';

/*
 * The fencing token of a claim: each claim writes a fresh one, and its dispatcher settles only rows that still carry
 * it (a sweep keeps it: the claim's late outcome still lands, it is the truth; only the next claim replaces it).
 * `offered_at`: when the claim's dispatcher, about to send, marked the email as offered to SES; an email whose lease
 * ran out before that was certainly never sent and goes back to the queue instead of becoming UNKNOWN. Emails
 * claimed without a token (before this, or by a dispatcher of an older version during a rolling deploy) may have
 * been sent: the sweeper settles them as UNKNOWN, as before.
 */
export class Migration20261202090000_claim_fencing extends Migration {

  override name = 'Migration20261202090000_claim_fencing';

  override up(): void | Promise<void> {
    this.addSql(`alter table "sequence_email" add column "claim_token" uuid null, add column "offered_at" timestamptz null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "sequence_email" drop column "claim_token", drop column "offered_at";`);
  }

}
