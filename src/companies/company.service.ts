import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError } from '../core/errors.js';
import { EmailSequence } from '../model/email-sequence.entity.js';
import { SequenceTrigger } from '../model/sequence.enums.js';
import { DEFAULT_SEQUENCE } from './default-sequence.js';
import { Company } from '../model/company.entity.js';
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

/** The sequence every new company starts with: active, LEAD_CREATED, and its default. */
async function createDefaultSequence(em: EntityManager, company: Company): Promise<EmailSequence> {
  const sequence = em.create(EmailSequence, {
    company,
    name: DEFAULT_SEQUENCE.name,
    description: DEFAULT_SEQUENCE.description,
    active: true,
    trigger: SequenceTrigger.LEAD_CREATED,
    steps: DEFAULT_SEQUENCE.steps.map((step) => ({ ...step })),
    isDefault: true,
  });
  await em.flush();
  return sequence;
}
