import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import type { Auth } from '../auth/authenticate.js';
import type { Clock } from '../core/clock.js';
import { Company } from '../model/company.entity.js';
import type { Config } from '../core/config.js';
import { ForbiddenError } from '../core/errors.js';
import type { EngagementRecorder } from '../tracking/tracking.service.js';

/** Per-request (or per-subscription) context. `em` is a fresh fork: no identity map is shared across requests. */
export interface Context {
  readonly em: EntityManager;
  readonly auth: Auth;
  readonly requestId: string;
  readonly log: FastifyBaseLogger;
  readonly clock: Clock;
  readonly config: Config;
  /** Opens and clicks go through it (group commits). */
  readonly recorder: EngagementRecorder;
}

/** The calling company's id. Resolvers guarded by `@Authorized()` can rely on it. */
export function companyIdOf(context: Context): string {
  if (context.auth.kind !== 'company') {
    throw new ForbiddenError('API_KEY_REQUIRED', 'This operation needs a company API key');
  }
  return context.auth.companyId;
}

/** The calling company, loaded once per request (the fork's identity map keeps it). */
export function companyOf(context: Context): Promise<Company> {
  return context.em.findOneOrFail(Company, { id: companyIdOf(context) });
}

/** What services need from a request: its EntityManager, company, clock and logger. */
export async function serviceDeps(context: Context) {
  return { em: context.em, company: await companyOf(context), now: context.clock.now(), log: context.log };
}
