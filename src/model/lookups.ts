import type { FindOneOptions } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError } from '../core/errors.js';
import { DeliveryErrorReason, EnrollmentErrorReason, LeadErrorReason, SequenceErrorReason } from '../core/error-reasons.js';
import { isUuid } from '../core/ids.js';
import { EmailSequence } from './email-sequence.entity.js';
import { Enrollment } from './enrollment.entity.js';
import { Lead } from './lead.entity.js';
import { SequenceEmail } from './sequence-email.entity.js';

/** Tenant-scoped lookups by id: another company's row, or an id that is not a UUID, does not exist. */

/** Loads a live lead of the company; another company's lead does not exist. */
export async function findLead(em: EntityManager, companyId: string, leadId: string): Promise<Lead> {
  const lead = isUuid(leadId) ? await em.findOne(Lead, { id: leadId, company: companyId, deletedAt: null }) : null;
  if (!lead) throw new NotFoundError(LeadErrorReason.LEAD_NOT_FOUND, leadId);
  return lead;
}

/** The sequence, or the company's default sequence when no id is given. */
export async function findSequence(em: EntityManager, companyId: string, sequenceId: string | null | undefined): Promise<EmailSequence> {
  if (sequenceId === null || sequenceId === undefined) {
    const fallback = await em.findOne(EmailSequence, { company: companyId, isDefault: true });
    if (!fallback) throw new NotFoundError(SequenceErrorReason.DEFAULT_SEQUENCE_NOT_FOUND);
    return fallback;
  }
  const sequence = isUuid(sequenceId) ? await em.findOne(EmailSequence, { id: sequenceId, company: companyId }) : null;
  if (!sequence) throw new NotFoundError(SequenceErrorReason.SEQUENCE_NOT_FOUND, sequenceId);
  return sequence;
}

/** One email of the company (`populate` loads relations in the same query). */
export async function findEmail<P extends string = never>(
  em: EntityManager,
  companyId: string,
  emailId: string,
  options: FindOneOptions<SequenceEmail, P> = {},
): Promise<SequenceEmail> {
  const email = isUuid(emailId) ? await em.findOne(SequenceEmail, { id: emailId, company: companyId }, options) : null;
  if (!email) throw new NotFoundError(DeliveryErrorReason.EMAIL_NOT_FOUND, emailId);
  return email;
}

/** One enrollment of the company. */
export async function findEnrollment(em: EntityManager, companyId: string, enrollmentId: string): Promise<Enrollment> {
  const enrollment = isUuid(enrollmentId) ? await em.findOne(Enrollment, { id: enrollmentId, company: companyId }) : null;
  if (!enrollment) throw new NotFoundError(EnrollmentErrorReason.ENROLLMENT_NOT_FOUND, enrollmentId);
  return enrollment;
}
