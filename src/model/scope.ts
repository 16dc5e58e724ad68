import type { EntityManager } from '@mikro-orm/postgresql';
import type { Log } from '../core/logger.js';
import type { Company } from './company.entity.js';

/**
 * The one calling convention of services called by the API: `service(scope, ...args)`. A scope is built once per
 * request (graphql/context.ts), so every service of a request shares its unit of work and its "now".
 */
export interface Scope {
  /** The request's EntityManager fork. */
  readonly em: EntityManager;
  /** The request's time, read once from the injected clock. */
  readonly now: Date;
}

/** A scope acting for one company (an API key's): every query of a service called with it filters on `companyId`. */
export interface CompanyScope extends Scope {
  readonly companyId: string;
  readonly log: Log;
  /** The company, loaded on first use and then kept for the request (createLead's hot path loads it once). */
  company(): Promise<Company>;
  /**
   * The company for answers that only read it: as authentication read it when it did (read-only, not managed: no
   * hydration), else `company()`. The view is returned as it is, not in a promise: a GraphQL field answered
   * synchronously skips graphql-js's promise path, a tenth of a `viewer` request's CPU.
   */
  companyView(): Readonly<Company> | Promise<Readonly<Company>>;
}
