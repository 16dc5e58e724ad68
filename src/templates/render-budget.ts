import { TemplateTooSlowError } from './template-engine.js';

/** Render time one GraphQL request may spend in the render workers, all its templates together. */
export const REQUEST_RENDER_BUDGET_MS = 3000;
/** Less than this left counts as spent: a render started with a sliver of time can only time out. */
const MIN_TASK_MS = 50;

/**
 * The render time left to one request (or one dispatcher batch of a company): every task run for it is booked
 * here, and once it is spent the next is refused as TEMPLATE_TOO_SLOW. Saving 50 slow steps then stops after a
 * few seconds instead of taking a worker for minutes.
 */
export class RenderBudget {
  #remainingMs: number;

  constructor(
    /** Whose queue its tasks wait in (render-pool.ts): the company. */
    readonly owner: string,
    totalMs: number = REQUEST_RENDER_BUDGET_MS,
  ) {
    this.#remainingMs = totalMs;
  }

  get remainingMs(): number {
    return this.#remainingMs;
  }

  /** Whether the next task is refused without running (TEMPLATE_TOO_SLOW, `notRun`). */
  get spent(): boolean {
    return this.#remainingMs < MIN_TASK_MS;
  }

  spend(ms: number): void {
    this.#remainingMs -= ms;
  }

  spentError(): TemplateTooSlowError {
    return new TemplateTooSlowError('This request has spent its template rendering time: its templates are too slow to render.', true);
  }
}

const budgets = new WeakMap<object, RenderBudget>();

/** The budget of a request, keyed by an object that lives as long as it (its GraphQL context, its scope). */
export function requestRenderBudget(request: object, owner: string): RenderBudget {
  let budget = budgets.get(request);
  if (!budget) budgets.set(request, (budget = new RenderBudget(owner)));
  return budget;
}
