import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import type { Auth, Authenticated } from '../auth/authenticate.js';
import type { Clock } from '../core/clock.js';
import { Company } from '../model/company.entity.js';
import type { Config } from '../core/config.js';
import { ForbiddenError, NotFoundError } from '../core/errors.js';
import { AuthErrorReason, CompanyErrorReason } from '../core/error-reasons.js';
import type { CompanyScope, Scope } from '../model/scope.js';
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
  /**
   * The calling company as authentication read it (HTTP: possibly from the key cache, which forgets it when the row
   * changes): its row, hydrated only when a service asks for the company, and a read-only entity of it for answers
   * that only read it. Absent: the company is loaded.
   */
  readonly company?: Authenticated['company'];
}

/** The calling company's id. Resolvers guarded by `@Authorized()` (authorization.ts) can rely on it. */
export function companyIdOf(context: Context): string {
  if (context.auth.kind !== 'company') {
    throw new ForbiddenError(AuthErrorReason.API_KEY_REQUIRED, 'This operation needs a company API key');
  }
  return context.auth.companyId;
}

// One scope per context: every resolver of a request hands its services the same unit of work, "now" and company.
// Kept on the context itself: a WeakMap entry per request cost more than the rest of building the scope.
const SCOPE = Symbol('scope');
type Scoped = Context & { [SCOPE]?: Scope | CompanyScope };

/** The request's scope, for services that act for no company (operator mutations). */
export function requestScope(context: Context): Scope {
  return ((context as Scoped)[SCOPE] ??= { em: context.em, now: context.clock.now() });
}

/** The request's scope for the calling company; FORBIDDEN without a company API key. */
export function companyScope(context: Context): CompanyScope {
  const companyId = companyIdOf(context);
  const known = (context as Scoped)[SCOPE];
  if (known && 'companyId' in known) return known;
  const scope = new RequestCompanyScope(context, companyId, known?.now ?? context.clock.now());
  (context as Scoped)[SCOPE] = scope;
  return scope;
}

/**
 * A class rather than an object literal with a getter and closures: V8 builds a literal's accessor at run time for
 * each request (3 µs a `viewer` request, measured), while a class's getter and methods are on its prototype.
 */
class RequestCompanyScope implements CompanyScope {
  #company: Promise<Company> | undefined;

  constructor(
    private readonly context: Context,
    readonly companyId: string,
    readonly now: Date,
  ) {}

  /** Read when a service first uses it: over HTTP that is when the request's EntityManager is forked (over-http.ts). */
  get em(): Context['em'] {
    return this.context.em;
  }

  get log(): Context['log'] {
    return this.context.log;
  }

  company(): Promise<Company> {
    return (this.#company ??= this.load());
  }

  companyView(): Readonly<Company> | Promise<Readonly<Company>> {
    return this.context.company?.view ?? this.company();
  }

  private async load(): Promise<Company> {
    const { em, company } = this.context;
    const found = company ? em.map(Company, copyOfRow(company.row)) : await em.findOne(Company, { id: this.companyId });
    if (!found) throw new NotFoundError(CompanyErrorReason.COMPANY_NOT_FOUND, this.companyId);
    return found;
  }
}

/**
 * A copy of a row as `pg` returns it (scalars, Dates, parsed JSON), for hydrating: the cached row is shared by every
 * request of the key, and an entity keeps (and may change) what it is given. Cheaper than structuredClone.
 */
function copyOfRow(row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    copy[column] = value instanceof Date ? new Date(value.getTime()) : typeof value === 'object' && value !== null ? JSON.parse(JSON.stringify(value)) : value;
  }
  return copy;
}
