import type { EntityManager } from '@mikro-orm/postgresql';
import { EmailSequence } from '../model/email-sequence.entity.js';
import { SequenceTrigger } from '../model/sequence.enums.js';
import { DEFAULT_SEQUENCE } from './default-sequence.js';
import { Company } from '../model/company.entity.js';
import type { CompanyScope, Scope } from '../model/scope.js';
import type { CreateCompanyInput } from './dto/create-company.input.js';
import type { ScoringRulesInput } from './dto/scoring-rules.input.js';

/** Creates a tenant with everything a new company starts with: the default, active welcome sequence. */
export async function createCompany({ em }: Scope, input: CreateCompanyInput): Promise<Company> {
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

/** The calling company (`viewer`). */
export function getCompany(scope: CompanyScope): Readonly<Company> | Promise<Readonly<Company>> {
  return scope.companyView();
}

/**
 * Sets how engagement raises the company's lead scores, for events from now on. A lowered `maxScore` rewrites no
 * existing score (no one's history changes behind their back): it stops engagement raising scores past it, and an
 * open or click never lowers a score (`stepScore`, src/leads/score.service.ts).
 */
export async function updateScoringRules(scope: CompanyScope, input: ScoringRulesInput): Promise<Company> {
  // The request's company may come from the API key cache, which learns of a change only when its NOTIFY arrives:
  // a write reads the row it writes, or a quick A→B→A would compare against a stale B, see no change and skip it.
  await scope.company();
  const company = await scope.em.findOneOrFail(Company, { id: scope.companyId }, { refresh: true });
  company.scoringRules = { openPoints: input.openPoints, clickPoints: input.clickPoints, maxScore: input.maxScore, replyPoints: input.replyPoints };
  await scope.em.flush();
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
