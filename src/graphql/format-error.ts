import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { codeFor, DomainError } from '../core/errors.js';

/**
 * What a GraphQL client sees of an error: the one mapping from anything thrown to `extensions.code` (and, for
 * domain errors, `extensions.reason`). It lives with GraphQL, not in core, because it reads Apollo's and
 * type-graphql's errors; the codes, kinds and reasons it maps are core's.
 */

/** Codes graphql-js and Apollo produce before resolvers run; safe to pass through as they are. */
const REQUEST_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * An operation refused as a whole before any resolver runs (too costly, over the caller's mutation rate). The
 * extensions carry the code and the figures behind it (`cost` and `limit`, `retryAfterSeconds`); each transport
 * adds what it can (an HTTP status and `Retry-After`).
 */
export function operationRefusal(
  code: 'QUERY_TOO_COMPLEX' | 'RATE_LIMITED' | 'BAD_REQUEST' | 'TOO_MANY_SUBSCRIPTIONS',
  message: string,
  figures: Record<string, number> = {},
): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...figures } });
}

/** Codes of operationRefusal whose figures reach the client. */
const REFUSAL_CODES = new Set<unknown>(['QUERY_TOO_COMPLEX', 'RATE_LIMITED']);

export interface FormatOptions {
  exposeInternals: boolean;
  onInternalError: (error: unknown) => void;
}

/** Apollo `formatError`: the one mapping from anything thrown to what a client sees. */
export function formatGraphQLError(formatted: GraphQLFormattedError, error: unknown, options: FormatOptions): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const base = { locations: formatted.locations, path: formatted.path };

  if (original instanceof DomainError) {
    return {
      ...base,
      message: original.message,
      extensions: {
        code: codeFor(original.kind),
        reason: original.reason,
        ...(original.fields.length > 0 ? { fields: original.fields } : {}),
      },
    };
  }

  const code = formatted.extensions?.code;
  if (error instanceof GraphQLError && !error.path && !error.originalError && REFUSAL_CODES.has(code)) {
    return { ...base, message: formatted.message, extensions: formatted.extensions };
  }
  // Errors about the request itself (variables, persisted queries, operation), raised before any resolver: no
  // path, and nothing but a GraphQLError behind them. Their messages are graphql-js's and Apollo's, safe to show.
  if (
    error instanceof GraphQLError &&
    !error.path &&
    (!error.originalError || error.originalError instanceof GraphQLError) &&
    !(typeof code === 'string' && REQUEST_ERROR_CODES.has(code))
  ) {
    return { ...base, message: formatted.message, extensions: { code: 'BAD_REQUEST' } };
  }
  if (typeof code === 'string' && REQUEST_ERROR_CODES.has(code)) {
    return { ...base, message: formatted.message, extensions: { code } };
  }
  // Errors graphql-js raises itself while coercing values (e.g. a scalar's parseValue) carry no original error.
  if (error instanceof GraphQLError && !error.originalError && code === undefined) {
    return { ...base, message: formatted.message, extensions: { code: 'BAD_USER_INPUT' } };
  }
  if (original instanceof GraphQLError && original.extensions?.code === 'BAD_USER_INPUT') {
    return { ...base, message: original.message, extensions: { code: 'BAD_USER_INPUT' } };
  }

  options.onInternalError(original);
  return {
    ...base,
    message: options.exposeInternals && original instanceof Error ? original.message : 'Internal server error',
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}
