import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { SendError, type OutgoingEmail } from '../src/delivery/email-provider.js';
import { createThreadedSesProvider } from '../src/delivery/ses-thread.js';
import { startMailbox } from './helpers/ses.js';

/**
 * The inbound webhook's SES client runs on a worker thread (src/delivery/ses-thread.ts). A forward it sends must reach
 * SES as from the event loop, and a thread that stops while a forward is in flight must answer that call as "outcome
 * unknown" (the reply is not committed and SNS delivers it again), never leave it hanging.
 */
describe('the SES client on a worker thread', () => {
  const settings = { ses: { region: 'us-east-1', configurationSet: undefined }, delivery: { concurrency: 4 } };
  const email: OutgoingEmail = {
    from: 'team@example.com',
    to: 'lead@example.com',
    replyTo: null,
    subject: 'Through the thread',
    html: '<p>hi</p>',
    text: 'hi',
    headers: [],
    tags: { company: 'c1' },
  };
  const disposers: (() => unknown)[] = [];
  afterAll(async () => {
    for (const dispose of disposers.reverse()) await dispose();
  });

  it('sends through the real client to the emulator', async () => {
    const mailbox = await startMailbox();
    disposers.push(() => mailbox.dispose());
    const provider = createThreadedSesProvider(settings, mailbox.url, { eager: true });
    disposers.push(() => provider.dispose());
    const { messageId } = await provider.send(email);
    expect(messageId).toBeTruthy();
    const stored = await mailbox.emails();
    expect(stored.map((e) => e.subject)).toContain('Through the thread');
  });

  it('a thread stopped while SES has not answered fails the call as outcome unknown, at once', async () => {
    // SES that takes the request and never answers.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    disposers.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const provider = createThreadedSesProvider(settings, `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, { eager: true });
    const sending = provider.send(email);
    await expect.poll(() => sockets.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const stoppedAt = Date.now();
    provider.dispose();
    const error: unknown = await sending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendError);
    expect((error as SendError).failure.kind).toBe('unknown');
    expect(Date.now() - stoppedAt).toBeLessThan(2_000);
  });
});
