import type { EntityManager } from '@mikro-orm/postgresql';
import type { Secret } from '../config.js';
import { UnauthenticatedError } from '../errors.js';
import { ApiKey } from './api-key.entity.js';
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
    return invalid('MALFORMED_AUTHORIZATION', 'The Authorization header must be "Bearer <api key>"');
  }
  const token = match[1]!;
  if (sameSecret(token, operatorToken.reveal())) return { kind: 'operator' };
  if (!looksLikeApiKey(token)) return invalid('API_KEY_UNKNOWN', 'Unknown API key');

  // The company comes in the same query: resolvers that need it then find it in the identity map.
  const key = await em.findOne(ApiKey, { secretHash: hashSecret(token) }, { populate: ['company'] });
  if (!key) return invalid('API_KEY_UNKNOWN', 'Unknown API key');
  if (key.revokedAt) return invalid('API_KEY_REVOKED', 'This API key has been revoked');
  return { kind: 'company', companyId: key.company.id, apiKeyId: key.id };
}

/** The bearer value of a graphql-ws `connectionParams`: `{ authorization: "Bearer …" }` or `{ apiKey: "…" }`. */
export function bearerFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): unknown {
  if (!params) return undefined;
  const header = params.authorization ?? params.Authorization;
  if (header !== undefined) return header;
  if (typeof params.apiKey === 'string') return `Bearer ${params.apiKey}`;
  return undefined;
}

function invalid(reason: string, message: string): Auth {
  return { kind: 'invalid', error: new UnauthenticatedError(reason, message) };
}
