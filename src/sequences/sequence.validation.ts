import { SequenceErrorReason } from '../core/error-reasons.js';
import { InvalidInputError, type FieldProblem } from '../core/errors.js';
import { SequenceTrigger } from '../model/sequence.enums.js';
import { MAX_STEPS, type SendWindow, type SequenceStep } from '../model/sequence-step.js';
import { sendWindowProblems } from './schedule.js';
import type { RenderBudget } from '../templates/render-budget.js';
import { checkTemplate } from '../templates/template-check.js';
import { MAX_BODY_LENGTH, MAX_SUBJECT_LENGTH } from '../templates/template-engine.js';
import type { CreateSequenceInput, SendWindowInput, SequenceStepInput, UpdateSequenceInput } from './dto/sequence.input.js';

const MAX_DELAY_DAYS = 365;

/** A complete sequence as created; an update is checked field by field, then merged (`thresholdProblems`). */
export interface SequenceShape {
  name: string;
  description: string | null;
  trigger: SequenceTrigger;
  scoreThreshold: number | null;
  steps: SequenceStepInput[] | SequenceStep[];
  sendWindow: SendWindowInput | SendWindow | null;
}

/** What a check of templates needs from the request it runs for: the render time it may spend. */
export interface TemplateCheckRequest {
  renderBudget?: RenderBudget;
}

/**
 * Every problem of a sequence, each naming its field (`input.steps.2.subject`) and, for templates, the variable.
 * A template too slow to render is not a problem to fix among others: the call fails with TEMPLATE_TOO_SLOW.
 */
export async function sequenceProblems(shape: SequenceShape, path = 'input', request: TemplateCheckRequest = {}): Promise<FieldProblem[]> {
  return [
    ...nameProblems(shape.name, path),
    ...descriptionProblems(shape.description, path),
    ...thresholdProblems(shape.trigger, shape.scoreThreshold, path),
    ...(await stepProblems(shape.steps, `${path}.steps`, request)),
    ...(shape.sendWindow ? windowProblems(shape.sendWindow, path) : []),
  ];
}

/** `createSequence`'s input: a complete sequence. */
export function createSequenceProblems(input: CreateSequenceInput, path: string, request: TemplateCheckRequest = {}): Promise<FieldProblem[]> {
  return sequenceProblems(
    { ...input, description: input.description ?? null, scoreThreshold: input.scoreThreshold ?? null, sendWindow: input.sendWindow ?? null },
    path,
    request,
  );
}

/**
 * `updateSequence`'s input, field by field: what it gives must be valid whatever is stored. Whether a threshold
 * fits the trigger can need the stored trigger; the service checks that after merging (`thresholdProblems`).
 */
export async function updateSequenceProblems(input: UpdateSequenceInput, path: string, request: TemplateCheckRequest = {}): Promise<FieldProblem[]> {
  const problems: FieldProblem[] = [];
  if (input.name !== undefined && input.name !== null) problems.push(...nameProblems(input.name, path));
  if (input.description) problems.push(...descriptionProblems(input.description.trim(), path));
  const threshold = input.scoreThreshold;
  if (threshold !== undefined && threshold !== null) {
    if (!isThreshold(threshold)) problems.push({ field: `${path}.scoreThreshold`, message: 'must be 1 to 100' });
    else if (input.trigger && input.trigger !== SequenceTrigger.SCORE_THRESHOLD) problems.push(...thresholdProblems(input.trigger, threshold, path));
  }
  if (input.steps) problems.push(...(await stepProblems(input.steps, `${path}.steps`, request)));
  if (input.sendWindow) problems.push(...windowProblems(input.sendWindow, path));
  return problems;
}

/** A SCORE_THRESHOLD sequence needs a threshold of 1 to 100; other triggers take none. */
export function thresholdProblems(trigger: SequenceTrigger, threshold: number | null | undefined, path: string): FieldProblem[] {
  if (trigger === SequenceTrigger.SCORE_THRESHOLD) {
    return threshold !== null && threshold !== undefined && isThreshold(threshold)
      ? []
      : [{ field: `${path}.scoreThreshold`, message: 'must be 1 to 100 for a SCORE_THRESHOLD sequence' }];
  }
  return threshold === null || threshold === undefined ? [] : [{ field: `${path}.scoreThreshold`, message: 'is only for SCORE_THRESHOLD sequences' }];
}

function isThreshold(threshold: number): boolean {
  return Number.isInteger(threshold) && threshold >= 1 && threshold <= 100;
}

function nameProblems(name: string, path: string): FieldProblem[] {
  const trimmed = name.trim();
  return trimmed.length < 1 || trimmed.length > 200 ? [{ field: `${path}.name`, message: 'must be 1 to 200 characters' }] : [];
}

function descriptionProblems(description: string | null, path: string): FieldProblem[] {
  return description && description.length > 2000 ? [{ field: `${path}.description`, message: 'must be at most 2000 characters' }] : [];
}

function windowProblems(window: SendWindowInput | SendWindow, path: string): FieldProblem[] {
  return sendWindowProblems(window).map((message) => ({ field: `${path}.sendWindow`, message }));
}

async function stepProblems(steps: (SequenceStepInput | SequenceStep)[], path: string, request: TemplateCheckRequest): Promise<FieldProblem[]> {
  if (steps.length < 1 || steps.length > MAX_STEPS) {
    return [{ field: path, message: `must have 1 to ${MAX_STEPS} steps (got ${steps.length})` }];
  }
  const problems: FieldProblem[] = [];
  let previousHours = 0;
  // One template at a time: a request takes one render worker, and stops at the first that is too slow.
  for (const [index, step] of steps.entries()) {
    const at = `${path}.${index}`;
    if (!Number.isInteger(step.delayDays) || step.delayDays < 0 || step.delayDays > MAX_DELAY_DAYS) {
      problems.push({ field: `${at}.delayDays`, message: `must be 0 to ${MAX_DELAY_DAYS}` });
    }
    if (!Number.isInteger(step.delayHours) || step.delayHours < 0 || step.delayHours > 23) {
      problems.push({ field: `${at}.delayHours`, message: 'must be 0 to 23' });
    }
    const totalHours = step.delayDays * 24 + step.delayHours;
    if (index > 0 && totalHours < previousHours) {
      problems.push({ field: `${at}.delayDays`, message: `must not come before step ${index} (steps are in sending order)` });
    }
    previousHours = Math.max(previousHours, totalHours);
    problems.push(...(await templateProblems(step.subject, 'subject', MAX_SUBJECT_LENGTH, `${at}.subject`, request)));
    problems.push(...(await templateProblems(step.body, 'body', MAX_BODY_LENGTH, `${at}.body`, request)));
  }
  return problems;
}

async function templateProblems(source: string, part: 'subject' | 'body', max: number, field: string, request: TemplateCheckRequest): Promise<FieldProblem[]> {
  // Checked before parsing so a huge template costs nothing.
  if (source.length > max) return [{ field, message: `must be at most ${max} characters (got ${source.length})` }];
  if (source.trim() === '') return [{ field, message: 'must not be empty' }];
  const problems = await checkTemplate(source, part, request.renderBudget);
  const slow = problems.filter((problem) => problem.slow).map((problem) => ({ field, message: problem.message }));
  if (slow.length > 0) throw new InvalidInputError(slow, SequenceErrorReason.TEMPLATE_TOO_SLOW);
  return problems.map((problem) => ({
    field,
    message: problem.message,
    ...(problem.variable ? { variable: problem.variable } : {}),
  }));
}
