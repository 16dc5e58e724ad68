import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from '../core/ids.js';
import { query, sql } from '../db/sql.js';
import { SuppressionReason } from '../model/suppression.entity.js';
import { suppressAddress } from '../suppression/suppression.service.js';
import { EmailFact, recordEmailFact } from '../state/email-facts.js';

/**
 * Unsubscribes the recipient of an email from its company: the address the email went to (its `to_address`, not
 * the lead's address of the moment, which updateLead may have changed) is suppressed, every enrollment of the
 * leads at that address stops and their pending emails are canceled. Idempotent. Returns false for an unknown email.
 */
export async function unsubscribeByEmail(em: EntityManager, emailId: string, now: Date, source: string): Promise<boolean> {
  return em.transactional(async (tx) => {
    const [email] = await query<{ id: string; company_id: string; address: string | null }>(
      tx,
      // An email claimed before addresses were recorded falls back to its lead's address, the only record there is.
      // The email is locked first, as engagement batches and SES events lock it before the lead and the suppression:
      // its unsubscribe fact is written after them, and taking them in the other order would deadlock.
      sql`select s.id, s.company_id, coalesce(s.to_address, l.email) as address from sequence_email s join lead l on l.id = s.lead_id
          where s.id = ${emailId}::uuid for no key update of s`,
    );
    if (!email) return false;
    if (!email.address) return true;
    const result = await suppressAddress(tx, {
      companyId: email.company_id,
      email: email.address,
      reason: SuppressionReason.UNSUBSCRIBED,
      now,
      detail: `Unsubscribed (${source})`,
    });
    if (result.newlySuppressed) {
      await query(
        tx,
        sql`insert into email_event (id, company_id, email_id, kind, detail, occurred_at)
            values (${uuidv7(now.getTime())}::uuid, ${email.company_id}::uuid, ${email.id}::uuid, 'UNSUBSCRIBE', ${source}, ${now})`,
      );
      // Counted with its event: the unsubscribe rate is of the emails whose link unsubscribed their recipient.
      await recordEmailFact(tx, email, EmailFact.UNSUBSCRIBE, now);
    }
    return true;
  });
}
