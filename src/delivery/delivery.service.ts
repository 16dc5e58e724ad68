import type { EntityManager } from '@mikro-orm/postgresql';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { query, sql } from '../db/sql.js';
import { keysetAfter, paginate, type ConnectionResult, type PageRequest } from '../db/pagination.js';
import { SequenceEmail } from '../model/sequence-email.entity.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';
import { readAccountState } from './account.js';
import { OUTCOME_UNKNOWN } from './dispatcher.js';
import { signalEmailsDue } from '../state/due-signal.js';

/** The account's sending state and the company's delivery queue. */
export async function deliveryStatus(em: EntityManager, companyId: string, now: Date) {
  const account = await readAccountState(em);
  const [counts] = await query<{ due: string; sending: string; stuck: string }>(
    em,
    sql`select
          count(*) filter (where status = 'PENDING' and scheduled_send_date <= ${now}) as due,
          count(*) filter (where status = 'SENDING') as sending,
          count(*) filter (where status = 'FAILED' and failure_reason like ${`${OUTCOME_UNKNOWN}%`}) as stuck
        from sequence_email where company_id = ${companyId}::uuid and status in ('PENDING', 'SENDING', 'FAILED')`,
  );
  return {
    sendingEnabled: !account.pausedReason,
    pausedReason: account.pausedReason,
    maxSendRate: account.maxSendRate,
    checkedAt: account.known ? account.checkedAt : null,
    dueEmails: Number(counts?.due ?? 0),
    sendingEmails: Number(counts?.sending ?? 0),
    stuckEmails: Number(counts?.stuck ?? 0),
  };
}

/** Emails whose hand-over to SES has an unknown outcome, newest first. */
export function listStuckEmails(em: EntityManager, companyId: string, args: PageRequest): Promise<ConnectionResult<SequenceEmail>> {
  const where = { company: companyId, status: EmailStatus.FAILED, failureReason: { $like: `${OUTCOME_UNKNOWN}%` } };
  return paginate({
    args,
    keys: ['date', 'uuid'],
    fetch: (limit, after) =>
      em.find(SequenceEmail, after ? { $and: [where, keysetAfter('updatedAt', 'desc', new Date(after[0] as string), after[1])] } : where, {
        orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
        limit,
      }),
    keyOf: (e) => [e.updatedAt.toISOString(), e.id],
    count: () => em.count(SequenceEmail, where),
  });
}

/**
 * Re-queues a FAILED email on purpose (e.g. one whose outcome is unknown and that did not arrive): it is due
 * now and will be sent once more. Its enrollment, if it completed meanwhile, becomes active again.
 */
export async function retryEmail(em: EntityManager, companyId: string, id: string, now: Date): Promise<SequenceEmail> {
  return em.transactional(async (tx) => {
    const email = isUuid(id) ? await tx.findOne(SequenceEmail, { id, company: companyId }, { populate: ['enrollment', 'lead'] }) : null;
    if (!email) throw new NotFoundError('Email', id);
    if (email.status !== EmailStatus.FAILED) throw new ConflictError('EMAIL_NOT_FAILED', `Only a FAILED email can be retried (this one is ${email.status})`);
    const enrollment = email.enrollment.getEntity();
    const lead = email.lead.getEntity();
    if (lead.deletedAt || lead.unsubscribedAt) throw new ConflictError('LEAD_SUPPRESSED', 'The lead unsubscribed or was deleted');
    if (enrollment.status === EnrollmentStatus.STOPPED || enrollment.status === EnrollmentStatus.PAUSED) {
      throw new ConflictError('ENROLLMENT_NOT_ACTIVE', `The enrollment is ${enrollment.status}`);
    }
    if (enrollment.status === EnrollmentStatus.COMPLETED) {
      enrollment.status = EnrollmentStatus.ACTIVE;
      enrollment.endedAt = null;
    }
    Object.assign(email, { status: EmailStatus.PENDING, scheduledSendDate: now, failureReason: null, attempts: 0, claimedAt: null, claimedBy: null });
    await tx.flush();
    await signalEmailsDue(tx);
    return email;
  });
}
