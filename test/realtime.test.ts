import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BoundedQueue } from '../src/graphql/realtime/bounded-queue.js';
import { decodeEvents, encodeEvents, MAX_PAYLOAD_BYTES, publish, Topic, type LeadScoreChangedEvent, type RealtimeEvent } from '../src/state/events.js';
import { LISTENER_APPLICATION_NAME } from '../src/db/pg-listener.js';
import { EnrollmentStatus } from '../src/model/sequence.enums.js';
import { RealtimePubSub } from '../src/graphql/realtime/pubsub.js';
import { Dispatcher } from '../src/delivery/dispatcher.js';
import { createSesProvider } from '../src/delivery/ses-provider.js';
import { startMailbox } from './helpers/ses.js';
import { startTestApp, OPERATOR_TOKEN, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok, type GraphQLClient } from './helpers/graphql.js';
import { connectWs, subscribe, subscriptionsOpen, type Subscription, type WsConnection } from './helpers/ws.js';

/**
 * Live subscriptions over graphql-ws, end to end: real WebSocket clients, changes made over HTTP, events carried
 * by PostgreSQL LISTEN/NOTIFY (also between two server processes on one database).
 */

const SCORE = `subscription($leadId: ID, $minScore: Int) {
  leadScoreChanged(leadId: $leadId, minScore: $minScore) { previousScore score delta reason at lead { id score } }
}`;
const SCORE_ONLY = `subscription($leadId: ID) { leadScoreChanged(leadId: $leadId) { score delta reason } }`;
const ENROLLMENT = `subscription($leadId: ID) {
  enrollmentChanged(leadId: $leadId) { id status stopReason lead { id } sequence { id } }
}`;
const EMAIL = `subscription($leadId: ID, $sequenceId: ID) {
  emailStatusChanged(leadId: $leadId, sequenceId: $sequenceId) { id emailNumber status enrollment { id } lead { id } }
}`;

interface ScoreEvent {
  leadScoreChanged: { previousScore: number; score: number; delta: number; reason: string; at: string; lead: { id: string; score: number } };
}
interface EnrollmentEvent {
  enrollmentChanged: { id: string; status: string; stopReason: string | null; lead: { id: string }; sequence: { id: string } };
}
interface EmailEvent {
  emailStatusChanged: { id: string; emailNumber: number; status: string; enrollment: { id: string }; lead: { id: string } };
}

const scoreEventOf = (companyId: string, leadId: string, reason: string): LeadScoreChangedEvent => ({
  topic: Topic.LeadScoreChanged,
  companyId,
  leadId,
  previousScore: 0,
  score: 1,
  delta: 1,
  reason,
  at: new Date().toISOString(),
});

const step = (delayDays: number) => ({ delayDays, subject: `Day ${delayDays}`, body: '<p>Hello</p>' });

describe('realtime subscriptions', () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  let asA: GraphQLClient;
  let asB: GraphQLClient;
  let wsA: WsConnection;
  let wsB: WsConnection;
  const live: Subscription<unknown>[] = [];

  /** Subscribes on a connection; afterEach stops it. */
  function sub<T>(connection: WsConnection, query: string, variables?: Record<string, unknown>): Subscription<T> {
    const subscription = subscribe<T>(connection.client, query, variables);
    live.push(subscription);
    return subscription;
  }
  const open = (count: number, app: TestApp = t) => subscriptionsOpen(() => app.app.pubSub.stats(), count);

  /**
   * Waits until every event committed so far has reached this process (NOTIFY delivers in commit order), so a
   * subscription opened next cannot receive the events of the test's own setup.
   */
  async function settle(): Promise<void> {
    const companyId = randomUUID();
    const marker = t.app.pubSub.subscribe(Topic.LeadScoreChanged, companyId);
    await publish(t.app.orm.em.fork(), scoreEventOf(companyId, randomUUID(), 'marker'));
    await marker.next();
    await marker.return();
  }

  async function createLead(client: GraphQLClient, email: string): Promise<string> {
    return ok(await client<{ createLead: { id: string } }>(`mutation($input: LeadInput!) { createLead(input: $input) { id } }`, { input: { email } }))
      .createLead.id;
  }
  async function adjust(client: GraphQLClient, leadId: string, delta: number, reason = `adjust ${delta}`) {
    return ok(
      await client<{ adjustLeadScore: { score: number } }>(
        `mutation($l: ID!, $d: Int!, $r: String!) { adjustLeadScore(leadId: $l, delta: $d, reason: $r) { score } }`,
        { l: leadId, d: delta, r: reason },
      ),
    ).adjustLeadScore;
  }

  beforeAll(async () => {
    t = await startTestApp();
    a = await createTenant(t, { name: 'Realtime A' });
    b = await createTenant(t, { name: 'Realtime B' });
    asA = t.as(a.apiKey);
    asB = t.as(b.apiKey);
    wsA = connectWs(t.app.server.url, { authorization: `Bearer ${a.apiKey}` });
    wsB = connectWs(t.app.server.url, { authorization: `Bearer ${b.apiKey}` });
    await Promise.all([wsA.connected, wsB.connected]);
  });
  afterEach(async () => {
    for (const subscription of live.splice(0)) subscription.dispose();
    await open(0);
  });
  afterAll(async () => {
    await wsA?.client.dispose();
    await wsB?.client.dispose();
    await t?.dispose();
  });

  it('a score change made over HTTP arrives with its previous score, delta, reason and lead', async () => {
    const leadId = await createLead(asA, 'score@a.example.com');
    await settle();
    const events = sub<ScoreEvent>(wsA, SCORE, { leadId });
    await open(1);

    await adjust(asA, leadId, 30, 'Great discovery call');
    expect((await events.next()).leadScoreChanged).toEqual({
      previousScore: 0,
      score: 30,
      delta: 30,
      reason: 'Great discovery call',
      at: t.clock.now().toISOString(),
      lead: { id: leadId, score: 30 },
    });
    // The delta is what was applied: capped at 100.
    await adjust(asA, leadId, 90);
    expect((await events.next()).leadScoreChanged).toMatchObject({ previousScore: 30, score: 100, delta: 70, lead: { score: 100 } });
    // No change, no event.
    await adjust(asA, leadId, 5);
    expect(await events.within(200)).toEqual([]);
  });

  it('leadId and minScore narrow a subscription; without arguments it gets every lead of the company', async () => {
    const first = await createLead(asA, 'first@a.example.com');
    const second = await createLead(asA, 'second@a.example.com');
    await settle();
    const byLead = sub<ScoreEvent>(wsA, SCORE, { leadId: first });
    const hot = sub<ScoreEvent>(wsA, SCORE, { minScore: 50 });
    const all = sub<ScoreEvent>(wsA, SCORE);
    const allAgain = sub<ScoreEvent>(wsA, SCORE); // identical subscriptions share one execution per event
    await open(4);

    await adjust(asA, second, 20); // second: 20
    await adjust(asA, first, 10); // first: 10
    await adjust(asA, first, 50); // first: 60
    await adjust(asA, second, 40); // second: 60
    const take = async (s: Subscription<ScoreEvent>, n: number) => {
      const got = [];
      for (let i = 0; i < n; i += 1) got.push((await s.next()).leadScoreChanged);
      return got.map((e) => [e.lead.id, e.score]);
    };
    expect(await take(byLead, 2)).toEqual([
      [first, 10],
      [first, 60],
    ]);
    expect(await take(hot, 2)).toEqual([
      [first, 60],
      [second, 60],
    ]);
    expect(await take(all, 4)).toEqual([
      [second, 20],
      [first, 10],
      [first, 60],
      [second, 60],
    ]);
    expect(await take(allAgain, 4)).toEqual([
      [second, 20],
      [first, 10],
      [first, 60],
      [second, 60],
    ]);
    for (const s of [byLead, hot, all, allAgain]) expect(await s.within(100)).toEqual([]);
  });

  it("a subscriber never receives another company's events, even with a guessed lead id", async () => {
    const mine = await createLead(asA, 'mine@a.example.com');
    const theirs = await createLead(asB, 'theirs@b.example.com');
    await settle();
    const guessedScore = sub(wsA, SCORE_ONLY, { leadId: theirs });
    const guessedEnrollment = sub(wsA, ENROLLMENT, { leadId: theirs });
    const guessedEmail = sub(wsA, EMAIL, { leadId: theirs });
    const everythingOfA = sub<ScoreEvent>(wsA, SCORE_ONLY);
    const owner = sub<ScoreEvent>(wsB, SCORE_ONLY, { leadId: theirs });
    const ownerEnrollment = sub<EnrollmentEvent>(wsB, ENROLLMENT, { leadId: theirs });
    await open(6);

    // B's lead changes score and is stopped (enrollment and email events): B sees them...
    await adjust(asB, theirs, 40, 'B only');
    ok(await asB(`mutation($l: ID!) { stopSequence(leadId: $l) { status } }`, { l: theirs }));
    expect((await owner.next()).leadScoreChanged).toMatchObject({ score: 40, reason: 'B only' });
    expect((await ownerEnrollment.next()).enrollmentChanged).toMatchObject({ status: 'STOPPED' });

    // ...and A's first event is its own later change: B's never reached A, and nothing else arrives.
    await adjust(asA, mine, 7, 'A only');
    expect((await everythingOfA.next()).leadScoreChanged).toMatchObject({ score: 7, reason: 'A only' });
    for (const s of [guessedScore, guessedEnrollment, guessedEmail, everythingOfA]) expect(await s.within(300)).toEqual([]);
  });

  it('a missing or bad key, or the operator token, closes the socket with 4403 Forbidden', async () => {
    for (const params of [{}, { authorization: 'Bearer lnk_guessed' }, { apiKey: 'garbage' }, { authorization: `Bearer ${OPERATOR_TOKEN}` }]) {
      const connection = connectWs(t.app.server.url, params);
      const events = subscribe(connection.client, SCORE_ONLY);
      expect(await connection.closed).toBe(4403);
      await expect(events.next(1_000)).rejects.toThrow();
      await connection.client.dispose();
    }
  });

  it('startSequence, pause, resume and stopSequence push enrollment changes; stopping pushes the canceled emails', async () => {
    const manual = ok(
      await asA<{ createSequence: { id: string } }>(`mutation($input: CreateSequenceInput!) { createSequence(input: $input) { id } }`, {
        input: { name: 'Manual follow-up', trigger: 'MANUAL', steps: [step(1), step(3)] },
      }),
    ).createSequence.id;
    const leadId = await createLead(asA, 'lifecycle@a.example.com'); // enrolled in the welcome sequence before we listen
    await settle();
    const enrollments = sub<EnrollmentEvent>(wsA, ENROLLMENT, { leadId });
    const emails = sub<EmailEvent>(wsA, EMAIL, { leadId, sequenceId: manual });
    await open(2);

    const vars = { l: leadId, s: manual };
    const started = ok(await asA(`mutation($l: ID!, $s: ID) { startSequence(leadId: $l, sequenceId: $s) { id } }`, vars)).startSequence.id;
    expect((await enrollments.next()).enrollmentChanged).toEqual({
      id: started,
      status: 'ACTIVE',
      stopReason: null,
      lead: { id: leadId },
      sequence: { id: manual },
    });
    ok(await asA(`mutation($l: ID!, $s: ID) { pauseSequence(leadId: $l, sequenceId: $s) { id } }`, vars));
    expect((await enrollments.next()).enrollmentChanged).toMatchObject({ id: started, status: 'PAUSED' });
    ok(await asA(`mutation($l: ID!, $s: ID) { resumeSequence(leadId: $l, sequenceId: $s) { id } }`, vars));
    expect((await enrollments.next()).enrollmentChanged).toMatchObject({ id: started, status: 'ACTIVE' });

    ok(await asA(`mutation($l: ID!, $s: ID) { stopSequence(leadId: $l, sequenceId: $s) { id } }`, vars));
    expect((await enrollments.next()).enrollmentChanged).toMatchObject({ id: started, status: 'STOPPED', stopReason: 'MANUAL' });
    const canceled = [(await emails.next()).emailStatusChanged, (await emails.next()).emailStatusChanged];
    expect(canceled.map((e) => [e.emailNumber, e.status, e.enrollment.id, e.lead.id]).sort()).toEqual([
      [1, 'CANCELED', started, leadId],
      [2, 'CANCELED', started, leadId],
    ]);
    // The welcome enrollment was untouched, and the email filter kept its emails out.
    expect(await enrollments.within(100)).toEqual([]);
    expect(await emails.within(100)).toEqual([]);
  });

  it('editing a sequence pushes the emails it cancels and revives', async () => {
    const sequenceId = ok(
      await asA<{ createSequence: { id: string } }>(`mutation($input: CreateSequenceInput!) { createSequence(input: $input) { id } }`, {
        input: { name: 'Shrinking', trigger: 'MANUAL', steps: [step(1), step(2)] },
      }),
    ).createSequence.id;
    const leadId = await createLead(asA, 'edit@a.example.com');
    ok(await asA(`mutation($l: ID!, $s: ID) { startSequence(leadId: $l, sequenceId: $s) { id } }`, { l: leadId, s: sequenceId }));
    await settle();
    const emails = sub<EmailEvent>(wsA, EMAIL, { sequenceId });
    await open(1);

    const update = `mutation($id: ID!, $input: UpdateSequenceInput!) { updateSequence(id: $id, input: $input) { id } }`;
    ok(await asA(update, { id: sequenceId, input: { steps: [step(1)] } }));
    expect((await emails.next()).emailStatusChanged).toMatchObject({ emailNumber: 2, status: 'CANCELED', lead: { id: leadId } });
    ok(await asA(update, { id: sequenceId, input: { steps: [step(1), step(2)] } }));
    expect((await emails.next()).emailStatusChanged).toMatchObject({ emailNumber: 2, status: 'PENDING' });
  });

  it('events are published when the transaction commits, and never when it rolls back', async () => {
    const leadId = await createLead(asA, 'rollback@a.example.com');
    await settle();
    const events = sub<ScoreEvent>(wsA, SCORE_ONLY, { leadId });
    await open(1);

    await expect(
      t.app.orm.em.fork().transactional(async (tx) => {
        await publish(tx, scoreEventOf(a.companyId, leadId, 'rolled back'));
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');

    let committed = false;
    await t.app.orm.em.fork().transactional(async (tx) => {
      await publish(tx, scoreEventOf(a.companyId, leadId, 'committed'));
      // Still inside the transaction: nothing may be delivered yet.
      expect(await events.within(300)).toEqual([]);
      committed = true;
    });
    expect(committed).toBe(true);
    expect((await events.next()).leadScoreChanged.reason).toBe('committed');
    expect(await events.within(200)).toEqual([]);
  });

  it('a subscriber on one server process sees a click tracked on another process of the same database', async () => {
    const mailbox = await startMailbox();
    const other = await startTestApp({ DATABASE_URL: t.app.databaseUrl, MIGRATE_ON_BOOT: 'false' });
    const provider = createSesProvider(t.app.config, mailbox.url);
    try {
      const leadId = await createLead(asA, 'cross@a.example.com');
      await settle();
      // The welcome email goes out through SES; its recipient clicks the link minutes later, on process B.
      await new Dispatcher({ orm: t.app.orm, clock: t.clock, provider, config: t.app.config, logger: t.app.logger, workerId: 'realtime-test' }).dispatchDue();
      const html = (await mailbox.emails()).find((e) => e.destination.to[0] === 'cross@a.example.com')!.body.html!;
      const link = new URL(/href="([^"]+\/t\/c\/[^"]+)"/.exec(html)![1]!).pathname;
      other.clock.set(new Date(t.clock.now().getTime() + 5 * 60_000));

      const events = sub<ScoreEvent>(wsA, SCORE, { leadId });
      await open(1);
      const click = await fetch(`${other.baseUrl}${link}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0' } });
      expect(click.status).toBe(302);
      await other.app.recorder.flush();
      expect((await events.next()).leadScoreChanged).toMatchObject({ delta: 5, score: 5, reason: expect.stringContaining('First open'), lead: { id: leadId } });
      expect((await events.next()).leadScoreChanged).toMatchObject({
        delta: 10,
        score: 15,
        reason: expect.stringContaining('First click'),
        lead: { id: leadId },
      });
      expect(other.app.pubSub.stats().subscribers).toBe(0); // the subscriber really is on the first process
    } finally {
      provider.dispose();
      await other.dispose();
      await mailbox.dispose();
    }
  });

  it('the LISTEN connection reconnects by itself after it is cut', async () => {
    const leadId = await createLead(asA, 'reconnect@a.example.com');
    await settle();
    const events = sub<ScoreEvent>(wsA, SCORE_ONLY, { leadId });
    await open(1);
    const database = new URL(t.app.databaseUrl).pathname.slice(1);
    await t.app.orm.em
      .fork()
      .getConnection()
      .execute('select pg_terminate_backend(pid) from pg_stat_activity where application_name = ? and datname = ?', [LISTENER_APPLICATION_NAME, database]);
    await expect.poll(() => t.app.pubSub.listening, { timeout: 5_000 }).toBe(false);
    await expect.poll(() => t.app.pubSub.listening, { timeout: 10_000 }).toBe(true);

    await adjust(asA, leadId, 3, 'after reconnect');
    expect((await events.next()).leadScoreChanged.reason).toBe('after reconnect');
  });

  it('a subscriber that never reads neither blocks the others nor holds more than its queue limit', async () => {
    const companyId = randomUUID();
    const stalled = t.app.pubSub.subscribe(Topic.LeadScoreChanged, companyId);
    const reader = t.app.pubSub.subscribe(Topic.LeadScoreChanged, companyId);
    try {
      const sent = Array.from({ length: 2_000 }, (_, i) => scoreEventOf(companyId, randomUUID(), `event ${i}`));
      const received: RealtimeEvent[] = [];
      // Through PostgreSQL in batched NOTIFYs, 200 events at a time: the reader keeps up, the stalled one never reads.
      for (let offset = 0; offset < sent.length; offset += 200) {
        await publish(t.app.orm.em.fork(), sent.slice(offset, offset + 200));
        while (received.length < offset + 200) received.push((await reader.next()).value as RealtimeEvent);
      }
      expect(received).toEqual(sent);

      const limit = t.app.config.realtime.queueLimit;
      expect(stalled.size).toBe(limit);
      expect(stalled.dropped).toBe(sent.length - limit);
      // What it still holds are the newest events, in order.
      expect(((await stalled.next()).value as LeadScoreChangedEvent).reason).toBe(`event ${sent.length - limit}`);
    } finally {
      await stalled.return();
      await reader.return();
    }
  });

  it('keep-alive pings every WS_KEEP_ALIVE_MS, and a client that stops answering them is disconnected', async () => {
    const other = await startTestApp({ DATABASE_URL: t.app.databaseUrl, MIGRATE_ON_BOOT: 'false', WS_KEEP_ALIVE_MS: '100' });
    try {
      const url = other.app.server.url.replace(/^http/, 'ws');
      const connect = async (autoPong: boolean) => {
        const socket = new WebSocket(url, 'graphql-transport-ws', { autoPong });
        await new Promise((resolve) => socket.once('open', resolve));
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${a.apiKey}` } }));
        await new Promise((resolve) => socket.once('message', resolve)); // connection_ack
        return socket;
      };

      const healthy = await connect(true);
      let pings = 0;
      healthy.on('ping', () => (pings += 1));
      const stalled = await connect(false);
      const closed = new Promise<number>((resolve) => stalled.once('close', resolve));

      expect(await closed).toBe(1006); // terminated after an unanswered ping, without a close frame
      expect(pings).toBeGreaterThanOrEqual(1);
      expect(healthy.readyState).toBe(WebSocket.OPEN);
      healthy.close();
    } finally {
      await other.dispose();
    }
  });
});

describe('realtime building blocks', () => {
  it('events are packed into few NOTIFY payloads under the size limit, in order, with short reasons', () => {
    const companyId = randomUUID();
    const events: RealtimeEvent[] = Array.from({ length: 10_000 }, (_, i) => ({
      topic: Topic.EnrollmentChanged,
      companyId,
      leadId: randomUUID(),
      sequenceId: randomUUID(),
      enrollmentId: randomUUID(),
      status: EnrollmentStatus.ACTIVE,
      stopReason: null,
      at: new Date(i).toISOString(),
    }));
    const payloads = encodeEvents(events);
    expect(payloads.length).toBeLessThan(600);
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect(payloads.flatMap(decodeEvents)).toEqual(events);

    const [long] = decodeEvents(
      encodeEvents([{ ...events[0], topic: Topic.LeadScoreChanged, previousScore: 0, score: 5, delta: 5, reason: 'x'.repeat(5_000) } as RealtimeEvent])[0]!,
    );
    expect((long as LeadScoreChangedEvent).reason).toHaveLength(200);
    expect(decodeEvents('not json')).toEqual([]);
    expect(decodeEvents('[{"topic":"NOPE","companyId":"x","leadId":"y"}]')).toEqual([]);
  });

  it("a subscription's arguments are applied on delivery: unwanted events never take room in its queue", () => {
    const pubSub = new RealtimePubSub({ queueLimit: 10 });
    const companyId = randomUUID();
    const wanted = randomUUID();
    const narrow = pubSub.subscribe(Topic.LeadScoreChanged, { companyId, accept: (event: RealtimeEvent) => event.leadId === wanted });
    const other = pubSub.subscribe(Topic.LeadScoreChanged, randomUUID());
    pubSub.deliver(Array.from({ length: 100 }, (_, i) => scoreEventOf(companyId, randomUUID(), `noise ${i}`)));
    pubSub.deliver([scoreEventOf(companyId, wanted, 'wanted')]);
    expect([narrow.size, narrow.dropped, other.size]).toEqual([1, 0, 0]);
    expect(() => pubSub.subscribe(Topic.LeadScoreChanged)).toThrow(/company id/);
    pubSub.close();
    expect(pubSub.stats()).toEqual({ subscribers: 0, queued: 0, dropped: 0 });
  });

  it('a bounded queue drops its oldest items when full and ends pending reads when closed', async () => {
    let closed = 0;
    const queue = new BoundedQueue<number>(3, () => (closed += 1));
    for (let i = 1; i <= 5; i += 1) queue.push(i);
    expect([queue.size, queue.dropped]).toEqual([3, 2]);
    expect([(await queue.next()).value, (await queue.next()).value, (await queue.next()).value]).toEqual([3, 4, 5]);

    const pending = queue.next();
    queue.push(6); // handed straight to the waiting reader
    expect(await pending).toEqual({ value: 6, done: false });
    const waiting = queue.next();
    await queue.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    queue.push(7);
    expect(await queue.next()).toEqual({ value: undefined, done: true });
    expect(closed).toBe(1);
  });
});
