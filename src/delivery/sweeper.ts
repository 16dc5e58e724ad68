import type { EntityManager } from '@mikro-orm/postgresql';
import { EmailStatus } from '../model/sequence.enums.js';
import { recordActivities } from '../state/timeline.js';
import { publish } from '../state/events.js';
import { abandonedActivities, abandonExpiredClaims, confirmSent, emailChanged, releaseUnofferedClaims } from '../state/email-state.js';

/**
 * Settles emails left SENDING past the claim lease (their worker died mid-batch, or the claim's answer was lost).
 * One never offered to SES goes back to the queue. One offered may or may not have been accepted, and SES has no
 * idempotency key, so it is never re-sent blindly: it becomes UNKNOWN, listed by `stuckEmails`, and an operator
 * may `retryEmail` it on purpose; returns how many became UNKNOWN. The lease is timed by the database's clock
 * (`now` only stamps the change): a live worker never starts a send its lease cannot cover, so an email swept is
 * not being sent any more; should its claim's outcome still arrive, it lands (see settleClaimed).
 */
export async function sweepStuckEmails(em: EntityManager, now: Date, leaseSeconds: number): Promise<number> {
  return em.transactional(async (tx) => {
    await releaseUnofferedClaims(tx, now, leaseSeconds);
    const abandoned = await abandonExpiredClaims(tx, now, leaseSeconds);
    // SES already reported one delivered (its Delivery event beat the settle, which never came): it was sent.
    // Left UNKNOWN it could never leave: the event is not repeated, and retryEmail refuses a delivered email.
    const delivered = abandoned.filter((e) => e.delivered_at);
    for (const email of delivered) {
      const confirmed = await confirmSent(tx, email, { messageId: undefined, at: new Date(email.delivered_at!), now });
      if (confirmed) await publish(tx, confirmed);
    }
    const stuck = abandoned.filter((e) => !e.delivered_at);
    await publish(
      tx,
      stuck.map((e) => emailChanged(e, EmailStatus.UNKNOWN, now)),
    );
    await recordActivities(tx, abandonedActivities(stuck, now));
    return stuck.length;
  });
}
