import type { EntityManager } from '@mikro-orm/postgresql';
import type { Secret } from '../core/config.js';
import { UnauthenticatedError } from '../core/errors.js';
import { AuthErrorReason } from '../core/error-reasons.js';
import { Company } from '../model/company.entity.js';
import { columnsOf, prepared, query, sql } from '../db/sql.js';
import { hashSecret, looksLikeApiKey, sameSecret } from './api-key.secret.js';

/** Who is calling. Resolved once per request (or WebSocket connection) from the bearer token. */
export type Auth =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'invalid'; readonly error: UnauthenticatedError }
  | { readonly kind: 'operator' }
  | { readonly kind: 'company'; readonly companyId: string; readonly apiKeyId: string };

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Turns an `Authorization` header value into an Auth. A bad credential does not fail the request here:
 * introspection and `__typename` need no key, so the error is raised by the first field that does.
 */
export async function authenticate(header: unknown, em: EntityManager, operatorToken: Secret): Promise<Auth> {
  if (header === undefined || header === null || header === '') return { kind: 'anonymous' };
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  if (!match) {
    return invalid(AuthErrorReason.MALFORMED_AUTHORIZATION, 'The Authorization header must be "Bearer <api key>"');
  }
  const token = match[1]!;
  if (sameSecret(token, operatorToken.reveal())) return { kind: 'operator' };
  if (!looksLikeApiKey(token)) return invalid(AuthErrorReason.API_KEY_UNKNOWN, 'Unknown API key');

  // Every request asks this, so it is one prepared statement. The company comes with it: resolvers that need it
  // then find it in the identity map.
  const [row] = await query<Record<string, unknown> & { api_key_id: string; api_key_revoked_at: Date | null; id: string }>(
    em,
    prepared(sql`select k.id as api_key_id, k.revoked_at as api_key_revoked_at, ${columnsOf(em, Company, 'c')}
                 from api_key k join company c on c.id = k.company_id where k.secret_hash = ${hashSecret(token)}`),
  );
  if (!row) return invalid(AuthErrorReason.API_KEY_UNKNOWN, 'Unknown API key');
  if (row.api_key_revoked_at) return invalid(AuthErrorReason.API_KEY_REVOKED, 'This API key has been revoked');
  const { api_key_id: apiKeyId, api_key_revoked_at: _revokedAt, ...company } = row;
  em.map(Company, company);
  return { kind: 'company', companyId: row.id, apiKeyId };
}

/** The bearer value of a graphql-ws `connectionParams`: `{ authorization: "Bearer …" }` or `{ apiKey: "…" }`. */
export function bearerFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): unknown {
  if (!params) return undefined;
  const header = params.authorization ?? params.Authorization;
  if (header !== undefined) return header;
  if (typeof params.apiKey === 'string') return `Bearer ${params.apiKey}`;
  return undefined;
}

function invalid(reason: AuthErrorReason, message: string): Auth {
  return { kind: 'invalid', error: new UnauthenticatedError(reason, message) };
}
