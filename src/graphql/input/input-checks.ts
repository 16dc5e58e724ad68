import type { ClassType } from 'type-graphql';
import type { FieldProblem } from '../../core/errors.js';
import { AnalyticsErrorReason, LeadErrorReason, type ErrorReason } from '../../core/error-reasons.js';
import { apiKeyProblems } from '../../auth/api-key.validation.js';
import { CreateApiKeyArgs } from '../../auth/dto/create-api-key.args.js';
import { companyProblems, scoringRulesProblems } from '../../companies/company.validation.js';
import { CreateCompanyInput } from '../../companies/dto/create-company.input.js';
import { ScoringRulesInput } from '../../companies/dto/scoring-rules.input.js';
import { MAX_PAGE_SIZE } from '../../db/pagination.js';
import { AdjustLeadScoreArgs, ImportLeadsArgs, LeadFilter, LeadInput, UpdateLeadInput } from '../../leads/dto/lead.input.js';
import { adjustScoreProblems, importProblems, leadFilterProblems, leadProblems } from '../../leads/lead.validation.js';
import { CreateSequenceInput, UpdateSequenceInput } from '../../sequences/dto/sequence.input.js';
import { createSequenceProblems, updateSequenceProblems } from '../../sequences/sequence.validation.js';
import type { RenderBudget } from '../../templates/render-budget.js';
import { PageArgs } from '../connection.js';
import { EmailStatusChangedArgs, EnrollmentChangedArgs, LeadScoreChangedArgs } from '../realtime/subscription.args.js';
import { CompanyAnalyticsArgs, SequenceAnalyticsArgs, SequenceTimeSeriesArgs } from '../../analytics/dto/analytics.args.js';
import { periodProblems, seriesProblems } from '../../analytics/period.js';

/** What a check may need of the request it runs for: the render time its template checks may spend. */
export interface CheckRequest {
  renderBudget: RenderBudget;
}

/**
 * Every input and args class of the API, with the pure function that lists its problems. An input class is
 * checked under its argument's name (`input.email`); an args class's fields are arguments themselves (`first`).
 * Nested inputs (steps, send windows, import rows) are checked by their parent's function. A class missing here
 * stops the server from starting (inputs) or fails its first call (args): nothing reaches a resolver unchecked.
 */
export interface InputCheck {
  kind: 'input' | 'args';
  /** Template checks render in a worker, so a check may answer with a promise; validateInput awaits it. */
  problems: (value: unknown, path: string, request: CheckRequest) => FieldProblem[] | Promise<FieldProblem[]>;
  /** The error's reason when not INVALID_INPUT. */
  reason?: ErrorReason;
}

type Entry = [ClassType<object>, InputCheck];
// validateInput hands each function a value of its own class (type-graphql builds the instances): the casts hold.
const input = <T extends object>(
  type: ClassType<T>,
  problems: (value: T, path: string, request: CheckRequest) => FieldProblem[] | Promise<FieldProblem[]>,
): Entry => [type, { kind: 'input', problems: problems as InputCheck['problems'] }];
const args = <T extends object>(type: ClassType<T>, problems: (value: T) => FieldProblem[], reason?: ErrorReason): Entry => [
  type,
  { kind: 'args', problems: problems as InputCheck['problems'], ...(reason ? { reason } : {}) },
];
/** Arguments that only narrow what is read: any value of their GraphQL types is valid. */
const free = <T extends object>(type: ClassType<T>): Entry => [type, { kind: 'args', problems: () => [] }];

function pageProblems(page: PageArgs): FieldProblem[] {
  return Number.isInteger(page.first) && page.first >= 1 && page.first <= MAX_PAGE_SIZE ? [] : [{ field: 'first', message: `must be 1 to ${MAX_PAGE_SIZE}` }];
}

export const INPUT_CHECKS: ReadonlyMap<unknown, InputCheck> = new Map<unknown, InputCheck>([
  input(CreateCompanyInput, companyProblems),
  input(ScoringRulesInput, scoringRulesProblems),
  args(CreateApiKeyArgs, apiKeyProblems),
  input(LeadInput, leadProblems),
  input(UpdateLeadInput, leadProblems),
  input(LeadFilter, leadFilterProblems),
  args(ImportLeadsArgs, importProblems, LeadErrorReason.TOO_MANY_ROWS),
  args(AdjustLeadScoreArgs, adjustScoreProblems),
  input(CreateSequenceInput, createSequenceProblems),
  input(UpdateSequenceInput, updateSequenceProblems),
  args(PageArgs, pageProblems),
  free(LeadScoreChangedArgs),
  free(EmailStatusChangedArgs),
  free(EnrollmentChangedArgs),
  args(CompanyAnalyticsArgs, periodProblems, AnalyticsErrorReason.INVALID_PERIOD),
  args(SequenceAnalyticsArgs, periodProblems, AnalyticsErrorReason.INVALID_PERIOD),
  args(SequenceTimeSeriesArgs, seriesProblems, AnalyticsErrorReason.INVALID_PERIOD),
]);
