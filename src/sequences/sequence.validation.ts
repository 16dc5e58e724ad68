import type { FieldProblem } from '../core/errors.js';
import { SequenceTrigger } from '../model/sequence.enums.js';
import type { SendWindow, SequenceStep } from '../model/sequence-step.js';
import { sendWindowProblems } from './schedule.js';
import { checkTemplate, MAX_BODY_LENGTH, MAX_SUBJECT_LENGTH } from '../templates/templates.js';
import type { SendWindowInput, SequenceStepInput } from './dto/sequence.input.js';

export const MAX_STEPS = 50;
const MAX_DELAY_DAYS = 365;

/** The sequence fields that must hold together, after an update is applied to the stored ones. */
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
  const problems: FieldProblem[] = [];
  const name = shape.name.trim();
  if (name.length < 1 || name.length > 200) problems.push({ field: `${path}.name`, message: 'must be 1 to 200 characters' });
  if (shape.description && shape.description.length > 2000) problems.push({ field: `${path}.description`, message: 'must be at most 2000 characters' });

  if (shape.trigger === SequenceTrigger.SCORE_THRESHOLD) {
    const t = shape.scoreThreshold;
    if (t === null || t === undefined || !Number.isInteger(t) || t < 1 || t > 100) {
      problems.push({ field: `${path}.scoreThreshold`, message: 'must be 1 to 100 for a SCORE_THRESHOLD sequence' });
    }
  } else if (shape.scoreThreshold !== null && shape.scoreThreshold !== undefined) {
    problems.push({ field: `${path}.scoreThreshold`, message: 'is only for SCORE_THRESHOLD sequences' });
  }

  problems.push(...stepProblems(shape.steps, `${path}.steps`));
  if (shape.sendWindow) {
    problems.push(...sendWindowProblems(shape.sendWindow).map((message) => ({ field: `${path}.sendWindow`, message })));
  }
  return problems;
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
