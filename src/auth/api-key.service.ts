import { Company } from '../model/company.entity.js';
import { NotFoundError } from '../core/errors.js';
import { AuthErrorReason, CompanyErrorReason } from '../core/error-reasons.js';
import { isUuid } from '../core/ids.js';
import { prepared, query, sql } from '../db/sql.js';
import { ApiKey } from '../model/api-key.entity.js';
import type { Scope } from '../model/scope.js';
import { displayPrefix, generateSecret, hashSecret } from './api-key.secret.js';
import { forgetApiKeyHere } from './key-cache.js';
import type { CreateApiKeyArgs } from './dto/create-api-key.args.js';

/** Creates a key for a company; its secret is returned here once and only its hash is kept. */
export async function createApiKey({ em }: Scope, { companyId, name }: CreateApiKeyArgs): Promise<{ apiKey: ApiKey; secret: string }> {
  if (!isUuid(companyId) || !(await em.count(Company, { id: companyId }))) throw new NotFoundError(CompanyErrorReason.COMPANY_NOT_FOUND, companyId);
  const secret = generateSecret();
  const apiKey = em.create(ApiKey, {
    company: em.getReference(Company, companyId),
    name: name.trim(),
    prefix: displayPrefix(secret),
    secretHash: hashSecret(secret),
  });
  await em.flush();
  return { apiKey, secret };
}

/** Revoking is permanent and idempotent: the first revocation time is kept. */
export async function revokeApiKey({ em, now }: Scope, id: string): Promise<ApiKey> {
  const apiKey = isUuid(id) ? await em.findOne(ApiKey, { id }) : null;
  if (!apiKey) throw new NotFoundError(AuthErrorReason.API_KEY_NOT_FOUND, id);
  apiKey.revokedAt ??= now;
  await em.flush();
  // Committed: this process stops accepting the key before answering; the others hear the trigger's NOTIFY.
  forgetApiKeyHere(apiKey.id);
  return apiKey;
}

/**
 * Which of `ids` still authenticate (not revoked, not deleted). Open WebSockets ask it before each operation and
 * after a LISTEN outage: one indexed, prepared statement, like the per-request lookup over HTTP.
 */
export async function liveApiKeys({ em }: Scope, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await query<{ id: string }>(em, prepared(sql`select id from api_key where id = any(${ids}::uuid[]) and revoked_at is null`));
  return new Set(rows.map((row) => row.id));
}
