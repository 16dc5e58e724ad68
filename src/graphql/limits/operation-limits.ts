import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  OperationTypeNode,
  getOperationAST,
  parse,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationRule,
} from 'graphql';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Auth } from '../../auth/authenticate.js';
import type { Clock } from '../../core/clock.js';
import type { Config } from '../../core/config.js';
import type { Context } from '../context.js';
import { httpStatusFor, type ErrorCode } from '../../core/errors.js';
import { operationRefusal } from '../format-error.js';
import { OperationChecks } from './operation-checks.js';
import type { OperationEstimate } from './operation-cost.js';
import { TokenBuckets } from './token-buckets.js';

/** `previewEmail` calls one operation may make (each may render for up to a second, within the request's budget). */
const MAX_PREVIEWS_PER_OPERATION = 10;

export interface OperationRequest {
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly variables: Readonly<Record<string, unknown>> | undefined;
  readonly auth: Auth;
}

/**
 * The limits an operation meets after validation and before any resolver runs, on HTTP and WebSocket alike:
 * its estimated cost (MAX_QUERY_COMPLEXITY), and for a mutation the caller's rate (MUTATION_RATE_LIMIT,
 * MUTATION_RATE_BURST). Each root field of a mutation is one write and takes one token from the bucket of the
 * caller's API key, or of the operator token (one bucket): `importLeads` is one, whatever its number of rows.
 * A query's `previewEmail` fields render templates, so each takes a token too, and one query may hold at most
 * MAX_PREVIEWS_PER_OPERATION. Other queries, subscriptions and calls without a valid credential (refused by their
 * resolvers) take none. The buckets live in PostgreSQL, so they are one limit however many API processes serve.
 */
export class OperationLimits {
  readonly #checks: OperationChecks;
  readonly #buckets: TokenBuckets | undefined;

  constructor(
    schema: GraphQLSchema,
    private readonly config: Config,
    { orm, clock, logger }: { orm: MikroORM; clock: Clock; logger: Logger },
  ) {
    this.#checks = new OperationChecks(schema);
    const { perSecond, burst } = config.mutationRateLimit;
    this.#buckets = perSecond > 0 ? new TokenBuckets({ perSecond, burst, orm, clock, logger }) : undefined;
  }

  /**
   * Why the operation may not run, or undefined when it may (its mutations are then counted). Rejects when the
   * mutation budget cannot be read (database unreachable): the operation is refused as an internal error, as its
   * own writes would be, rather than run unlimited.
   */
  async check(request: OperationRequest): Promise<GraphQLError | undefined> {
    // Computed once per document and the variable values it depends on (operation-checks.ts).
    const { estimate, previews } = this.#checks.factsOf(request.document, request.operation, request.variables);
    if (!estimate) return undefined; // variables that do not coerce: execution refuses them, nothing runs
    const limit = this.config.maxQueryComplexity;
    if (estimate.cost > limit) {
      return operationRefusal(
        'QUERY_TOO_COMPLEX',
        `The operation's estimated cost is ${estimate.cost}, over the limit of ${limit}: ask for smaller pages or fewer fields`,
        { cost: estimate.cost, limit },
      );
    }
    if (request.operation.operation === OperationTypeNode.MUTATION) return this.takeMutations(request.auth, estimate);
    if (request.operation.operation !== OperationTypeNode.QUERY) return undefined;
    // A preview renders a template in the render workers: it counts as a write, and few go in one document.
    if (previews > MAX_PREVIEWS_PER_OPERATION) {
      return operationRefusal(
        'BAD_REQUEST',
        `The operation renders ${previews} previews; one operation may render at most ${MAX_PREVIEWS_PER_OPERATION}: split it`,
      );
    }
    return this.takeMutations(request.auth, { ...estimate, rootFields: previews }, 'previews and mutations');
  }

  dispose(): void {
    this.#buckets?.dispose();
  }

  private async takeMutations(auth: Auth, { rootFields }: OperationEstimate, what = 'mutations'): Promise<GraphQLError | undefined> {
    if (!this.#buckets || rootFields === 0) return undefined;
    const key = auth.kind === 'company' ? `key:${auth.apiKeyId}` : auth.kind === 'operator' ? 'operator' : undefined;
    if (!key) return undefined;
    const { perSecond, burst } = this.config.mutationRateLimit;
    if (rootFields > burst) {
      return operationRefusal('BAD_REQUEST', `The operation runs ${rootFields} mutations; one operation may run at most ${burst}: split it`);
    }
    const wait = await this.#buckets.take(key, rootFields);
    if (wait === 0) return undefined;
    const retryAfterSeconds = Math.ceil(wait);
    const who = auth.kind === 'operator' ? 'the operator token' : 'this API key';
    return operationRefusal('RATE_LIMITED', `Too many ${what} with ${who} (${perSecond} per second, bursts of ${burst}): retry in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }
}

/** Apollo (HTTP): a refused operation answers with its status (400, 429) and, when rate limited, `Retry-After`. */
export function operationLimitsPlugin(limits: OperationLimits): ApolloServerPlugin<Context> {
  return {
    // Apollo's hooks are typed to return promises; this one starts nothing, so it returns a settled one.
    requestDidStart() {
      return Promise.resolve({
        // A rejection other than a refusal (the database unreachable) is Apollo's internal error: 500, logged.
        async didResolveOperation({ document, operation, request, contextValue }) {
          if (!operation) return; // no operation by that name: Apollo answers it
          const refusal = await limits.check({ document, operation, variables: request.variables, auth: contextValue.auth });
          if (!refusal) return;
          const { retryAfterSeconds } = refusal.extensions;
          const headers = new HeaderMap(typeof retryAfterSeconds === 'number' ? [['retry-after', String(retryAfterSeconds)]] : []);
          const status = httpStatusFor(refusal.extensions.code as ErrorCode);
          throw new GraphQLError(refusal.message, { extensions: { ...refusal.extensions, http: { status, headers } } });
        },
      });
    },
  };
}

export interface WsOperationOptions {
  schema: GraphQLSchema;
  /** Every rule, graphql-js's own included. */
  rules: readonly ValidationRule[];
  maxTokens: number;
  limits: OperationLimits;
  logger: Logger;
}

/**
 * graphql-ws `onSubscribe`: parses (within MAX_QUERY_TOKENS), validates and checks the limits, so a WebSocket
 * operation meets what an HTTP one does. Refusals go back as the protocol's `error` message.
 */
export function wsOperation({ schema, rules, maxTokens, limits, logger }: WsOperationOptions) {
  return async (
    auth: Auth,
    payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
  ): Promise<ExecutionArgs | readonly GraphQLError[]> => {
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxTokens });
    } catch (error) {
      if (error instanceof GraphQLError) return [error];
      throw error;
    }
    const errors = validate(schema, document, rules);
    if (errors.length > 0) return errors;
    const variables = payload.variables ?? undefined;
    const operation = getOperationAST(document, payload.operationName);
    let refusal: GraphQLError | undefined;
    try {
      refusal = operation ? await limits.check({ document, operation, variables, auth }) : undefined;
    } catch (error) {
      // Refused as this one operation's error: an exception here would close the socket and all its operations.
      logger.warn({ err: error }, 'could not check the limits of a WebSocket operation; refused it');
      return [new GraphQLError('The operation could not be checked: try again shortly', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })];
    }
    if (refusal) return [refusal];
    // No operation by that name: graphql-ws answers it.
    return { schema, document, operationName: payload.operationName, variableValues: variables };
  };
}
