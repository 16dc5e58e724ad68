import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { checkInThread } from './check-inline.js';
import type { RenderReply, RenderRequest } from './render-pool.js';
import { renderInThread } from './render-inline.js';
import { errorMessage, isLimitError } from './template-engine.js';

// A render worker (render-pool.ts): one task at a time, each within the time it is given.

/** Nice value of render threads (0 is the server's; higher yields more). */
const RENDER_NICENESS = 10;

function run({ task, limitMs }: RenderRequest): Promise<unknown> {
  const deadline = Date.now() + limitMs;
  if (task.kind === 'render') return renderInThread(task.template, task.data, deadline);
  return checkInThread(task.source, task.part, deadline);
}

// On Linux the nice value is per thread: this worker, not the process, yields the CPU to the event loop (and to
// PostgreSQL), so a tenant whose templates keep a worker busy slows the others' renders, not their requests.
try {
  setPriority(RENDER_NICENESS);
} catch {
  // Not permitted or not supported here: the worker runs at the process's priority.
}

const port = parentPort!;
port.on('message', (request: RenderRequest) => {
  run(request).then(
    (value) => port.postMessage({ id: request.id, ok: true, value } satisfies RenderReply),
    (error: unknown) => port.postMessage({ id: request.id, ok: false, message: errorMessage(error), slow: isLimitError(error) } satisfies RenderReply),
  );
});
port.postMessage({ ready: true });
