import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SendError, type AccountStatus, type EmailProvider, type OutgoingEmail, type SendFailure } from './email-provider.js';
import type { SesClientSettings } from './ses-provider.js';

/*
 * The SES client in a worker thread, for the inbound webhook's forwards (issue 17): the SDK's request pipeline
 * (serialising, SigV4 signing, the HTTP exchange, parsing the answer) was the largest share of what a reply cost the
 * event loop. The same EmailProvider, and the same client (createSesProvider) inside the thread: each call is
 * posted to it and answered by id, a SendError coming back as its failure. The thread starts on the first call (or
 * at once, `eager`); one that dies fails the calls it held as "outcome unknown" (a forward is then retried by SNS)
 * and is replaced on the next call.
 */

export type SesThreadRequest =
  | { id: number; method: 'send'; args: [OutgoingEmail] }
  | { id: number; method: 'sendRaw'; args: [Uint8Array, string] }
  | { id: number; method: 'account'; args: [] };

export type SesThreadReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; failure: SendFailure };

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** `eager`: start the thread now, so the first call does not wait for it to load the SDK (about a second from sources). */
export function createThreadedSesProvider(settings: SesClientSettings, endpoint: string | undefined, { eager = false } = {}): EmailProvider {
  // Only what the client reads: a whole Config holds secrets, which stay in this thread.
  const plain: SesClientSettings = {
    ses: { region: settings.ses.region, configurationSet: settings.ses.configurationSet },
    delivery: { concurrency: settings.delivery.concurrency },
  };
  const pending = new Map<number, Pending>();
  let worker: Worker | undefined;
  let nextId = 1;
  let disposed = false;

  const start = (): Worker => {
    const { source, eval: isCode } = workerSource();
    const started = new Worker(source, { eval: isCode, workerData: { settings: plain, endpoint } });
    started.on('message', (reply: SesThreadReply) => {
      const call = pending.get(reply.id);
      if (!call) return;
      pending.delete(reply.id);
      if (reply.ok) call.resolve(reply.value);
      else call.reject(new SendError(reply.failure));
    });
    let crash = '';
    started.on('error', (error: Error) => {
      crash = `: ${error.message}`; // its 'exit' follows and fails what it held
    });
    started.on('exit', () => {
      if (worker === started) worker = undefined;
      const lost = [...pending.values()];
      pending.clear();
      for (const call of lost) call.reject(new SendError({ kind: 'unknown', message: `the SES thread stopped during the call${crash}` }));
    });
    // Idle, it does not keep the process alive; a call in flight does (its caller awaits it).
    started.unref();
    return started;
  };

  const call = <T>(request: Omit<SesThreadRequest, 'id'>): Promise<T> => {
    if (disposed) return Promise.reject(new SendError({ kind: 'transient', message: 'the SES client is closed' }));
    worker ??= start();
    const id = nextId++;
    const running = worker;
    running.ref();
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      running.postMessage({ ...request, id });
    }).finally(() => {
      if (pending.size === 0) running.unref();
    });
  };

  if (eager) worker = start();
  return {
    send: (email: OutgoingEmail) => call<{ messageId: string }>({ method: 'send', args: [email] }),
    sendRaw: (message: Uint8Array, to: string) => call<{ messageId: string }>({ method: 'sendRaw', args: [message, to] }),
    account: () => call<AccountStatus>({ method: 'account', args: [] }),
    dispose: () => {
      disposed = true;
      void worker?.terminate();
      worker = undefined;
    },
  };
}

/**
 * The worker's entry: the compiled file beside this one, or, running from TypeScript sources (tests, `npm run dev`),
 * ses-thread-worker.ts loaded through tsx's loader, registered in the worker first (as render-pool.ts does).
 */
function workerSource(): { source: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { source: new URL('./ses-thread-worker.js', import.meta.url), eval: false };
  const tsxCommonJs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const tsx = pathToFileURL(tsxCommonJs.replace(/\.cjs$/, '.mjs')).href;
  const entry = new URL('./ses-thread-worker.ts', import.meta.url).href;
  return { source: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, eval: true };
}
