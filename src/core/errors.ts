import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { ArgumentValidationError } from 'type-graphql';

/**
 * Error codes clients can rely on (`extensions.code`), and the single place that maps domain errors to them.
 *
 * Features throw `DomainError` subclasses with a precise `reason` (e.g. `LEAD_NOT_FOUND`); clients switch on the
 * coarse `code` and may show the `reason`. Anything else is an internal error: logged with the request id,
 * answered with a generic message, never with a stack trace or SQL.
 */

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'QUERY_TOO_COMPLEX'
  | 'INTERNAL_SERVER_ERROR';

export type ErrorKind = 'unauthenticated' | 'forbidden' | 'invalid' | 'not_found' | 'conflict' | 'rate_limited';

export interface FieldProblem {
  /** Path of the offending input field, e.g. `input.steps.2.subject`. */
  field: string;
  message: string;
  /** For template problems: the offending variable. */
  variable?: string;
}

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    /** Stable, specific reason, e.g. `API_KEY_REVOKED`. */
    readonly reason: string,
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(reason: string, message: string) {
    super('unauthenticated', reason, message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(reason: string, message: string) {
    super('forbidden', reason, message);
  }
}

export class NotFoundError extends DomainError {
  constructor(entity: string, id?: string) {
    super('not_found', `${entity.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}_NOT_FOUND`, id ? `${entity} ${id} not found` : `${entity} not found`);
  }
}

export class ConflictError extends DomainError {
  constructor(reason: string, message: string, fields: FieldProblem[] = []) {
    super('conflict', reason, message, fields);
  }
}

export class InvalidInputError extends DomainError {
  constructor(fields: FieldProblem[], reason = 'INVALID_INPUT') {
    super('invalid', reason, fields.map((f) => `${f.field}: ${f.message}`).join('; ') || 'Invalid input', fields);
  }

  static field(field: string, message: string, reason?: string): InvalidInputError {
    return new InvalidInputError([{ field, message }], reason);
  }
}

export function codeFor(kind: ErrorKind): ErrorCode {
  switch (kind) {
    case 'unauthenticated':
      return 'UNAUTHENTICATED';
    case 'forbidden':
      return 'FORBIDDEN';
    case 'invalid':
      return 'BAD_USER_INPUT';
    case 'not_found':
      return 'NOT_FOUND';
    case 'conflict':
      return 'CONFLICT';
    case 'rate_limited':
      return 'RATE_LIMITED';
    default: {
      const unreachable: never = kind;
      throw new Error(`unmapped error kind ${String(unreachable)}`);
    }
  }
}

/** HTTP status for errors raised before GraphQL execution (auth is checked per field, so it stays 200). */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'BAD_USER_INPUT':
    case 'BAD_REQUEST':
    case 'QUERY_TOO_COMPLEX':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'RATE_LIMITED':
      return 429;
    case 'INTERNAL_SERVER_ERROR':
      return 500;
  }
}

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
export function operationRefusal(code: 'QUERY_TOO_COMPLEX' | 'RATE_LIMITED' | 'BAD_REQUEST' | 'TOO_MANY_SUBSCRIPTIONS', message: string, figures: Record<string, number> = {}): GraphQLError {
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

  if (original instanceof ArgumentValidationError) {
    const fields = original.extensions.validationErrors.flatMap((e) => flattenValidation(e, ''));
    return {
      ...base,
      message: fields.map((f) => `${f.field}: ${f.message}`).join('; ') || 'Invalid input',
      extensions: { code: 'BAD_USER_INPUT', reason: 'INVALID_INPUT', fields },
    };
  }

  const code = formatted.extensions?.code;
  if (error instanceof GraphQLError && !error.path && !error.originalError && REFUSAL_CODES.has(code)) {
    return { ...base, message: formatted.message, extensions: formatted.extensions };
  }
  // Errors about the request itself (variables, persisted queries, operation), raised before any resolver: no
  // path, and nothing but a GraphQLError behind them. Their messages are graphql-js's and Apollo's, safe to show.
  if (error instanceof GraphQLError && !error.path && (!error.originalError || error.originalError instanceof GraphQLError) && !(typeof code === 'string' && REQUEST_ERROR_CODES.has(code))) {
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

interface ValidationErrorLike {
  property: string;
  constraints?: Record<string, string>;
  children?: ValidationErrorLike[];
}

function flattenValidation(error: ValidationErrorLike, prefix: string): FieldProblem[] {
  const field = prefix ? `${prefix}.${error.property}` : error.property;
  const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
  return [...own, ...(error.children ?? []).flatMap((child) => flattenValidation(child, field))];
}
