import type { EntityManager } from '@mikro-orm/postgresql';
import type { Secret } from '../core/config.js';
import { UnauthenticatedError } from '../core/errors.js';
import { AuthErrorReason } from '../core/error-reasons.js';
import { Company } from '../model/company.entity.js';
import { detachedReader } from '../db/rows.js';
import { columnsOf, prepared, query, sql } from '../db/sql.js';
import { digestOf, looksLikeApiKey, sameDigest } from './api-key.secret.js';
import { REFUSAL_MESSAGES, isKnownKey, type ApiKeyCache, type KeyLookup, type KeyRefusal, type KnownKey } from './key-cache.js';

/** Who is calling. Resolved once per request (or WebSocket connection) from the bearer token. */
export type Auth =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'invalid'; readonly error: UnauthenticatedError }
  | { readonly kind: 'operator' }
  | { readonly kind: 'company'; readonly companyId: string; readonly apiKeyId: string };

/**
 * A request's caller, and for an API key its company's row (to hydrate only when a resolver asks for the company) and
 * the same as a read-only entity (for answers that only read it).
 */
export interface Authenticated {
  readonly auth: Auth;
  readonly company?: { readonly row: KnownKey['company']; readonly view: KnownKey['view'] };
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Turns an `Authorization` header value into an Auth. A bad credential does not fail the request here:
 * introspection and `__typename` need no key, so the error is raised by the first field that does.
 * Always asks the database (WebSocket connections, which then re-check their key before every operation).
 */
export async function authenticate(header: unknown, em: EntityManager, operatorToken: Secret): Promise<Auth> {
  const caller = callerOf(header, operatorToken);
  if (!('hash' in caller)) return caller;
  const found = await loadKey(em, caller.hash);
  if (!isKnownKey(found)) return refused(found);
  // The company comes with it: resolvers that need it then find it in the identity map.
  em.map(Company, { ...found.company });
  return { kind: 'company', companyId: found.companyId, apiKeyId: found.apiKeyId };
}

/**
 * `authenticate` for HTTP requests: a key is answered from `cache` when it holds it (no database round trip), else
 * read with an EntityManager from `fork` and remembered. The company's row is returned to be hydrated on demand.
 */
export async function authenticateRequest(header: unknown, fork: () => EntityManager, operatorToken: Secret, cache: ApiKeyCache): Promise<Authenticated> {
  const caller = callerOf(header, operatorToken);
  if (!('hash' in caller)) return { auth: caller };
  const { hash } = caller;
  const found = await cache.lookup(hash, () => loadKey(fork(), hash));
  if (!isKnownKey(found)) return { auth: refused(found) };
  return { auth: { kind: 'company', companyId: found.companyId, apiKeyId: found.apiKeyId }, company: { row: found.company, view: found.view } };
}

/** The bearer value of a graphql-ws `connectionParams`: `{ authorization: "Bearer …" }` or `{ apiKey: "…" }`. */
export function bearerFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): unknown {
  if (!params) return undefined;
  const header = params.authorization ?? params.Authorization;
  if (header !== undefined) return header;
  if (typeof params.apiKey === 'string') return `Bearer ${params.apiKey}`;
  return undefined;
}

// The operator token's digest, computed once per configured token.
const operatorDigests = new WeakMap<Secret, Buffer>();

function operatorDigest(token: Secret): Buffer {
  let digest = operatorDigests.get(token);
  if (!digest) operatorDigests.set(token, (digest = digestOf(token.reveal())));
  return digest;
}

/**
 * The Auth that needs no lookup (anonymous, malformed, operator, not shaped like a key), or the hash of the API key to
 * look up. The token is hashed once: that digest is compared with the operator's and is the key's stored hash.
 */
function callerOf(header: unknown, operatorToken: Secret): Auth | { hash: string } {
  if (header === undefined || header === null || header === '') return { kind: 'anonymous' };
  const match = typeof header === 'string' ? BEARER.exec(header) : null;
  if (!match) {
    return invalid(AuthErrorReason.MALFORMED_AUTHORIZATION, 'The Authorization header must be "Bearer <api key>"');
  }
  const token = match[1]!;
  const digest = digestOf(token);
  if (sameDigest(digest, operatorDigest(operatorToken))) return { kind: 'operator' };
  if (!looksLikeApiKey(token)) return invalid(AuthErrorReason.API_KEY_UNKNOWN, 'Unknown API key');
  return { hash: digest.toString('hex') };
}

/** One prepared statement: the key and its company's row, by the secret's hash. */
async function loadKey(em: EntityManager, hash: string): Promise<KeyLookup> {
  const [row] = await query<Record<string, unknown> & { api_key_id: string; api_key_revoked_at: Date | null; id: string }>(
    em,
    prepared(sql`select k.id as api_key_id, k.revoked_at as api_key_revoked_at, ${columnsOf(em, Company, 'c')}
                 from api_key k join company c on c.id = k.company_id where k.secret_hash = ${hash}`),
  );
  if (!row) return AuthErrorReason.API_KEY_UNKNOWN;
  if (row.api_key_revoked_at) return AuthErrorReason.API_KEY_REVOKED;
  const { api_key_id: apiKeyId, api_key_revoked_at: _revokedAt, ...company } = row;
  const known: KnownKey = { apiKeyId, companyId: row.id, company, view: detachedReader(em, Company)(company) };
  return known;
}

function refused(reason: KeyRefusal): Auth {
  return invalid(reason, REFUSAL_MESSAGES[reason]);
}

function invalid(reason: AuthErrorReason, message: string): Auth {
  return { kind: 'invalid', error: new UnauthenticatedError(reason, message) };
}
