import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { ConflictError, InvalidInputError, type FieldProblem } from '../core/errors.js';
import { LeadErrorReason } from '../core/error-reasons.js';
import { pageOf, pageOfRows, type ConnectionResult, type KeysetOrder, type PageRequest } from '../db/pagination.js';
import { sql } from '../db/sql.js';
import { stopEnrollments } from '../state/enrollment-state.js';
import { findLead } from '../model/lookups.js';
import { StopReason } from '../model/sequence.enums.js';
import { Activity, ActivityType } from '../model/activity.entity.js';
import { LeadOrder, type LeadFilter, type LeadInput, type UpdateLeadInput } from './dto/lead.input.js';
import { intakeLeads, type IntakeOutcome } from './lead-intake.js';
import { Lead } from '../model/lead.entity.js';
import type { CompanyScope } from '../model/scope.js';
import { validateLead } from './lead.validation.js';
import { recordActivities } from '../state/timeline.js';

/** What `importLeads` answers: the counts, and one result per row in input order. */
export interface ImportSummary {
  created: number;
  duplicates: number;
  invalid: number;
  rows: { index: number; status: IntakeOutcome['status']; leadId: string | null; email: string | null; errors: FieldProblem[] }[];
}

/** One live lead of the company (`lead`). */
export function getLead({ em, companyId }: CompanyScope, id: string): Promise<Lead> {
  return findLead(em, companyId, id);
}

/** Creates one lead; enrolls it in every active LEAD_CREATED sequence in the same transaction. */
export async function createLead(scope: CompanyScope, input: LeadInput): Promise<Lead> {
  const { em, now, log } = scope;
  const [outcome] = await intakeLeads(em, { company: await scope.company(), leads: [input], path: () => 'input', now, log, load: true });
  switch (outcome!.status) {
    case 'INVALID':
      throw new InvalidInputError(outcome!.problems);
    case 'DUPLICATE':
      throw new ConflictError(LeadErrorReason.LEAD_EMAIL_TAKEN, `A lead with the email ${outcome!.email} already exists`, [
        { field: 'input.email', message: 'is already taken in this company' },
      ]);
    case 'CREATED':
      return em.findOneOrFail(Lead, { id: outcome!.leadId }); // from the identity map: intake loaded it
  }
}

/** Creates up to 10,000 leads (importProblems holds the bound) in a few statements, with a result per row. */
export async function importLeads(scope: CompanyScope, inputs: LeadInput[]): Promise<ImportSummary> {
  const { em, now, log } = scope;
  const outcomes = await intakeLeads(em, { company: await scope.company(), leads: inputs, path: (i) => `inputs.${i}`, now, log });
  const rows = outcomes.map((o) => ({
    index: o.index,
    status: o.status,
    leadId: o.status === 'CREATED' ? o.leadId : null,
    email: o.status === 'INVALID' ? null : o.email,
    errors: o.status === 'INVALID' ? o.problems : [],
  }));
  const count = (status: IntakeOutcome['status']) => rows.filter((r) => r.status === status).length;
  return { created: count('CREATED'), duplicates: count('DUPLICATE'), invalid: count('INVALID'), rows };
}

/** Changes the given fields; omitted fields stay, null clears. */
export async function updateLead({ em, companyId, now }: CompanyScope, id: string, input: UpdateLeadInput): Promise<Lead> {
  const lead = await findLead(em, companyId, id);
  const merged: LeadInput = {
    email: input.email !== undefined ? input.email : lead.email,
    firstName: input.firstName !== undefined ? input.firstName : lead.firstName,
    lastName: input.lastName !== undefined ? input.lastName : lead.lastName,
    companyName: input.companyName !== undefined ? input.companyName : lead.companyName,
    timezone: input.timezone !== undefined ? input.timezone : lead.timezone,
    attributes: input.attributes !== undefined ? input.attributes : lead.attributes,
  };
  // The given fields were checked before (leadProblems); this normalises them with the stored ones.
  const result = validateLead(merged, 'input');
  if (!result.ok) throw new InvalidInputError(result.problems);
  Object.assign(lead, result.value);
  try {
    await em.transactional(async (tx) => {
      await recordActivities(tx, [{ companyId, leadId: lead.id, type: ActivityType.LEAD_UPDATED, reason: 'Lead updated', occurredAt: now }]);
      await tx.flush();
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) {
      throw new ConflictError(LeadErrorReason.LEAD_EMAIL_TAKEN, `A lead with the email ${result.value.email} already exists`, [
        { field: 'input.email', message: 'is already taken in this company' },
      ]);
    }
    throw error;
  }
  return lead;
}

/**
 * Deletes a lead: its enrollments stop, its pending emails are canceled, and it disappears from every query.
 * The row is kept (soft delete) so sent-email history and aggregates stay consistent.
 */
export async function deleteLead({ em, companyId, now }: CompanyScope, id: string): Promise<{ id: string; canceledEmails: number }> {
  return em.transactional(async (tx) => {
    const lead = await findLead(tx, companyId, id);
    const { canceledEmails } = await stopEnrollments(tx, { companyId, leadId: lead.id, reason: StopReason.LEAD_DELETED, now });
    lead.deletedAt = now;
    await recordActivities(tx, [{ companyId, leadId: lead.id, type: ActivityType.LEAD_DELETED, reason: 'Lead deleted', occurredAt: now }]);
    await tx.flush();
    return { id: lead.id, canceledEmails };
  });
}

const ORDERS: Record<LeadOrder, KeysetOrder<Lead>> = {
  [LeadOrder.CREATED_AT_DESC]: { field: 'createdAt', direction: 'desc', key: 'date' },
  [LeadOrder.CREATED_AT_ASC]: { field: 'createdAt', direction: 'asc', key: 'date' },
  [LeadOrder.SCORE_DESC]: { field: 'score', direction: 'desc', key: 'number' },
  [LeadOrder.SCORE_ASC]: { field: 'score', direction: 'asc', key: 'number' },
};

/** A page of the company's live leads; keyset pagination on (order field, id), served by the partial indexes. */
export function listLeads(
  { em, companyId }: CompanyScope,
  args: PageRequest & { countWithPage: boolean },
  filter: LeadFilter | null | undefined,
  orderBy: LeadOrder,
): Promise<ConnectionResult<Readonly<Lead>>> {
  // `deleted_at is null` as text: the partial indexes' condition, which a generic plan only uses when it is spelled.
  const conditions = [sql`company_id = ${companyId} and deleted_at is null`];
  if (filter?.minScore !== null && filter?.minScore !== undefined) conditions.push(sql`score >= ${filter.minScore}`);
  if (filter?.maxScore !== null && filter?.maxScore !== undefined) conditions.push(sql`score <= ${filter.maxScore}`);
  const search = filter?.search?.trim();
  if (search) {
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conditions.push(sql`(email ilike ${pattern} or first_name ilike ${pattern} or last_name ilike ${pattern} or company_name ilike ${pattern})`);
  }
  return pageOfRows(em, Lead, sql.join(conditions, sql` and `), ORDERS[orderBy], args);
}

/** The lead's timeline, newest first. */
export function listActivities({ em }: CompanyScope, lead: Lead, args: PageRequest): Promise<ConnectionResult<Activity>> {
  return pageOf(em, Activity, { lead: lead.id }, { field: 'occurredAt', direction: 'desc', key: 'date' }, args);
}
