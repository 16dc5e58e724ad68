import type { EntityManager } from '@mikro-orm/postgresql';
import { Company } from '../model/company.entity.js';
import { InvalidInputError, NotFoundError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { ApiKey } from '../model/api-key.entity.js';
import { displayPrefix, generateSecret, hashSecret } from './api-key.secret.js';

export async function createApiKey(em: EntityManager, companyId: string, name: string): Promise<{ apiKey: ApiKey; secret: string }> {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 200) {
    throw InvalidInputError.field('name', 'must be 1 to 200 characters');
  }
  if (!isUuid(companyId) || !(await em.count(Company, { id: companyId }))) throw new NotFoundError('Company', companyId);
  const secret = generateSecret();
  const apiKey = em.create(ApiKey, {
    company: em.getReference(Company, companyId),
    name: trimmed,
    prefix: displayPrefix(secret),
    secretHash: hashSecret(secret),
  });
  await em.flush();
  return { apiKey, secret };
}

/** Revoking is permanent and idempotent: the first revocation time is kept. */
export async function revokeApiKey(em: EntityManager, id: string): Promise<ApiKey> {
  const apiKey = isUuid(id) ? await em.findOne(ApiKey, { id }) : null;
  if (!apiKey) throw new NotFoundError('ApiKey', id);
  apiKey.revokedAt ??= new Date();
  await em.flush();
  return apiKey;
}
