import type { RenderBudget } from './render-budget.js';
import { runInPool } from './render.js';
import { errorMessage, maxLength, TemplateTooSlowError, type TemplatePart, type TemplateProblem } from './template-engine.js';

/**
 * How long the save-time check of one template may take, in ms: parsing, the variable check, and renders with
 * sample data and with the largest lead (check-inline.ts). Stricter than sending's limit, so that what passes
 * here renders well within it.
 */
export const CHECK_RENDER_LIMIT_MS = 500;

/**
 * Problems found when saving a template; [] when fine. Never throws. The check runs in a render worker; a
 * template too slow to check (or a request whose `budget` is spent) gets a problem marked `slow`.
 */
export async function checkTemplate(source: string, part: TemplatePart, budget?: RenderBudget): Promise<TemplateProblem[]> {
  if (typeof source !== 'string') return [{ message: `The ${String(part)} must be a string.` }];
  // Oversized input is not even sent to a worker.
  const max = maxLength(part);
  if (source.length > max) return [{ message: `The ${part} is ${source.length} characters long; the maximum is ${max}.` }];
  try {
    return (await runInPool({ kind: 'check', source, part }, CHECK_RENDER_LIMIT_MS, budget)) as TemplateProblem[];
  } catch (error) {
    if (error instanceof TemplateTooSlowError) return [{ message: `The ${part} is too slow to render: ${error.message}`, slow: true }];
    return [{ message: `The ${part} could not be checked: ${errorMessage(error)}` }];
  }
}
