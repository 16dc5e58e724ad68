import type { FilterQuery } from '@mikro-orm/core';
import { pageOf, type ConnectionResult, type PageRequest } from '../db/pagination.js';
import { Enrollment } from '../model/enrollment.entity.js';
import { findLead } from '../model/lookups.js';
import { SequenceEmail } from '../model/sequence-email.entity.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';
import type { CompanyScope, Scope } from '../model/scope.js';

/** Each enrollment of the lead, and the next email due across its active enrollments. */
export async function leadSequenceStatus({ em, companyId }: CompanyScope, leadId: string) {
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
export function listPendingEmails({ em, companyId, now }: CompanyScope, dueBefore: Date | null, args: PageRequest): Promise<ConnectionResult<SequenceEmail>> {
  dueBefore ??= now;
  const where: FilterQuery<SequenceEmail> = { company: companyId, status: EmailStatus.PENDING, paused: false, scheduledSendDate: { $lte: dueBefore } };
  return pageOf(em, SequenceEmail, where, { field: 'scheduledSendDate', direction: 'asc', key: 'date' }, args);
}

/** An enrollment's emails, in sequence order (`Enrollment.emails`; the enrollment was loaded for its company). */
export function listEnrollmentEmails({ em }: Scope, enrollmentId: string): Promise<SequenceEmail[]> {
  return em.find(SequenceEmail, { enrollment: enrollmentId }, { orderBy: { emailNumber: 'asc' } });
}
