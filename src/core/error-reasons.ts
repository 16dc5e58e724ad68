/**
 * The closed set of `extensions.reason` values, one enum per module. They live here, in core, because the error
 * classes type their `reason` with the union of them all and core imports nothing above it; each feature imports
 * its own enum. A reason is declared once: a module that refuses for another's reason (enrollments refusing a
 * suppressed lead) uses that module's enum. The README lists every one (test/error-reasons.test.ts checks).
 */

/** API keys and the operator token (`UNAUTHENTICATED`, `FORBIDDEN`, `NOT_FOUND`). */
export enum AuthErrorReason {
  API_KEY_MISSING = 'API_KEY_MISSING',
  MALFORMED_AUTHORIZATION = 'MALFORMED_AUTHORIZATION',
  API_KEY_UNKNOWN = 'API_KEY_UNKNOWN',
  API_KEY_REVOKED = 'API_KEY_REVOKED',
  API_KEY_REQUIRED = 'API_KEY_REQUIRED',
  OPERATOR_ONLY = 'OPERATOR_ONLY',
  API_KEY_NOT_FOUND = 'API_KEY_NOT_FOUND',
}

export enum CompanyErrorReason {
  COMPANY_NOT_FOUND = 'COMPANY_NOT_FOUND',
}

export enum SequenceErrorReason {
  SEQUENCE_NOT_FOUND = 'SEQUENCE_NOT_FOUND',
  /** No sequence id was given and the company has no default sequence. */
  DEFAULT_SEQUENCE_NOT_FOUND = 'DEFAULT_SEQUENCE_NOT_FOUND',
  SEQUENCE_INACTIVE = 'SEQUENCE_INACTIVE',
  /** A template took longer (or more memory) to render than allowed, at save, in a preview or when sending. */
  TEMPLATE_TOO_SLOW = 'TEMPLATE_TOO_SLOW',
}

export enum EnrollmentErrorReason {
  ENROLLMENT_NOT_FOUND = 'ENROLLMENT_NOT_FOUND',
  ENROLLMENT_PAUSED = 'ENROLLMENT_PAUSED',
  /** Completed or stopped, or not in the status the operation starts from. */
  ENROLLMENT_FINISHED = 'ENROLLMENT_FINISHED',
  ENROLLMENT_NOT_ACTIVE = 'ENROLLMENT_NOT_ACTIVE',
}

export enum LeadErrorReason {
  LEAD_NOT_FOUND = 'LEAD_NOT_FOUND',
  LEAD_EMAIL_TAKEN = 'LEAD_EMAIL_TAKEN',
  LEAD_HAS_NO_EMAIL = 'LEAD_HAS_NO_EMAIL',
  /** Unsubscribed, deleted, or its address is on the suppression list. */
  LEAD_SUPPRESSED = 'LEAD_SUPPRESSED',
  TOO_MANY_ROWS = 'TOO_MANY_ROWS',
}

export enum SuppressionErrorReason {
  /** Suppressed for a reason other than an unsubscribe (a bounce, a complaint), which resubscribing cannot lift. */
  ADDRESS_SUPPRESSED = 'ADDRESS_SUPPRESSED',
}

export enum TrackingErrorReason {
  EMAIL_NOT_SENT = 'EMAIL_NOT_SENT',
}

export enum DeliveryErrorReason {
  EMAIL_NOT_FOUND = 'EMAIL_NOT_FOUND',
  EMAIL_NOT_RETRYABLE = 'EMAIL_NOT_RETRYABLE',
  EMAIL_ALREADY_DELIVERED = 'EMAIL_ALREADY_DELIVERED',
}

/** Analytics periods (`BAD_USER_INPUT`): an end off a quarter hour, `to` not after `from`, too long, too many points. */
export enum AnalyticsErrorReason {
  INVALID_PERIOD = 'INVALID_PERIOD',
}

/** Input refused before a service acts on it, in any module (`BAD_USER_INPUT`). */
export enum InputErrorReason {
  INVALID_INPUT = 'INVALID_INPUT',
  INVALID_CURSOR = 'INVALID_CURSOR',
}

/** Every module's reasons, by module: the registry the README and its test follow. */
export const ERROR_REASONS = {
  auth: AuthErrorReason,
  companies: CompanyErrorReason,
  sequences: SequenceErrorReason,
  enrollments: EnrollmentErrorReason,
  leads: LeadErrorReason,
  suppression: SuppressionErrorReason,
  tracking: TrackingErrorReason,
  delivery: DeliveryErrorReason,
  analytics: AnalyticsErrorReason,
  input: InputErrorReason,
} as const;

type ReasonsOf<M extends keyof typeof ERROR_REASONS> = (typeof ERROR_REASONS)[M][keyof (typeof ERROR_REASONS)[M]];

/** Any reason of any module; built from the registry, so a reason cannot be thrown without being listed there. */
export type ErrorReason = { [M in keyof typeof ERROR_REASONS]: ReasonsOf<M> }[keyof typeof ERROR_REASONS];

/** The reasons a `NotFoundError` may carry. */
export type NotFoundReason = Extract<ErrorReason, `${string}_NOT_FOUND`>;
