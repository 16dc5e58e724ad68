import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { keysetAfter, paginate, type ConnectionResult, type PageRequest } from '../db/pagination.js';
import { Enrollment } from '../model/enrollment.entity.js';
import { findLead } from '../model/lookups.js';
import { SequenceEmail } from '../model/sequence-email.entity.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';

/** Each enrollment of the lead, and the next email due across its active enrollments. */
export async function leadSequenceStatus(em: EntityManager, companyId: string, leadId: string) {
  const lead = await findLead(em, companyId, leadId);
  const enrollments = await em.find(Enrollment, { lead, company: companyId }, { orderBy: { createdAt: 'asc' }, populate: ['sequence'] });
  const nextEmail = await em.findOne(
    SequenceEmail,
    { lead, company: companyId, status: EmailStatus.PENDING, enrollment: { status: EnrollmentStatus.ACTIVE } },
    { orderBy: [{ scheduledSendDate: 'asc' }, { id: 'asc' }] },
  );
  return { lead, enrollments, nextEmail };
}

/**
 * Pending emails of active enrollments due by `dueBefore`, oldest first. A pending email's enrollment is active
 * or paused (stopping cancels its pending emails, completing waits for them), and `paused` marks the latter: so
 * page and count read the company's partial due index alone, with no join to enrollments (which the planner,
 * not knowing that most pending emails lie in the future, would hash whole for the count).
 */
export function listPendingEmails(em: EntityManager, companyId: string, dueBefore: Date, args: PageRequest): Promise<ConnectionResult<SequenceEmail>> {
  const where: FilterQuery<SequenceEmail> = { company: companyId, status: EmailStatus.PENDING, paused: false, scheduledSendDate: { $lte: dueBefore } };
  return paginate({
    args,
    keys: ['date', 'uuid'],
    fetch: (limit, after) =>
      em.find(
        SequenceEmail,
        after ? { $and: [where, keysetAfter('scheduledSendDate', 'asc', new Date(after[0] as string), after[1])] } : where,
        { orderBy: [{ scheduledSendDate: 'asc' }, { id: 'asc' }], limit },
      ),
    keyOf: (e) => [e.scheduledSendDate.toISOString(), e.id],
    count: () => em.count(SequenceEmail, where),
  });
}
