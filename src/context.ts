import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import type { Auth } from './auth/authenticate.js';
import { ForbiddenError } from './errors.js';

/** Per-request (or per-subscription) context. `em` is a fresh fork: no identity map is shared across requests. */
export interface Context {
  readonly em: EntityManager;
  readonly auth: Auth;
  readonly requestId: string;
  readonly log: FastifyBaseLogger;
}

/** The calling company's id. Resolvers guarded by `@Authorized()` can rely on it. */
export function companyIdOf(context: Context): string {
  if (context.auth.kind !== 'company') {
    throw new ForbiddenError('API_KEY_REQUIRED', 'This operation needs a company API key');
  }
  return context.auth.companyId;
}
