import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { TemplateData } from './template-data.js';
import { TemplateRenderError, TemplateTooSlowError, type TemplatePart } from './template-engine.js';
import type { RenderBudget } from './render-budget.js';

/*
 * Templates are written by tenants, so rendering them is untrusted CPU work: it runs in worker threads, never on
 * the event loop that serves every tenant. Each task has a time limit that Liquid enforces itself (its
 * renderLimit, the task's `limitMs`), and a hard one on top: a task still running HARD_MARGIN_MS later (a
 * filter or regular expression Liquid cannot interrupt, MJML on a huge document) has its worker terminated and
 * replaced. Memory is capped per worker (resourceLimits); a worker that runs out dies and is replaced the same way.
 *
 * Tasks wait in one queue per owner (a company), served in turn, and one owner holds at most OWNER_SHARE
 * workers at once: a tenant saving slow templates in a loop keeps the other worker free for everyone else.
 */

export type RenderTask =
  { kind: 'render'; template: { subject: string; body: string }; data: TemplateData } | { kind: 'check'; source: string; part: TemplatePart };

/** What a worker answers: the value, or the error's message and whether it was a limit (time, memory). */
export type RenderReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string; slow: boolean };

/** What the worker is sent: the task, and how long it may take (Liquid's limit inside the worker). */
export type RenderRequest = { id: number; limitMs: number; task: RenderTask };

export interface RunOptions {
  /** Whose queue the task waits in (a company id): owners are served in turn. */
  owner: string;
  /** Liquid's time limit for the task, in ms. */
  limitMs: number;
  /** The request's (or batch's) render time; when spent, the task is refused. */
  budget?: RenderBudget;
}

/** Past a task's own limit, the time its worker gets before being terminated. */
const HARD_MARGIN_MS = 500;
/** Heap per worker: far above an email's needs (MJML included), far below the process's. */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 192, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 } as const;
/** Tasks one owner may have waiting: past that, its requests are refused rather than queued without end. */
const MAX_WAITING_PER_OWNER = 64;

interface Job {
  id: number;
  owner: string;
  task: RenderTask;
  limitMs: number;
  budget: RenderBudget | undefined;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
  startedAt?: number;
  timer?: NodeJS.Timeout;
}

/**
 * The worker: the compiled render-worker.js beside this file, or, when this file is TypeScript (tests, `npm run
 * dev`), render-worker.ts loaded through tsx's loader, registered in the worker first (a worker does not get
 * the loader from `--import` in execArgv before its entry module loads).
 */
function workerSource(): { source: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { source: new URL('./render-worker.js', import.meta.url), eval: false };
  const tsxCommonJs = createRequire(import.meta.url).resolve('tsx/esm/api');
  // The package's `import` entry sits beside the `require` one it resolves to.
  const tsx = pathToFileURL(tsxCommonJs.replace(/\.cjs$/, '.mjs')).href;
  const entry = new URL('./render-worker.ts', import.meta.url).href;
  return {
    source: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`,
    eval: true,
  };
}

export class RenderPool {
  readonly #slots: Slot[] = [];
  readonly #queues = new Map<string, Job[]>();
  readonly #running = new Map<string, number>();
  readonly #ownerShare: number;
  #nextId = 1;
  #closed = false;
  readonly #started: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } = Promise.withResolvers<void>();

  constructor(readonly size: number) {
    this.#ownerShare = Math.max(1, size - 1);
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
    this.#started.promise.catch(() => undefined); // also reported by every task
  }

  /** Resolves once every worker has loaded (about a second: Liquid, MJML); rejects if one cannot start. */
  ready(): Promise<void> {
    return this.#started.promise;
  }

  /** Runs a task in a worker; rejects with TemplateTooSlowError when it is over its limits or budget. */
  run(task: RenderTask, { owner, limitMs, budget }: RunOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('the render pool is closed'));
    if (budget && budget.remainingMs <= 0) return Promise.reject(budget.spentError());
    const queue = this.#queues.get(owner) ?? [];
    if (queue.length >= MAX_WAITING_PER_OWNER) {
      return Promise.reject(new TemplateTooSlowError('Too many templates of this company are waiting to render: try again shortly.', true));
    }
    return new Promise((resolve, reject) => {
      queue.push({ id: this.#nextId++, owner, task, limitMs, budget, resolve, reject });
      this.#queues.set(owner, queue);
      this.#pump();
    });
  }

  /** Terminates the workers; what is queued or running is refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Error('the render pool is closed');
    for (const queue of this.#queues.values()) for (const job of queue) job.reject(closed);
    this.#queues.clear();
    await Promise.all(
      this.#slots.map((slot) => {
        clearTimeout(slot.timer);
        slot.job?.reject(closed);
        slot.job = undefined;
        return slot.worker.terminate();
      }),
    );
  }

  #spawn(): Slot {
    const { source, eval: isCode } = workerSource();
    const worker = new Worker(source, { eval: isCode, resourceLimits: RESOURCE_LIMITS });
    // An idle pool does not keep the process alive (a pending task's timer does).
    worker.unref();
    const slot: Slot = { worker, ready: false };
    worker.on('message', (message: RenderReply | { ready: true }) => {
      if ('ready' in message) {
        slot.ready = true;
        if (this.#slots.every((each) => each.ready)) this.#started.resolve();
        this.#pump();
      } else {
        this.#settle(slot, message);
      }
    });
    worker.on('error', (error: unknown) => this.#replace(slot, error instanceof Error ? error : new Error(String(error))));
    worker.on('exit', () => this.#replace(slot, new Error('the render worker exited')));
    return slot;
  }

  /** A worker that died or was killed: its task fails as too costly (or as an internal error), a new one takes its place. */
  #replace(slot: Slot, cause: Error): void {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return; // already replaced (error, then exit)
    clearTimeout(slot.timer);
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      this.#finish(job, slot);
      const memory = (cause as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      job.reject(
        memory ? new TemplateTooSlowError('The template needs too much memory to render.') : new Error(`The render worker failed: ${cause.message}`, { cause }),
      );
    }
    if (this.#closed) return;
    void slot.worker.terminate();
    if (!slot.ready) {
      // It died while starting (its module failed to load): starting more would fail the same way, in a loop.
      this.#slots.splice(index, 1);
      this.#failAll(new Error(`A render worker could not start: ${cause.message}`, { cause }));
      return;
    }
    this.#slots[index] = this.#spawn();
    this.#pump();
  }

  #failAll(error: Error): void {
    this.#started.reject(error);
    if (this.#slots.length > 0) return;
    this.#closed = true;
    for (const queue of this.#queues.values()) for (const job of queue) job.reject(error);
    this.#queues.clear();
  }

  #pump(): void {
    for (const slot of this.#slots) {
      if (!slot.ready || slot.job) continue;
      const job = this.#nextJob();
      if (!job) break;
      this.#start(slot, job);
    }
    // Workers keep the process alive only while there is work for them.
    const busy = this.#queues.size > 0 || this.#slots.some((slot) => slot.job);
    for (const slot of this.#slots) {
      if (busy) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  /** The next owner in turn with a task waiting and fewer than its share of workers busy. */
  #nextJob(): Job | undefined {
    for (const [owner, queue] of this.#queues) {
      if ((this.#running.get(owner) ?? 0) >= this.#ownerShare) continue;
      const job = queue.shift()!;
      // Moved to the back: the owners after it go first next time.
      this.#queues.delete(owner);
      if (queue.length > 0) this.#queues.set(owner, queue);
      if (job.budget && job.budget.remainingMs <= 0) {
        job.reject(job.budget.spentError());
        return this.#nextJob();
      }
      return job;
    }
    return undefined;
  }

  #start(slot: Slot, job: Job): void {
    const limitMs = Math.max(1, Math.min(job.limitMs, job.budget?.remainingMs ?? Infinity));
    slot.job = job;
    slot.startedAt = performance.now();
    this.#running.set(job.owner, (this.#running.get(job.owner) ?? 0) + 1);
    slot.timer = setTimeout(() => {
      slot.job = undefined;
      this.#finish(job, slot);
      job.reject(new TemplateTooSlowError(`The template took longer than ${limitMs} ms to render and was stopped.`));
      // The worker may be stuck in code nothing can interrupt from inside: it is replaced.
      const index = this.#slots.indexOf(slot);
      void slot.worker.terminate();
      if (index >= 0 && !this.#closed) this.#slots[index] = this.#spawn();
      this.#pump();
    }, limitMs + HARD_MARGIN_MS);
    const request: RenderRequest = { id: job.id, limitMs, task: job.task };
    slot.worker.postMessage(request);
  }

  #settle(slot: Slot, reply: RenderReply): void {
    const job = slot.job;
    if (!job || job.id !== reply.id) return;
    clearTimeout(slot.timer);
    slot.job = undefined;
    this.#finish(job, slot);
    if (reply.ok) job.resolve(reply.value);
    else job.reject(reply.slow ? new TemplateTooSlowError(reply.message) : new TemplateRenderError(reply.message));
    this.#pump();
  }

  /** Books the task's time against its budget and frees its owner's share. */
  #finish(job: Job, slot: Slot): void {
    job.budget?.spend(performance.now() - (slot.startedAt ?? performance.now()));
    const running = (this.#running.get(job.owner) ?? 1) - 1;
    if (running > 0) this.#running.set(job.owner, running);
    else this.#running.delete(job.owner);
  }
}
