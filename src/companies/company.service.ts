import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError } from '../errors.js';
import { createDefaultSequence } from '../sequences/sequence.service.js';
import { Company } from './company.entity.js';
import type { CreateCompanyInput } from './dto/create-company.input.js';

/** Creates a tenant with everything a new company starts with: the default, active welcome sequence. */
export async function createCompany(em: EntityManager, input: CreateCompanyInput): Promise<Company> {
  return em.transactional(async (tx) => {
    const company = tx.create(Company, {
      name: input.name.trim(),
      fromAddress: input.fromAddress.toLowerCase(),
      fromName: input.fromName?.trim() || null,
      replyTo: input.replyTo?.toLowerCase() ?? null,
      timezone: input.timezone ?? 'UTC',
    });
    await tx.flush();
    await createDefaultSequence(tx, company);
    return company;
  });
}

export async function getCompany(em: EntityManager, id: string): Promise<Company> {
  const company = await em.findOne(Company, { id });
  if (!company) throw new NotFoundError('Company', id);
  return company;
}
