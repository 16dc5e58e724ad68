import { ConflictError } from '../core/errors.js';
import { DeliveryErrorReason, EnrollmentErrorReason, LeadErrorReason } from '../core/error-reasons.js';
import { query, sql } from '../db/sql.js';
import { pageOf, type ConnectionResult, type PageRequest } from '../db/pagination.js';
import { findEmail } from '../model/lookups.js';
import { SequenceEmail } from '../model/sequence-email.entity.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';
import { readAccountState } from './account.js';
import { readSendBackoff } from './retry-policy.js';
import { companyPause } from './guard/paused.js';
import { signalEmailsDue } from '../state/due-signal.js';
import { isRetryable, retryEmailNow } from '../state/email-state.js';
import { reopenEnrollment } from '../state/enrollment-state.js';
import { statusIn } from '../state/transitions.js';
import type { CompanyScope } from '../model/scope.js';

const { PENDING, SENDING, UNKNOWN } = EmailStatus;

/**
 * The account's sending state and the company's delivery queue, including why emails wait: SES throttling or not
 * reachable makes them wait for a retry (never fail), and the account back off; the deliverability guard's pause of
 * this company alone (src/delivery/guard/) makes its due emails wait for the operator's resume.
 */
export async function deliveryStatus({ em, companyId, now }: CompanyScope) {
  const account = await readAccountState(em);
  const backoff = await readSendBackoff(em);
  const pause = await companyPause(em, companyId);
  // An email tried before and back in PENDING waits for a retry (retryEmail starts it over at 0 attempts).
  const [counts] = await query<{ due: string; sending: string; stuck: string; retrying: string; next_retry_at: Date | null }>(
    em,
    sql`select
          count(*) filter (where ${statusIn('status', [PENDING])} and scheduled_send_date <= ${now}) as due,
          count(*) filter (where ${statusIn('status', [SENDING])}) as sending,
          count(*) filter (where ${statusIn('status', [UNKNOWN])}) as stuck,
          count(*) filter (where ${statusIn('status', [PENDING])} and attempts > 0) as retrying,
          min(scheduled_send_date) filter (where ${statusIn('status', [PENDING])} and attempts > 0) as next_retry_at
        from sequence_email where company_id = ${companyId}::uuid and ${statusIn('status', [PENDING, SENDING, UNKNOWN])}`,
  );
  const ownRetry = counts?.next_retry_at ? new Date(counts.next_retry_at) : null;
  return {
    sendingEnabled: !account.pausedReason && !pause,
    pausedReason: account.pausedReason ?? (pause ? `The deliverability guard paused this company's sending: ${pause.reason ?? 'see deliverability'}` : null),
    companyPausedAt: pause?.pausedAt ?? null,
    companyPausedReason: pause?.reason ?? null,
    maxSendRate: account.maxSendRate,
    checkedAt: account.known ? account.checkedAt : null,
    dueEmails: Number(counts?.due ?? 0),
    sendingEmails: Number(counts?.sending ?? 0),
    stuckEmails: Number(counts?.stuck ?? 0),
    retryingEmails: Number(counts?.retrying ?? 0),
    // Not before the account's back-off ends either.
    nextRetryAt: ownRetry && backoff.until && backoff.until > ownRetry ? backoff.until : ownRetry,
    lastSendError: backoff.lastError,
    lastSendErrorAt: backoff.lastErrorAt,
    backingOffUntil: backoff.until,
  };
}

/** Emails whose hand-over to SES has an unknown outcome (UNKNOWN), newest first. */
export function listStuckEmails({ em, companyId }: CompanyScope, args: PageRequest): Promise<ConnectionResult<SequenceEmail>> {
  const where = { company: companyId, status: UNKNOWN };
  return pageOf(em, SequenceEmail, where, { field: 'updatedAt', direction: 'desc', key: 'date' }, args);
}

/**
 * Re-queues a FAILED or UNKNOWN email on purpose (e.g. one whose outcome is unknown and that did not arrive): it
 * is due now and will be sent once more. Refused for an email known to have arrived. Its enrollment, if it
 * completed meanwhile, becomes active again.
 */
export async function retryEmail({ em, companyId, now }: CompanyScope, id: string): Promise<SequenceEmail> {
  return em.transactional(async (tx) => {
    const email = await findEmail(tx, companyId, id, { populate: ['enrollment', 'lead'] });
    if (!isRetryable(email.status)) {
      throw new ConflictError(DeliveryErrorReason.EMAIL_NOT_RETRYABLE, `Only a FAILED or UNKNOWN email can be retried (this one is ${email.status})`);
    }
    // SES's own word (a Delivery event) or the recipient's (an open, a click) says it arrived: once is enough.
    if (email.deliveredAt || email.openCount > 0 || email.clickCount > 0) {
      throw new ConflictError(
        DeliveryErrorReason.EMAIL_ALREADY_DELIVERED,
        'SES reported this email delivered (or it was opened or clicked): it is not sent again',
      );
    }
    const enrollment = email.enrollment.getEntity();
    const lead = email.lead.getEntity();
    if (lead.deletedAt || lead.unsubscribedAt) throw new ConflictError(LeadErrorReason.LEAD_SUPPRESSED, 'The lead unsubscribed or was deleted');
    if (enrollment.status === EnrollmentStatus.STOPPED || enrollment.status === EnrollmentStatus.PAUSED) {
      throw new ConflictError(EnrollmentErrorReason.ENROLLMENT_NOT_ACTIVE, `The enrollment is ${enrollment.status}`);
    }
    // The email moves first: if a concurrent change took it out of FAILED/UNKNOWN, nothing is reopened.
    if (!(await retryEmailNow(tx, { id: email.id, companyId, now }))) {
      throw new ConflictError(DeliveryErrorReason.EMAIL_NOT_RETRYABLE, 'The email changed meanwhile and can no longer be retried');
    }
    if (await reopenEnrollment(tx, enrollment.id, now)) await tx.refresh(enrollment);
    await tx.refresh(email);
    await signalEmailsDue(tx);
    return email;
  });
}
