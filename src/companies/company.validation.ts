import type { FieldProblem } from '../core/errors.js';
import { sesAddressProblem } from '../core/mailbox.js';
import type { ScoringRules } from '../model/scoring-rules.js';
import type { CreateCompanyInput } from './dto/create-company.input.js';

/** Problems of a new company, named under `path` (`input.name`). The scalars have checked the address formats. */
export function companyProblems(input: CreateCompanyInput, path: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (input.name.trim().length < 1 || input.name.length > 200) problems.push({ field: `${path}.name`, message: 'must be 1 to 200 characters' });
  if (input.fromAddress.length > 320) problems.push({ field: `${path}.fromAddress`, message: 'must be at most 320 characters' });
  // The scalar's format lets through what SES still refuses (a leading dot, `a..b`); every email would fail.
  const sendable = (name: 'fromAddress' | 'replyTo', address: string) => {
    const problem = sesAddressProblem(address.trim());
    if (problem) problems.push({ field: `${path}.${name}`, message: problem });
  };
  sendable('fromAddress', input.fromAddress);
  if (input.replyTo) sendable('replyTo', input.replyTo);
  if (input.fromName && input.fromName.length > 200) problems.push({ field: `${path}.fromName`, message: 'must be at most 200 characters' });
  if (input.replyTo && input.replyTo.length > 320) problems.push({ field: `${path}.replyTo`, message: 'must be at most 320 characters' });
  return problems;
}

/** Problems of a company's scoring rules, named under `path` (`input.openPoints`). */
export function scoringRulesProblems(rules: ScoringRules, path: string): FieldProblem[] {
  const within = (name: keyof ScoringRules, min: number) =>
    Number.isInteger(rules[name]) && rules[name] >= min && rules[name] <= 100 ? [] : [{ field: `${path}.${name}`, message: `must be ${min} to 100` }];
  return [...within('openPoints', 0), ...within('clickPoints', 0), ...within('maxScore', 1), ...within('replyPoints', 0)];
}
