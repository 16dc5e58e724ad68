import { UniqueConstraintViolationException, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import type { Company } from '../model/company.entity.js';
import { ConflictError, InvalidInputError } from '../core/errors.js';
import { keysetAfter, paginate, type ConnectionResult, type PageRequest } from '../db/pagination.js';
import { stopEnrollments } from '../enrollments/enrollment-lifecycle.js';
import { findLead } from '../model/lookups.js';
import { StopReason } from '../model/sequence.enums.js';
import { Activity, ActivityType } from '../model/activity.entity.js';
import { LeadOrder, type LeadFilter, type LeadInput, type UpdateLeadInput } from './dto/lead.input.js';
import { intakeLeads, type IntakeOutcome } from './lead-intake.js';
import { Lead } from '../model/lead.entity.js';
import { validateLead } from './lead.validation.js';
import { recordActivities } from '../state/timeline.js';

export const MAX_IMPORT_ROWS = 10_000;

interface Deps {
  em: EntityManager;
  company: Company;
  now: Date;
  log: FastifyBaseLogger;
}

/** Creates one lead; enrolls it in every active LEAD_CREATED sequence in the same transaction. */
export async function createLead({ em, company, now, log }: Deps, input: LeadInput): Promise<Lead> {
  const [outcome] = await intakeLeads(em, { company, leads: [input], path: () => 'input', now, log, load: true });
  switch (outcome!.status) {
    case 'INVALID':
      throw new InvalidInputError(outcome!.problems);
    case 'DUPLICATE':
      throw new ConflictError('LEAD_EMAIL_TAKEN', `A lead with the email ${outcome!.email} already exists`, [{ field: 'input.email', message: 'is already taken in this company' }]);
    case 'CREATED':
      return em.findOneOrFail(Lead, { id: outcome!.leadId }); // from the identity map: intake loaded it
  }
}

/** Creates up to 10,000 leads in a few statements, with a result per row. */
export async function importLeads({ em, company, now, log }: Deps, inputs: LeadInput[]): Promise<IntakeOutcome[]> {
  if (inputs.length > MAX_IMPORT_ROWS) {
    throw InvalidInputError.field('inputs', `must have at most ${MAX_IMPORT_ROWS} rows (got ${inputs.length}); split the import`, 'TOO_MANY_ROWS');
  }
  return intakeLeads(em, { company, leads: inputs, path: (i) => `inputs.${i}`, now, log });
}

/** Changes the given fields; omitted fields stay, null clears. */
export async function updateLead({ em, company, now }: Deps, id: string, input: UpdateLeadInput): Promise<Lead> {
  const lead = await findLead(em, company.id, id);
  const merged: LeadInput = {
    email: input.email !== undefined ? input.email : lead.email,
    firstName: input.firstName !== undefined ? input.firstName : lead.firstName,
    lastName: input.lastName !== undefined ? input.lastName : lead.lastName,
    companyName: input.companyName !== undefined ? input.companyName : lead.companyName,
    timezone: input.timezone !== undefined ? input.timezone : lead.timezone,
    attributes: input.attributes !== undefined ? input.attributes : lead.attributes,
  };
  const result = validateLead(merged, 'input');
  if (!result.ok) throw new InvalidInputError(result.problems);
  Object.assign(lead, result.value);
  try {
    await em.transactional(async (tx) => {
      await recordActivities(tx, [{ companyId: company.id, leadId: lead.id, type: ActivityType.LEAD_UPDATED, reason: 'Lead updated', occurredAt: now }]);
      await tx.flush();
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) {
      throw new ConflictError('LEAD_EMAIL_TAKEN', `A lead with the email ${result.value.email} already exists`, [{ field: 'input.email', message: 'is already taken in this company' }]);
    }
    throw error;
  }
  return lead;
}

/**
 * Deletes a lead: its enrollments stop, its pending emails are canceled, and it disappears from every query.
 * The row is kept (soft delete) so sent-email history and aggregates stay consistent.
 */
export async function deleteLead({ em, company, now }: Deps, id: string): Promise<{ id: string; canceledEmails: number }> {
  return em.transactional(async (tx) => {
    const lead = await findLead(tx, company.id, id);
    const { canceledEmails } = await stopEnrollments(tx, { companyId: company.id, leadId: lead.id, reason: StopReason.LEAD_DELETED, now });
    lead.deletedAt = now;
    await recordActivities(tx, [{ companyId: company.id, leadId: lead.id, type: ActivityType.LEAD_DELETED, reason: 'Lead deleted', occurredAt: now }]);
    await tx.flush();
    return { id: lead.id, canceledEmails };
  });
}

const ORDERS: Record<LeadOrder, { field: 'createdAt' | 'score'; dir: 'asc' | 'desc' }> = {
  [LeadOrder.CREATED_AT_DESC]: { field: 'createdAt', dir: 'desc' },
  [LeadOrder.CREATED_AT_ASC]: { field: 'createdAt', dir: 'asc' },
  [LeadOrder.SCORE_DESC]: { field: 'score', dir: 'desc' },
  [LeadOrder.SCORE_ASC]: { field: 'score', dir: 'asc' },
};

/** A page of the company's live leads; keyset pagination on (order field, id), served by the partial indexes. */
export function listLeads(em: EntityManager, companyId: string, args: PageRequest, filter: LeadFilter | null | undefined, orderBy: LeadOrder): Promise<ConnectionResult<Lead>> {
  const where: FilterQuery<Lead> = { company: companyId, deletedAt: null };
  const and: FilterQuery<Lead>[] = [];
  if (filter?.minScore !== null && filter?.minScore !== undefined) and.push({ score: { $gte: filter.minScore } });
  if (filter?.maxScore !== null && filter?.maxScore !== undefined) and.push({ score: { $lte: filter.maxScore } });
  const search = filter?.search?.trim();
  if (search) {
    if (search.length > 200) throw InvalidInputError.field('filter.search', 'must be at most 200 characters');
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    and.push({ $or: [{ email: { $ilike: pattern } }, { firstName: { $ilike: pattern } }, { lastName: { $ilike: pattern } }, { companyName: { $ilike: pattern } }] });
  }
  const base: FilterQuery<Lead> = and.length > 0 ? { ...where, $and: and } : where;
  const { field, dir } = ORDERS[orderBy];
  const decode = (value: unknown) => (field === 'createdAt' ? new Date(value as string) : Number(value));

  return paginate({
    args,
    keys: [field === 'createdAt' ? 'date' : 'number', 'uuid'],
    fetch: (limit, after) =>
      em.find(
        Lead,
        after ? { $and: [base, keysetAfter(field, dir, decode(after[0]), after[1])] } : base,
        { orderBy: [{ [field]: dir }, { id: dir }], limit },
      ),
    keyOf: (lead) => [field === 'createdAt' ? lead.createdAt.toISOString() : lead.score, lead.id],
    count: () => em.count(Lead, base),
  });
}

/** The lead's timeline, newest first. */
export function listActivities(em: EntityManager, lead: Lead, args: PageRequest): Promise<ConnectionResult<Activity>> {
  const where = { lead: lead.id };
  return paginate({
    args,
    keys: ['date', 'uuid'],
    fetch: (limit, after) =>
      em.find(
        Activity,
        after ? { $and: [where, keysetAfter('occurredAt', 'desc', new Date(after[0] as string), after[1])] } : where,
        { orderBy: [{ occurredAt: 'desc' }, { id: 'desc' }], limit },
      ),
    keyOf: (a) => [a.occurredAt.toISOString(), a.id],
    count: () => em.count(Activity, where),
  });
}
