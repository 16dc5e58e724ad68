import type { RenderedEmail } from './render-inline.js';
import type { RenderBudget } from './render-budget.js';
import { RenderPool, type RenderTask } from './render-pool.js';
import type { TemplateData } from './template-data.js';

export type { RenderedEmail } from './render-inline.js';
export { RenderUnavailableError } from './render-pool.js';

/** How long one email may take to render, in ms (Liquid's limit; the worker is killed shortly after). */
export const SEND_RENDER_LIMIT_MS = 1000;
/**
 * Render threads: the machine has 2 cores, one for the server and one for templates, with a second for fairness.
 * Never fewer than 2, whatever the CPU count: with one, a single tenant's slow templates would hold every render.
 */
const POOL_SIZE = 2;
/** Whose queue tasks without an owner wait in (tests and scripts). */
const NO_OWNER = '';

let pool: RenderPool | undefined;
let holders = 0;

/** The shared render pool, started on first use. */
function renderPool(): RenderPool {
  // A pool closes only when its last holder releases it; one closed anyway is not kept.
  if (!pool || pool.closed) pool = new RenderPool(POOL_SIZE);
  return pool;
}

/**
 * Starts the render workers now (they take a moment to load) and holds them until `release` is called: startApp
 * waits for `ready` before serving and disposes of `release`. The pool is shared by everything in the process,
 * and closed with the last holder.
 */
export function openRenderPool(): { ready: Promise<void>; release: () => Promise<void> } {
  const ready = renderPool().ready();
  holders++;
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    holders--;
    if (holders > 0 || !pool) return;
    const closing = pool;
    pool = undefined;
    await closing.close();
  };
  return { ready, release };
}

/** Runs a task in the render pool (render-pool.ts) for `budget`'s owner, within `limitMs`. */
export function runInPool(task: RenderTask, limitMs: number, budget?: RenderBudget): Promise<unknown> {
  return renderPool().run(task, { owner: budget?.owner ?? NO_OWNER, limitMs, ...(budget ? { budget } : {}) });
}

/**
 * Renders a step for one lead, in a render worker. Throws TemplateRenderError with a clear message on failure,
 * and TemplateTooSlowError (TEMPLATE_TOO_SLOW) when it takes longer than SEND_RENDER_LIMIT_MS or `budget` is spent;
 * RenderUnavailableError when no render worker could run it (not the template's fault: retry later).
 */
export async function renderEmail(template: { subject: string; body: string }, data: TemplateData, budget?: RenderBudget): Promise<RenderedEmail> {
  const task: RenderTask = { kind: 'render', template: { subject: template.subject, body: template.body }, data };
  return (await runInPool(task, SEND_RENDER_LIMIT_MS, budget)) as RenderedEmail;
}
