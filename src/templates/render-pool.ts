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
 * workers at once: a tenant saving slow templates in a loop keeps the other worker free for everyone else. An
 * owner whose task got its worker killed keeps that share until the replacement is ready (about a second).
 *
 * A worker that dies while starting is started again after a capped backoff; the pool closes only when told to.
 * When no worker can run a task, it is refused with RenderUnavailableError (retry later), never as the template's
 * fault.
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

/** Backoff before starting a worker again after one died while starting: doubled per failure in a row, capped. */
const RESTART_BACKOFF_MIN_MS = 100;
const RESTART_BACKOFF_MAX_MS = 10_000;

/**
 * No worker could run the task: the pool is closed, a worker crashed (for a reason other than the template's own
 * time or memory limits), or none can start right now. Infrastructure, not the template: the task may be retried
 * later (the dispatcher requeues the email rather than failing it).
 */
export class RenderUnavailableError extends Error {
  override name = 'RenderUnavailableError';
}

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
  /** Undefined while waiting to be started again (after a worker died while starting). */
  worker: Worker | undefined;
  ready: boolean;
  /** Replaced (or closed): its events are ignored from then on. */
  retired: boolean;
  job?: Job;
  startedAt?: number;
  timer?: NodeJS.Timeout;
  /** The pending restart of a slot whose worker died while starting. */
  restart?: NodeJS.Timeout;
  /**
   * Owners whose share stays counted until this worker is ready: the owner of a task whose worker was killed is
   * held to it while the replacement loads, so it cannot take the only other worker in the meantime.
   */
  held: string[];
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
  readonly size: number;
  #nextId = 1;
  #closed = false;
  /** Workers in a row that died while starting (0 once one is ready): the restart backoff. */
  #startFailures = 0;
  readonly #started: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } = Promise.withResolvers<void>();

  /** `size` workers, at least 2: with one, a single tenant's slow templates would hold every render. */
  constructor(size: number) {
    this.size = Math.max(2, size);
    this.#ownerShare = this.size - 1;
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn([]));
    this.#started.promise.catch(() => undefined); // also reported by every task
  }

  /** Resolves once every worker has loaded (about a second: Liquid, MJML); rejects if one cannot start. */
  ready(): Promise<void> {
    return this.#started.promise;
  }

  /** True once closed: every task is refused with RenderUnavailableError. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs a task in a worker; rejects with TemplateTooSlowError when it is over its limits or budget, and with
   * RenderUnavailableError when no worker can run it (closed pool, crashed worker, none able to start).
   */
  run(task: RenderTask, { owner, limitMs, budget }: RunOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RenderUnavailableError('the render pool is closed'));
    if (this.#unavailable()) return Promise.reject(new RenderUnavailableError('no render worker can start at the moment'));
    if (budget?.spent) return Promise.reject(budget.spentError());
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

  /** Terminates the workers; what is queued or running is refused (RenderUnavailableError). */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new RenderUnavailableError('the render pool is closed');
    this.#rejectQueued(closed);
    await Promise.all(
      this.#slots.map((slot) => {
        slot.retired = true;
        clearTimeout(slot.timer);
        clearTimeout(slot.restart);
        slot.job?.reject(closed);
        slot.job = undefined;
        return slot.worker ? slot.worker.terminate() : Promise.resolve(0);
      }),
    );
  }

  /** Workers have been failing to start and none is ready: a task would only wait for nothing. */
  #unavailable(): boolean {
    return this.#startFailures > 0 && !this.#slots.some((slot) => slot.ready);
  }

  #rejectQueued(error: Error): void {
    for (const queue of this.#queues.values()) for (const job of queue) job.reject(error);
    this.#queues.clear();
  }

  #spawn(held: string[]): Slot {
    const { source, eval: isCode } = workerSource();
    const worker = new Worker(source, { eval: isCode, resourceLimits: RESOURCE_LIMITS });
    // An idle pool does not keep the process alive (a pending task's timer does).
    worker.unref();
    const slot: Slot = { worker, ready: false, retired: false, held };
    worker.on('message', (message: RenderReply | { ready: true }) => {
      if (slot.retired) return;
      if ('ready' in message) {
        slot.ready = true;
        this.#startFailures = 0;
        for (const owner of slot.held.splice(0)) this.#release(owner);
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

  /**
   * Puts a new worker in `slot`'s place (after a backoff if `slot`'s died while starting): the owners it held, and
   * `killedOwner` (whose task's worker was just killed), stay counted until the new one is ready.
   */
  #renew(slot: Slot, killedOwner?: string): void {
    slot.retired = true;
    clearTimeout(slot.timer);
    if (slot.worker) void slot.worker.terminate();
    const held = killedOwner === undefined ? slot.held : [...slot.held, killedOwner];
    slot.held = [];
    if (this.#closed) {
      for (const owner of held) this.#release(owner);
      return;
    }
    const index = this.#slots.indexOf(slot);
    if (index < 0) return;
    if (slot.ready) {
      this.#slots[index] = this.#spawn(held);
      this.#pump();
      return;
    }
    // It died while starting: start another after a backoff (a module that cannot load would otherwise loop).
    const delay = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MIN_MS * 2 ** this.#startFailures);
    this.#startFailures++;
    const waiting: Slot = { worker: undefined, ready: false, retired: false, held };
    waiting.restart = setTimeout(() => {
      if (waiting.retired || this.#closed) return;
      const at = this.#slots.indexOf(waiting);
      if (at < 0) return;
      waiting.retired = true;
      this.#slots[at] = this.#spawn(waiting.held);
    }, delay);
    waiting.restart.unref();
    this.#slots[index] = waiting;
    this.#pump();
  }

  /** A worker that died on its own (not killed by the pool): its task fails (too costly if out of memory), a new one takes its place. */
  #replace(slot: Slot, cause: Error): void {
    if (slot.retired) return; // already replaced (error, then exit; or killed by the pool)
    const wasReady = slot.ready;
    const job = slot.job;
    slot.job = undefined;
    // Out of memory is the template's doing, like a timeout: its owner's share stays taken until the replacement is ready.
    const memory = (cause as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
    if (job) {
      this.#finish(job, slot, memory && !this.#closed);
      job.reject(
        memory
          ? new TemplateTooSlowError('The template needs too much memory to render.')
          : new RenderUnavailableError(`The render worker failed: ${cause.message}`, { cause }),
      );
    }
    if (this.#closed) return;
    this.#renew(slot, job && memory ? job.owner : undefined);
    if (!wasReady) {
      const error = new RenderUnavailableError(`A render worker could not start: ${cause.message}`, { cause });
      this.#started.reject(error);
      // Nothing can run what waits until a worker starts: it is refused now, to be retried by its caller.
      if (this.#unavailable()) this.#rejectQueued(error);
    }
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
      if (busy) slot.worker?.ref();
      else slot.worker?.unref();
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
      if (job.budget?.spent) {
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
      // The owner's share stays taken until the replacement is ready (#renew).
      this.#finish(job, slot, true);
      job.reject(new TemplateTooSlowError(`The template took longer than ${limitMs} ms to render and was stopped.`));
      // The worker may be stuck in code nothing can interrupt from inside: it is replaced.
      this.#renew(slot, job.owner);
    }, limitMs + HARD_MARGIN_MS);
    const request: RenderRequest = { id: job.id, limitMs, task: job.task };
    slot.worker!.postMessage(request);
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

  /** Books the task's time against its budget and frees its owner's share (unless `keepShare`: see #renew). */
  #finish(job: Job, slot: Slot, keepShare = false): void {
    job.budget?.spend(performance.now() - (slot.startedAt ?? performance.now()));
    if (!keepShare) this.#release(job.owner);
  }

  #release(owner: string): void {
    const running = (this.#running.get(owner) ?? 1) - 1;
    if (running > 0) this.#running.set(owner, running);
    else this.#running.delete(owner);
  }
}
