import { ConflictError } from '../core/errors.js';
import { LeadErrorReason, SuppressionErrorReason } from '../core/error-reasons.js';
import { query, sql } from '../db/sql.js';
import type { Lead } from '../model/lead.entity.js';
import { findLead } from '../model/lookups.js';
import type { CompanyScope } from '../model/scope.js';
import { SuppressionReason } from '../model/suppression.entity.js';
import { liftUnsubscribe, suppressAddress } from './suppression.service.js';

/** Unsubscribes a lead through the API: its address is suppressed for the company and its enrollments stop. */
export async function unsubscribeLead({ em, companyId, now }: CompanyScope, leadId: string): Promise<Lead> {
  return em.transactional(async (tx) => {
    const lead = await findLead(tx, companyId, leadId);
    if (!lead.email) throw new ConflictError(LeadErrorReason.LEAD_HAS_NO_EMAIL, 'The lead has no email address');
    await suppressAddress(tx, { companyId, email: lead.email, reason: SuppressionReason.UNSUBSCRIBED, now, detail: 'Unsubscribed through the API' });
    await tx.refresh(lead);
    return lead;
  });
}

/** Lifts a lead's unsubscribe; an address suppressed for another reason (a bounce, a complaint) stays, as CONFLICT. */
export async function resubscribeLead({ em, companyId, now }: CompanyScope, leadId: string): Promise<Lead> {
  return em.transactional(async (tx) => {
    const lead = await findLead(tx, companyId, leadId);
    if (!lead.email) throw new ConflictError(LeadErrorReason.LEAD_HAS_NO_EMAIL, 'The lead has no email address');
    const [other] = await query<{ reason: SuppressionReason }>(
      tx,
      sql`select reason from suppression where company_id = ${companyId}::uuid and email = ${lead.email} and reason <> ${SuppressionReason.UNSUBSCRIBED}`,
    );
    if (other)
      throw new ConflictError(SuppressionErrorReason.ADDRESS_SUPPRESSED, `The address stays suppressed (${other.reason.toLowerCase().replace('_', ' ')})`);
    await liftUnsubscribe(tx, { companyId, leadId: lead.id, email: lead.email, now });
    await tx.refresh(lead);
    return lead;
  });
}
