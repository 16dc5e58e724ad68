import { InputErrorReason, type ErrorReason, type NotFoundReason } from './error-reasons.js';

/**
 * Error codes clients can rely on (`extensions.code`), the domain errors features throw, and the mapping from
 * one to the other. Transport-free: src/graphql/format-error.ts turns these into what a GraphQL client sees.
 *
 * Features throw `DomainError` subclasses with a precise `reason` from their module's closed set in
 * ./error-reasons.ts (e.g. `LEAD_NOT_FOUND`); clients switch on the coarse `code` and may show the `reason`.
 * Anything else is an internal error: logged with the request id, answered with a generic message, never with a
 * stack trace or SQL.
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
    readonly reason: ErrorReason,
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(reason: ErrorReason, message: string) {
    super('unauthenticated', reason, message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(reason: ErrorReason, message: string) {
    super('forbidden', reason, message);
  }
}

/** What each NOT_FOUND reason says is missing, for the message. */
const NOT_FOUND_SUBJECT: Record<NotFoundReason, string> = {
  API_KEY_NOT_FOUND: 'API key',
  COMPANY_NOT_FOUND: 'Company',
  SEQUENCE_NOT_FOUND: 'Sequence',
  DEFAULT_SEQUENCE_NOT_FOUND: 'Default sequence',
  ENROLLMENT_NOT_FOUND: 'Enrollment',
  LEAD_NOT_FOUND: 'Lead',
  EMAIL_NOT_FOUND: 'Email',
};

export class NotFoundError extends DomainError {
  constructor(reason: NotFoundReason, id?: string) {
    const subject = NOT_FOUND_SUBJECT[reason];
    super('not_found', reason, id ? `${subject} ${id} not found` : `${subject} not found`);
  }
}

export class ConflictError extends DomainError {
  constructor(reason: ErrorReason, message: string, fields: FieldProblem[] = []) {
    super('conflict', reason, message, fields);
  }
}

export class InvalidInputError extends DomainError {
  constructor(fields: FieldProblem[], reason: ErrorReason = InputErrorReason.INVALID_INPUT) {
    super('invalid', reason, fields.map((f) => `${f.field}: ${f.message}`).join('; ') || 'Invalid input', fields);
  }

  static field(field: string, message: string, reason?: ErrorReason): InvalidInputError {
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
