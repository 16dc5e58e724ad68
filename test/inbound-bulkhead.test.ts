import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { replyAddress } from '../src/delivery/reply-address.js';
import { WAITING_PER_PERMIT } from '../src/http/inbound.routes.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant } from './helpers/factories.js';
import { ok } from './helpers/graphql.js';
import { compose, INBOUND_DOMAIN, INBOUND_TOPIC, postInbound, sesReceived, snsNotification, snsSigner, type SnsSigner } from './helpers/inbound.js';
import { sesDispatcher, startMailbox, waitFor, type SesMailbox } from './helpers/ses.js';

/*
 * The inbound route's bulkhead (INBOUND_CONCURRENCY): a flood of replies, say the out-of-office answers to a large
 * send, is worked on a few at a time, so it holds a few database connections and leaves the rest to the API. Each
 * human reply is forwarded through SES inside its transaction; here SES is a gate in front of the real emulator
 * that holds every call until the test lets it through, so the calls waiting at the gate are the messages in work.
 */
const CONCURRENCY = 2;
const MESSAGES = 5;

let signer: SnsSigner;
let mailbox: SesMailbox;
let gate: SesGate;
let t: TestApp;

beforeAll(async () => {
  signer = snsSigner();
  mailbox = await startMailbox();
  gate = await startSesGate(mailbox.url);
  t = await startTestApp(
    { SES_MAX_SEND_RATE: '0', SES_ENDPOINT: gate.url, INBOUND_DOMAIN, INBOUND_SNS_TOPIC_ARNS: INBOUND_TOPIC, INBOUND_CONCURRENCY: String(CONCURRENCY) },
    { sesWebhook: { fetchCertificate: () => Promise.resolve(signer.certificate), confirmSubscription: () => Promise.resolve() } },
  );
});
afterAll(async () => {
  await t?.dispose();
  await gate?.dispose();
  await mailbox?.dispose();
  signer?.dispose();
});

/** A new company whose `count` leads each got their first email (through the real SES client, the gate open). */
async function sentEmails(count: number): Promise<{ companyId: string; emails: { id: string; to_address: string }[] }> {
  const tenant = await createTenant(t);
  for (let i = 0; i < count; i++) {
    await t
      .as(tenant.apiKey)(`mutation($i: LeadInput!) { createLead(input: $i) { id } }`, { i: { email: `flood${i}-${randomUUID().slice(0, 8)}@example.org` } })
      .then(ok);
  }
  await sesDispatcher(t, { ...mailbox, url: gate.url }, 'bulkhead-test').dispatchDue();
  const emails = await t.app.orm.em
    .fork()
    .getConnection()
    .execute<{ id: string; to_address: string }[]>(`select id, to_address from sequence_email where company_id = ? and status = 'SENT'`, [tenant.companyId]);
  expect(emails).toHaveLength(count);
  return { companyId: tenant.companyId, emails };
}

/** The lead's reply to `email`, by its reply address, as SNS posts it. */
async function replyTo(email: { id: string; to_address: string }): Promise<Record<string, string>> {
  const to = replyAddress(t.app.config.trackingSecret.reveal(), INBOUND_DOMAIN, email.id);
  const raw = await compose({ from: email.to_address, to, subject: 'Re: Welcome', text: 'Happy to talk next week.' });
  return snsNotification(signer, sesReceived(raw, { recipients: [to] }));
}

it(`${MESSAGES} replies at once are worked ${CONCURRENCY} at a time, and every one is processed`, async () => {
  const { companyId, emails: sent } = await sentEmails(MESSAGES);
  gate.hold();
  const answers = Promise.all(sent.map(async (email) => postInbound(t.baseUrl, await replyTo(email))));
  await waitFor(`${CONCURRENCY} forwards held`, () => Promise.resolve(gate.held() === CONCURRENCY));
  // The others wait for a permit: none reaches SES, however long the first ones take.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(gate.held()).toBe(CONCURRENCY);
  expect(await replied(companyId)).toBe(0);

  // One forward ends: exactly one waiting message takes its place.
  gate.releaseOne();
  await waitFor('the next forward', () => Promise.resolve(gate.held() === CONCURRENCY && gate.seen() === CONCURRENCY + 1));
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(gate.seen()).toBe(CONCURRENCY + 1);

  gate.open();
  const results = await answers;
  expect(results.map((r) => r.body)).toEqual(Array(MESSAGES).fill({ status: 'processed', kind: 'HUMAN', forwarded: true }));
  expect(gate.maxHeld()).toBe(CONCURRENCY);
  expect(await replied(companyId)).toBe(MESSAGES);
});

it(`at most ${WAITING_PER_PERMIT} messages per permit wait; the rest get 503 at once, for SNS to retry`, async () => {
  const { companyId, emails } = await sentEmails(1);
  const admitted = CONCURRENCY * (1 + WAITING_PER_PERMIT);
  const over = 5;
  // The same notification, as SNS redelivers it: the first holds its forward at the gate, the others queue behind it.
  const body = await replyTo(emails[0]!);
  gate.hold();
  const answers = Array.from({ length: admitted + over }, () => postInbound(t.baseUrl, body));
  await waitFor('the first forward held', () => Promise.resolve(gate.held() >= 1));
  const refused = await waitFor(`${over} refusals`, async () => {
    const settled = await Promise.all(answers.map((answer) => Promise.race([answer, Promise.resolve(undefined)])));
    const busy = settled.filter((answer) => answer?.status === 503);
    return busy.length >= over && busy;
  });
  expect(refused).toHaveLength(over);
  expect(refused[0]!.body).toEqual({ errors: [{ message: 'too many messages waiting: retry later', extensions: { code: 'SERVICE_UNAVAILABLE' } }] });

  gate.open();
  const results = await Promise.all(answers);
  expect(results.filter((r) => r.status === 503)).toHaveLength(over);
  const statuses = results.filter((r) => r.status === 200).map((r) => r.body.status);
  expect(statuses.filter((s) => s === 'processed')).toHaveLength(1);
  expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(admitted - 1);
  // SNS's retry of a refused copy: nothing is processed twice.
  expect((await postInbound(t.baseUrl, body)).body).toEqual({ status: 'duplicate' });
  expect(await replied(companyId)).toBe(1);
});

it('forwards SES refuses give their permits back: every message is answered 5xx, and SNS redelivery then succeeds', async () => {
  const { companyId, emails } = await sentEmails(MESSAGES);
  const bodies = await Promise.all(emails.map(replyTo));
  gate.refuse();
  // Two at a time: had a failure kept its permit, the third message would wait for ever.
  const failed = await Promise.all(bodies.map((body) => postInbound(t.baseUrl, body)));
  expect(failed.map((r) => r.status >= 500)).toEqual(Array(MESSAGES).fill(true));
  expect(await replied(companyId)).toBe(0);

  gate.open();
  const retried = await Promise.all(bodies.map((body) => postInbound(t.baseUrl, body)));
  expect(retried.map((r) => r.body.status)).toEqual(Array(MESSAGES).fill('processed'));
  expect(await replied(companyId)).toBe(MESSAGES);
});

async function replied(companyId: string): Promise<number> {
  const [row] = await t.app.orm.em
    .fork()
    .getConnection()
    .execute<{ n: number }[]>(`select count(*)::int as n from sequence_email where company_id = ? and status = 'REPLIED'`, [companyId]);
  return row!.n;
}

interface SesGate {
  url: string;
  /** From now on, every call waits at the gate. */
  hold(): void;
  /** Lets the oldest waiting call through. */
  releaseOne(): void;
  /** Lets every waiting and later call through. */
  open(): void;
  /** From now on, answers every call 500 as SES does when it fails (until `open`). */
  refuse(): void;
  /** Calls waiting at the gate now. */
  held(): number;
  /** The most calls that ever waited at the gate at once. */
  maxHeld(): number;
  /** Calls that reached the gate since it began to hold. */
  seen(): number;
  dispose(): Promise<void>;
}

/** An HTTP proxy in front of the SES emulator that can hold calls: the test decides when each one goes on. */
async function startSesGate(upstream: string): Promise<SesGate> {
  let holding = false;
  let refusing = false;
  let seen = 0;
  let maxHeld = 0;
  const waiting: (() => void)[] = [];
  const pass = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name))) as Record<
      string,
      string
    >;
    const answer = await fetch(`${upstream}${request.url}`, {
      method: request.method,
      headers,
      body: request.method === 'GET' ? undefined : Buffer.concat(chunks),
    });
    response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    response.end(Buffer.from(await answer.arrayBuffer()));
  };
  const server: Server = createServer((request, response) => {
    if (refusing)
      return void response
        .writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'InternalFailure' })
        .end('{"message":"refused by the test"}');
    if (!holding) return void pass(request, response);
    seen++;
    waiting.push(() => void pass(request, response));
    maxHeld = Math.max(maxHeld, waiting.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: () => void (holding = true),
    releaseOne: () => waiting.shift()?.(),
    refuse: () => void (refusing = true),
    open() {
      holding = false;
      refusing = false;
      for (const go of waiting.splice(0)) go();
    },
    held: () => waiting.length,
    maxHeld: () => maxHeld,
    seen: () => seen,
    dispose: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
