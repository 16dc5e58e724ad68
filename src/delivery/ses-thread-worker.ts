import { parentPort, workerData } from 'node:worker_threads';
import { SendError, type EmailProvider } from './email-provider.js';
import { createSesProvider, type SesClientSettings } from './ses-provider.js';
import type { SesThreadReply, SesThreadRequest } from './ses-thread.js';

/* The worker thread of ses-thread.ts: its own SES client, calls posted by the parent, answered by id. */

const { settings, endpoint } = workerData as { settings: SesClientSettings; endpoint: string | undefined };
const provider: EmailProvider = createSesProvider(settings, endpoint);
const port = parentPort!;

port.on('message', (request: SesThreadRequest) => {
  void call(request).then((reply) => port.postMessage(reply));
});

async function call(request: SesThreadRequest): Promise<SesThreadReply> {
  try {
    return { id: request.id, ok: true, value: await run(request) };
  } catch (error) {
    const failure = error instanceof SendError ? error.failure : { kind: 'unknown' as const, message: error instanceof Error ? error.message : String(error) };
    return { id: request.id, ok: false, failure };
  }
}

function run(request: SesThreadRequest): Promise<unknown> {
  switch (request.method) {
    case 'send':
      return provider.send(...request.args);
    case 'sendRaw':
      return provider.sendRaw(...request.args);
    case 'account':
      return provider.account();
  }
}
