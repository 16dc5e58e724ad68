import type { FieldProblem } from '../core/errors.js';
import { sesAddressProblem } from '../core/mailbox.js';
import { isValidTimeZone } from '../sequences/schedule.js';
import type { AdjustLeadScoreArgs, ImportLeadsArgs, LeadFilter, LeadInput } from './dto/lead.input.js';

/** A lead's fields after validation and normalisation: what is written to the database. */
export interface LeadFields {
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  companyName: string | null;
  timezone: string | null;
  attributes: Record<string, unknown>;
}

export const MAX_IMPORT_ROWS = 10_000;
const MAX_NAME = 200;
const MAX_SEARCH = 200;
const MAX_REASON = 500;
const MAX_ATTRIBUTES_BYTES = 16 * 1024;
const ATTRIBUTE_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
// Deliberately simple: one @, no whitespace or control characters, a dot in the domain. SES is the final judge.
const EMAIL = /^[^\s@\p{Cc}]{1,64}@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]{2,}$/u;

export type Validated<T> = { ok: true; value: T } | { ok: false; problems: FieldProblem[] };

export function normalizeEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

export function emailProblem(email: string): string | undefined {
  if (email.length > 320) return 'must be at most 320 characters';
  if (!EMAIL.test(email)) return 'is not a valid email address';
  if (
    email
      .split('@')[1]!
      .split('.')
      .some((label) => label === '')
  )
    return 'is not a valid email address';
  // Refused at intake rather than stored and never sent: SES cannot send to it, and whoever enters the lead can fix it now.
  return sesAddressProblem(email);
}

/**
 * Results of `leadProblems` by input object: createLead's input is checked before its resolver and then
 * normalised by the intake, and the intake reuses the result instead of checking the lead twice (its hot path).
 */
const checked = new WeakMap<LeadInput, { path: string; result: Validated<LeadFields> }>();

/** Validates a lead input; `path` prefixes field names in problems (e.g. `input`, `inputs.41`). */
export function validateLead(input: LeadInput, path: string): Validated<LeadFields> {
  const known = checked.get(input);
  return known?.path === path ? known.result : checkLead(input, path);
}

function checkLead(input: LeadInput, path: string): Validated<LeadFields> {
  const problems: FieldProblem[] = [];
  const field = (name: string) => `${path}.${name}`;

  let email: string | null = null;
  if (input.email !== undefined && input.email !== null && input.email.trim() !== '') {
    email = normalizeEmail(input.email);
    const problem = emailProblem(email);
    if (problem) problems.push({ field: field('email'), message: problem });
  }

  const text = (name: 'firstName' | 'lastName' | 'companyName'): string | null => {
    const value = input[name];
    if (value === undefined || value === null) return null;
    const trimmed = value.trim();
    if (trimmed.length > MAX_NAME) problems.push({ field: field(name), message: `must be at most ${MAX_NAME} characters` });
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(trimmed)) problems.push({ field: field(name), message: 'must not contain control characters' });
    return trimmed === '' ? null : trimmed;
  };
  const firstName = text('firstName');
  const lastName = text('lastName');
  const companyName = text('companyName');

  let timezone: string | null = null;
  if (input.timezone) {
    timezone = input.timezone.trim();
    if (!isValidTimeZone(timezone)) problems.push({ field: field('timezone'), message: `"${timezone.slice(0, 64)}" is not an IANA time zone` });
  }

  const attributes = input.attributes ?? {};
  problems.push(...attributeProblems(attributes, field('attributes')));

  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { email, firstName, lastName, companyName, timezone, attributes } };
}

/** Problems of a lead input (createLead, updateLead), named under `path` (`input.email`). */
export function leadProblems(input: LeadInput, path: string): FieldProblem[] {
  const result = validateLead(input, path);
  checked.set(input, { path, result });
  return result.ok ? [] : result.problems;
}

/** importLeads as a whole: its size. Each row is checked by the intake, where a bad row is INVALID on its own. */
export function importProblems({ inputs }: ImportLeadsArgs): FieldProblem[] {
  if (inputs.length <= MAX_IMPORT_ROWS) return [];
  return [{ field: 'inputs', message: `must have at most ${MAX_IMPORT_ROWS} rows (got ${inputs.length}); split the import` }];
}

/** Problems of a lead filter, named under `path` (`filter.search`). */
export function leadFilterProblems(filter: LeadFilter, path: string): FieldProblem[] {
  const search = filter.search?.trim();
  return search && search.length > MAX_SEARCH ? [{ field: `${path}.search`, message: `must be at most ${MAX_SEARCH} characters` }] : [];
}

/** Problems of a manual score change (adjustLeadScore). */
export function adjustScoreProblems({ delta, reason }: AdjustLeadScoreArgs): FieldProblem[] {
  return [
    ...(delta < -100 || delta > 100 ? [{ field: 'delta', message: 'must be -100 to 100' }] : []),
    ...(reason.trim().length < 1 || reason.length > MAX_REASON ? [{ field: 'reason', message: `must be 1 to ${MAX_REASON} characters` }] : []),
  ];
}

function attributeProblems(attributes: unknown, path: string): FieldProblem[] {
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    return [{ field: path, message: 'must be a JSON object' }];
  }
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(attributes)) {
    if (!ATTRIBUTE_KEY.test(key)) problems.push({ field: `${path}.${key.slice(0, 64)}`, message: 'keys must be identifiers (letters, digits, _; up to 64)' });
  }
  if (Buffer.byteLength(JSON.stringify(attributes)) > MAX_ATTRIBUTES_BYTES) {
    problems.push({ field: path, message: `must be at most ${MAX_ATTRIBUTES_BYTES} bytes as JSON` });
  }
  return problems;
}
