import type { FieldProblem } from '../core/errors.js';
import { SequenceTrigger } from '../model/sequence.enums.js';
import { MAX_STEPS, type SendWindow, type SequenceStep } from '../model/sequence-step.js';
import { sendWindowProblems } from './schedule.js';
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

/** Every problem of a sequence, each naming its field (`input.steps.2.subject`) and, for templates, the variable. */
export function sequenceProblems(shape: SequenceShape, path = 'input'): FieldProblem[] {
  return [
    ...nameProblems(shape.name, path),
    ...descriptionProblems(shape.description, path),
    ...thresholdProblems(shape.trigger, shape.scoreThreshold, path),
    ...stepProblems(shape.steps, `${path}.steps`),
    ...(shape.sendWindow ? windowProblems(shape.sendWindow, path) : []),
  ];
}

/** `createSequence`'s input: a complete sequence. */
export function createSequenceProblems(input: CreateSequenceInput, path: string): FieldProblem[] {
  return sequenceProblems(
    { ...input, description: input.description ?? null, scoreThreshold: input.scoreThreshold ?? null, sendWindow: input.sendWindow ?? null },
    path,
  );
}

/**
 * `updateSequence`'s input, field by field: what it gives must be valid whatever is stored. Whether a threshold
 * fits the trigger can need the stored trigger; the service checks that after merging (`thresholdProblems`).
 */
export function updateSequenceProblems(input: UpdateSequenceInput, path: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (input.name !== undefined && input.name !== null) problems.push(...nameProblems(input.name, path));
  if (input.description) problems.push(...descriptionProblems(input.description.trim(), path));
  const threshold = input.scoreThreshold;
  if (threshold !== undefined && threshold !== null) {
    if (!isThreshold(threshold)) problems.push({ field: `${path}.scoreThreshold`, message: 'must be 1 to 100' });
    else if (input.trigger && input.trigger !== SequenceTrigger.SCORE_THRESHOLD) problems.push(...thresholdProblems(input.trigger, threshold, path));
  }
  if (input.steps) problems.push(...stepProblems(input.steps, `${path}.steps`));
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

function stepProblems(steps: (SequenceStepInput | SequenceStep)[], path: string): FieldProblem[] {
  if (steps.length < 1 || steps.length > MAX_STEPS) {
    return [{ field: path, message: `must have 1 to ${MAX_STEPS} steps (got ${steps.length})` }];
  }
  const problems: FieldProblem[] = [];
  let previousHours = 0;
  steps.forEach((step, index) => {
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
    problems.push(...templateProblems(step.subject, 'subject', MAX_SUBJECT_LENGTH, `${at}.subject`));
    problems.push(...templateProblems(step.body, 'body', MAX_BODY_LENGTH, `${at}.body`));
  });
  return problems;
}

function templateProblems(source: string, part: 'subject' | 'body', max: number, field: string): FieldProblem[] {
  // Checked before parsing so a huge template costs nothing.
  if (source.length > max) return [{ field, message: `must be at most ${max} characters (got ${source.length})` }];
  if (source.trim() === '') return [{ field, message: 'must not be empty' }];
  return checkTemplate(source, part).map((problem) => ({
    field,
    message: problem.message,
    ...(problem.variable ? { variable: problem.variable } : {}),
  }));
}
