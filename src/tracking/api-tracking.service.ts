import { ConflictError, InvalidInputError, NotFoundError } from '../core/errors.js';
import { DeliveryErrorReason, TrackingErrorReason } from '../core/error-reasons.js';
import { isUuid } from '../core/ids.js';
import { pageOf, type ConnectionResult, type PageRequest } from '../db/pagination.js';
import { EmailEvent } from '../model/email-event.entity.js';
import type { CompanyScope } from '../model/scope.js';
import { findEmail } from '../model/lookups.js';
import { SequenceEmail } from '../model/sequence-email.entity.js';
import { DELIVERED_EMAIL } from '../state/transitions.js';
import type { EngagementRecorder } from './tracking.service.js';

/** Opens, clicks and events as the GraphQL API records and reads them; the rules are the tracking routes'. */

/** Records an open of a sent email for an API client (`trackOpen`), and answers the email as it is now. */
export async function trackOpen(scope: CompanyScope, recorder: EngagementRecorder, emailId: string): Promise<SequenceEmail> {
  const email = await deliveredEmail(scope, emailId);
  await recorder.record({ kind: 'OPEN', emailId: email.id, companyId: scope.companyId, method: 'POST', userAgent: null, at: scope.now });
  return scope.em.refresh(email) as Promise<SequenceEmail>;
}

/** Records a click on one of the email's links, by its original URL (`trackClick`); another URL is BAD_USER_INPUT. */
export async function trackClick(scope: CompanyScope, recorder: EngagementRecorder, emailId: string, url: string): Promise<SequenceEmail> {
  const email = await deliveredEmail(scope, emailId);
  const result = await recorder.record({ kind: 'CLICK', emailId: email.id, companyId: scope.companyId, url, method: 'POST', userAgent: null, at: scope.now });
  // Which links an email has is stored state: this is the one check of `url`.
  if (!result.recorded) throw InvalidInputError.field('url', 'is not a link of this email');
  return scope.em.refresh(email) as Promise<SequenceEmail>;
}

/** A page of an email's opens, clicks and SES events, oldest first (`emailEvents`). */
export async function listEmailEvents({ em, companyId }: CompanyScope, emailId: string, page: PageRequest): Promise<ConnectionResult<EmailEvent>> {
  if (!isUuid(emailId) || !(await em.count(SequenceEmail, { id: emailId, company: companyId })))
    throw new NotFoundError(DeliveryErrorReason.EMAIL_NOT_FOUND, emailId);
  return pageOf(em, EmailEvent, { email: emailId, company: companyId }, { field: 'occurredAt', direction: 'asc', key: 'date' }, page);
}

async function deliveredEmail({ em, companyId }: CompanyScope, emailId: string): Promise<SequenceEmail> {
  const email = await findEmail(em, companyId, emailId);
  if (!DELIVERED_EMAIL.includes(email.status)) throw new ConflictError(TrackingErrorReason.EMAIL_NOT_SENT, `The email was not sent (it is ${email.status})`);
  return email;
}
