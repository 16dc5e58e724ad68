import type { EntityManager } from '@mikro-orm/postgresql';
import { EmailStatus } from '../model/sequence.enums.js';
import { recordActivities } from '../state/timeline.js';
import { publish } from '../state/events.js';
import { abandonedActivities, abandonExpiredClaims, emailChanged } from '../state/email-state.js';

/**
 * Settles emails left SENDING past the claim lease (their worker died mid-batch). SES may or may not have
 * accepted them, and SES has no idempotency key, so they are never re-sent blindly: they become UNKNOWN, listed
 * by `stuckEmails`, and an operator may `retryEmail` one on purpose.
 */
export async function sweepStuckEmails(em: EntityManager, now: Date, leaseSeconds: number): Promise<number> {
  return em.transactional(async (tx) => {
    const stuck = await abandonExpiredClaims(tx, now, leaseSeconds);
    await publish(
      tx,
      stuck.map((e) => emailChanged(e, EmailStatus.UNKNOWN, now)),
    );
    await recordActivities(tx, abandonedActivities(stuck, now));
    return stuck.length;
  });
}
