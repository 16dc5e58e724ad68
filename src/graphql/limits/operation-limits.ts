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
import type { Auth } from '../../auth/authenticate.js';
import type { Clock } from '../../core/clock.js';
import type { Config } from '../../core/config.js';
import type { Context } from '../context.js';
import { httpStatusFor, type ErrorCode } from '../../core/errors.js';
import { operationRefusal } from '../format-error.js';
import { operationEstimator, type OperationEstimate } from './operation-cost.js';
import { TokenBuckets } from './token-buckets.js';

/** Keys whose mutation buckets one process remembers (about 100 bytes each). */
const MAX_RATE_LIMITED_KEYS = 10_000;

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
 * Queries, subscriptions and calls without a valid credential (refused by their resolvers) take none.
 */
export class OperationLimits {
  readonly #estimate: ReturnType<typeof operationEstimator>;
  readonly #buckets: TokenBuckets | undefined;

  constructor(
    schema: GraphQLSchema,
    private readonly config: Config,
    clock: Clock,
  ) {
    this.#estimate = operationEstimator(schema);
    const { perSecond, burst } = config.mutationRateLimit;
    this.#buckets = perSecond > 0 ? new TokenBuckets({ perSecond, burst, clock, maxKeys: MAX_RATE_LIMITED_KEYS }) : undefined;
  }

  /** Why the operation may not run, or undefined when it may (its mutations are then counted). */
  check(request: OperationRequest): GraphQLError | undefined {
    const estimate = this.#estimate(request.document, request.operation, request.variables);
    if (!estimate) return undefined; // variables that do not coerce: execution refuses them, nothing runs
    const limit = this.config.maxQueryComplexity;
    if (estimate.cost > limit) {
      return operationRefusal(
        'QUERY_TOO_COMPLEX',
        `The operation's estimated cost is ${estimate.cost}, over the limit of ${limit}: ask for smaller pages or fewer fields`,
        { cost: estimate.cost, limit },
      );
    }
    return request.operation.operation === OperationTypeNode.MUTATION ? this.takeMutations(request.auth, estimate) : undefined;
  }

  private takeMutations(auth: Auth, { rootFields }: OperationEstimate): GraphQLError | undefined {
    if (!this.#buckets || rootFields === 0) return undefined;
    const key = auth.kind === 'company' ? `key:${auth.apiKeyId}` : auth.kind === 'operator' ? 'operator' : undefined;
    if (!key) return undefined;
    const { perSecond, burst } = this.config.mutationRateLimit;
    if (rootFields > burst) {
      return operationRefusal('BAD_REQUEST', `The operation runs ${rootFields} mutations; one operation may run at most ${burst}: split it`);
    }
    const wait = this.#buckets.take(key, rootFields);
    if (wait === 0) return undefined;
    const retryAfterSeconds = Math.ceil(wait);
    const who = auth.kind === 'operator' ? 'the operator token' : 'this API key';
    return operationRefusal('RATE_LIMITED', `Too many mutations with ${who} (${perSecond} per second, bursts of ${burst}): retry in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }
}

/** Apollo (HTTP): a refused operation answers with its status (400, 429) and, when rate limited, `Retry-After`. */
export function operationLimitsPlugin(limits: OperationLimits): ApolloServerPlugin<Context> {
  return {
    // Apollo's hooks are typed to return promises; nothing here waits, so they return settled ones.
    requestDidStart() {
      return Promise.resolve({
        didResolveOperation({ document, operation, request, contextValue }) {
          if (!operation) return Promise.resolve(); // no operation by that name: Apollo answers it
          const refusal = limits.check({ document, operation, variables: request.variables, auth: contextValue.auth });
          if (!refusal) return Promise.resolve();
          const { retryAfterSeconds } = refusal.extensions;
          const headers = new HeaderMap(typeof retryAfterSeconds === 'number' ? [['retry-after', String(retryAfterSeconds)]] : []);
          const status = httpStatusFor(refusal.extensions.code as ErrorCode);
          return Promise.reject(new GraphQLError(refusal.message, { extensions: { ...refusal.extensions, http: { status, headers } } }));
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
}

/**
 * graphql-ws `onSubscribe`: parses (within MAX_QUERY_TOKENS), validates and checks the limits, so a WebSocket
 * operation meets what an HTTP one does. Refusals go back as the protocol's `error` message.
 */
export function wsOperation({ schema, rules, maxTokens, limits }: WsOperationOptions) {
  return (
    auth: Auth,
    payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
  ): ExecutionArgs | readonly GraphQLError[] => {
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
    const refusal = operation && limits.check({ document, operation, variables, auth });
    if (refusal) return [refusal];
    // No operation by that name: graphql-ws answers it.
    return { schema, document, operationName: payload.operationName, variableValues: variables };
  };
}
