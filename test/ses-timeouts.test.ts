import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../src/core/config.js';
import { SendError } from '../src/delivery/email-provider.js';
import { classifySesError, createSesProvider } from '../src/delivery/ses-provider.js';

/*
 * The claim lease is only safe if every SendEmail call ends within the time the lease reserves for it. The SDK's
 * requestTimeout alone merely logs a warning and waits on: a call to an endpoint that never answers stayed pending
 * past the lease (then swept, retried by an operator: two copies).
 */
let server: Server;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = createServer((socket) => void sockets.push(socket)); // accepts, reads, never answers
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const email = { from: 'a@example.com', to: 'b@example.com', replyTo: null, subject: 's', html: '<p>h</p>', text: 't', headers: [], tags: {} };

it('a SendEmail call to an endpoint that never answers ends within its total time, as an unknown outcome', async () => {
  const config = loadConfig({ NODE_ENV: 'test' });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = createSesProvider(config, endpoint, { connectionMs: 1_000, requestMs: 1_000, totalMs: 2_000 });
  const started = Date.now();
  const error = await provider.send(email).then(
    () => undefined,
    (e: unknown) => e,
  );
  provider.dispose();
  expect(error).toBeInstanceOf(SendError);
  // SES may have read the request: not re-sent by itself.
  expect((error as SendError).failure.kind).toBe('unknown');
  expect(Date.now() - started).toBeLessThan(6_000);
});

it("a connection that was never established is an outage (retried), not an unknown outcome: smithy's own message", () => {
  const error = Object.assign(
    new Error('@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 3000 ms.'),
    { name: 'TimeoutError' },
  );
  expect(classifySesError(error).kind).toBe('transient');
});
