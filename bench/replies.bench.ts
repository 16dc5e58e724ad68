/**
 * Replies benchmark (issue 17: "the webhook handles 200 inbound messages/s with p99 under 100 ms"). Every message is
 * a person's reply to a different sent email, by its reply address, so each one takes the whole path: SNS
 * signature check, MIME parse, match, classification, and in one transaction the REPLIED status, the score, the
 * stop, the timeline and the realtime events, with the forward to the company through SES (the emulator, in its
 * own process) inside it. Messages arrive open-loop at a fixed rate (a new one every 5 ms, whatever the answers
 * do), so a slow answer cannot hide the queue behind it. Then a closed-loop run (32 in flight) shows the ceiling.
 * The first seconds at 200/s, straight after a quiet spell at 10/s, are reported apart: new database connections warm
 * up in them (up to INBOUND_CONCURRENCY of them, the route's bulkhead). The signed notifications are built before the clock starts; the load runs in a child process (replies-load.ts).
 */
import { execFileSync, fork } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { startApp, type App } from '../src/app/app.js';
import { systemClock } from '../src/core/clock.js';
import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { replyAddress } from '../src/delivery/reply-address.js';
import type { ReplyLoad, ReplyLoadResult } from './replies-load.js';
import { type BenchResult, type BenchRow, latencySeries, percentile, startBenchDatabase, startEmulatorProcess, cpuProfile } from './support.js';

const RATE = 200;
const SECONDS = 20;
/** The first seconds at RATE, straight after LOW_RATE, reported apart: new database connections warm up in them. */
const STEP_SECONDS = 5;
const CEILING_MESSAGES = 2_000;
/** A rate far below the target, for the latency of one message when nothing queues (these machines are shared). */
const LOW_RATE = 10;
const LOW_SECONDS = 10;
const CEILING_CONCURRENCY = 32;
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:bench-inbound';
const DOMAIN = 'replies.bench.example';
const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-bench.pem';

export async function run(): Promise<BenchResult> {
  const step = (what: string) => process.stdout.write(`  replies: ${what}\n`);
  const loadBefore = loadavg()[0]!;
  const keys = signingKey();
  const db = await startBenchDatabase('replies');
  const emulator = await startEmulatorProcess();
  let app: App | undefined;
  try {
    await db.prepare('replies');
    const config = loadConfig({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: db.urlFor('replies'),
      RUN_JOBS: 'false',
      LOG_LEVEL: 'warn',
      SES_ENDPOINT: emulator.url,
      INBOUND_DOMAIN: DOMAIN,
      INBOUND_SNS_TOPIC_ARNS: TOPIC,
    });
    app = await startApp(config, {
      logger: createLogger(config),
      clock: systemClock,
      sesWebhook: { fetchCertificate: () => Promise.resolve(keys.certificate), confirmSubscription: () => Promise.resolve() },
    });
    const total = LOW_RATE * LOW_SECONDS + RATE * (STEP_SECONDS + SECONDS) + CEILING_MESSAGES;
    const emails = await seedSentEmails(app.orm.em.fork(), total);
    step(`seeded ${emails.length} sent emails`);
    const secret = config.trackingSecret.reveal();
    const bodies = await Promise.all(emails.map((email) => notification(keys.key, email, replyAddress(secret, DOMAIN, email.id))));
    step(`built ${bodies.length} signed notifications`);
    const url = `${app.server.url.replace(/\/graphql$/, '')}/webhooks/inbound`;

    const low = await load(url, bodies.splice(0, LOW_RATE * LOW_SECONDS), { mode: 'open', rate: LOW_RATE });
    step(`at ${LOW_RATE}/s: p50 ${percentile(low.latencies, 50).toFixed(1)} ms, p99 ${percentile(low.latencies, 99).toFixed(1)} ms`);
    // REPLIES_BENCH_PROFILE=<dir>: a CPU profile of the app's process in the open loop.
    const stopProfile = await cpuProfile(process.env.REPLIES_BENCH_PROFILE, 'replies');
    const cpuBefore = process.cpuUsage();
    const loopBefore = process.threadCpuUsage();
    const open = await load(url, bodies.slice(0, RATE * (STEP_SECONDS + SECONDS)), { mode: 'open', rate: RATE });
    const openCpu = cpuMs(process.cpuUsage(cpuBefore)) / (RATE * (STEP_SECONDS + SECONDS));
    const loopCpu = cpuMs(process.threadCpuUsage(loopBefore)) / (RATE * (STEP_SECONDS + SECONDS));
    await stopProfile();
    // The first seconds after the step from LOW_RATE open and warm connections; the rest is the steady state.
    const stepLatencies = open.series.slice(0, STEP_SECONDS).flat();
    const steadyLatencies = open.series.slice(STEP_SECONDS).flat();
    step(
      `open loop: ${open.rate.toFixed(0)} messages/s, p99 ${percentile(stepLatencies, 99).toFixed(1)} ms in the first ${STEP_SECONDS} s, ${percentile(steadyLatencies, 99).toFixed(1)} ms after, ${open.failed} failed, ${openCpu.toFixed(2)} ms CPU/message (${loopCpu.toFixed(2)} on the event loop)`,
    );
    step(`open loop, slowest seconds: ${slowestSeconds(open.series)}`);
    // REPLIES_BENCH_SECONDS=1: the p99 of every second of the open loop.
    if (process.env.REPLIES_BENCH_SECONDS) step(open.series.map((second, i) => `${i}:${percentile(second, 99).toFixed(0)}`).join(' '));
    const ceiling = await load(url, bodies.slice(RATE * (STEP_SECONDS + SECONDS)), { mode: 'closed', concurrency: CEILING_CONCURRENCY });
    step(`closed loop: ${ceiling.rate.toFixed(0)} messages/s`);
    const replied = await countReplied(app.orm.em.fork());
    const forwarded = ((await (await fetch(`${emulator.url}/store`)).json()) as { emails: unknown[] }).emails.length;
    const p99 = percentile(steadyLatencies, 99);
    const stepP99 = percentile(stepLatencies, 99);
    const rows: BenchRow[] = [
      // Context for the figures below: these machines are shared, and other work inflates every latency.
      { bench: 'replies', metric: 'load average (1 min) before the run, 2 cores', value: loadBefore, unit: 'load' },
      {
        bench: 'replies',
        metric: `inbound replies offered at ${RATE}/s for ${STEP_SECONDS + SECONDS} s, handled`,
        value: open.rate,
        unit: 'msg/s',
        target: `>= ${RATE}`,
        pass: open.rate >= RATE * 0.98 && open.failed === 0,
      },
      { bench: 'replies', metric: `inbound reply latency p50 (the last ${SECONDS} s)`, value: percentile(steadyLatencies, 50), unit: 'ms' },
      { bench: 'replies', metric: `inbound reply latency p99 (the last ${SECONDS} s)`, value: p99, unit: 'ms', target: '< 100', pass: p99 < 100 },
      // The step from LOW_RATE to RATE: the pool opens new connections, whose first statements are planned and triggers compiled.
      { bench: 'replies', metric: `inbound reply latency p99 (the first ${STEP_SECONDS} s, after ${LOW_RATE}/s)`, value: stepP99, unit: 'ms' },
      { bench: 'replies', metric: `ceiling, ${CEILING_CONCURRENCY} in flight`, value: ceiling.rate, unit: 'msg/s' },
      // The app's CPU time per message (the load runs in a child process), steadier than rates on a busy machine.
      { bench: 'replies', metric: `CPU of the app's process per message at ${RATE}/s`, value: openCpu, unit: 'ms' },
      { bench: 'replies', metric: 'of which on the event loop (the rest: the SES thread, GC helpers)', value: loopCpu, unit: 'ms' },
      { bench: 'replies', metric: `latency p50 at ${LOW_RATE}/s (nothing queued)`, value: percentile(low.latencies, 50), unit: 'ms' },
      { bench: 'replies', metric: `latency p99 at ${LOW_RATE}/s (nothing queued)`, value: percentile(low.latencies, 99), unit: 'ms' },
      {
        bench: 'replies',
        metric: 'answered 200 but not REPLIED, or not forwarded (must be 0)',
        value: total - ceiling.failed - open.failed - low.failed - Math.min(replied, forwarded),
        unit: 'messages',
        target: '= 0',
        pass: replied === total - ceiling.failed - open.failed - low.failed && forwarded === replied,
      },
    ];
    return { rows, latencies: [latencySeries('replies', `webhook at ${RATE}/s, the last ${SECONDS} s (whole reply path)`, steadyLatencies)] };
  } finally {
    await app?.dispose();
    await emulator.dispose();
    await db.dispose();
    keys.dispose();
  }
}

/** The load in a child process (replies-load.ts), its bodies handed over in a file. */
async function load(url: string, bodies: string[], shape: { mode: 'open'; rate: number } | { mode: 'closed'; concurrency: number }): Promise<ReplyLoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-replies-'));
  const file = join(dir, 'bodies.json');
  writeFileSync(file, JSON.stringify(bodies));
  const child = fork(new URL('./replies-load.ts', import.meta.url), { execArgv: ['--import', 'tsx'] });
  try {
    const result = new Promise<ReplyLoadResult>((resolve, reject) => {
      child.once('message', (answer: ReplyLoadResult) => resolve(answer));
      child.once('exit', (code) => reject(new Error(`the load process exited with ${code} before answering`)));
    });
    child.send({ url, file, ...shape } satisfies ReplyLoad);
    return await result;
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The three seconds with the highest p99, as "second: p50/p99 ms". */
function slowestSeconds(series: number[][]): string {
  const seconds = [...series.entries()].flatMap(([second, latencies]) =>
    latencies ? [{ second, p50: percentile(latencies, 50), p99: percentile(latencies, 99) }] : [],
  );
  return seconds
    .toSorted((a, b) => b.p99 - a.p99)
    .slice(0, 3)
    .map((s) => `${s.second} s: ${s.p50.toFixed(0)}/${s.p99.toFixed(0)} ms`)
    .join(', ');
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

interface SeededEmail {
  id: string;
  address: string;
  messageId: string;
}

/** Sent emails, one per lead, of one company, written directly (the bench measures replies, not sending). */
async function seedSentEmails(em: EntityManager, count: number): Promise<SeededEmail[]> {
  const connection = em.getConnection();
  const [company] = await connection.execute<{ id: string }[]>(
    `insert into company (id, name, from_address, timezone, created_at, updated_at) values (gen_random_uuid(), 'Bench', 'team@example.com', 'UTC', now(), now()) returning id`,
  );
  await connection.execute(`
    with sequence as (
      insert into email_sequence (id, company_id, name, active, trigger, steps, created_at, updated_at)
      values (gen_random_uuid(), '${company!.id}', 'Bench', true, 'MANUAL', '[{"delayDays":0,"delayHours":0,"subject":"Hi","body":"<p>Hi</p>"},{"delayDays":3,"delayHours":0,"subject":"Again","body":"<p>Hi</p>"}]', now(), now()) returning id
    ), leads as (
      insert into lead (id, company_id, email, first_name, score, attributes, created_at, updated_at)
      select gen_random_uuid(), '${company!.id}', 'bench' || i || '@example.org', 'Lead' || i, 0, '{}', now(), now() from generate_series(1, ${count}) i returning id, email
    ), enrollments as (
      insert into enrollment (id, company_id, lead_id, sequence_id, status, started_at, created_at, updated_at)
      select gen_random_uuid(), '${company!.id}', leads.id, sequence.id, 'ACTIVE', now(), now(), now() from leads, sequence returning id, lead_id, sequence_id
    ), first as (
      insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, status, sent_at, provider_message_id, to_address, subject, created_at, updated_at)
      select gen_random_uuid(), '${company!.id}', e.id, e.lead_id, e.sequence_id, 1, now() - interval '1 hour', 'SENT', now() - interval '1 hour',
             '0100019' || replace(gen_random_uuid()::text, '-', ''), l.email, 'Hi', now(), now()
      from enrollments e join leads l on l.id = e.lead_id returning id
    )
    insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, status, created_at, updated_at)
    select gen_random_uuid(), '${company!.id}', e.id, e.lead_id, e.sequence_id, 2, now() + interval '3 days', 'PENDING', now(), now() from enrollments e`);
  return connection.execute<SeededEmail[]>(
    `select id, to_address as address, provider_message_id as "messageId" from sequence_email where company_id = ? and email_number = 1 order by id`,
    [company!.id],
  );
}

async function countReplied(em: EntityManager): Promise<number> {
  const [row] = await em.getConnection().execute<{ n: number }[]>(`select count(*)::int as n from sequence_email where replied_at is not null`);
  return row!.n;
}

/** A person's reply to `email` (MailComposer), in an SES Received notification, in a signed SNS notification. */
async function notification(key: string, email: SeededEmail, to: string): Promise<string> {
  const composer = new MailComposer({
    from: `Lead <${email.address}>`,
    to,
    subject: 'Re: Hi',
    inReplyTo: `<${email.messageId}@email.amazonses.com>`,
    text: `Thanks, this is interesting. Could you send me the pricing for 25 seats?\n\nOn Mon, Dec 1, 2026 at 9:00 AM Bench <team@example.com> wrote:\n> Hi\n> Unsubscribe`,
  });
  const raw = await new Promise<Buffer>((resolve, reject) => composer.compile().build((error, message) => (error ? reject(error) : resolve(message))));
  const message = JSON.stringify({
    notificationType: 'Received',
    mail: { timestamp: new Date().toISOString(), source: email.address, messageId: randomUUID(), destination: [to] },
    receipt: {
      recipients: [to],
      spamVerdict: { status: 'PASS' },
      virusVerdict: { status: 'PASS' },
      action: { type: 'SNS', topicArn: TOPIC, encoding: 'BASE64' },
    },
    content: raw.toString('base64'),
  });
  const fields: Record<string, string> = {
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: TOPIC,
    Subject: 'Amazon SES Email Receipt Notification',
    Message: message,
    Timestamp: new Date().toISOString(),
  };
  const canonical = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'].map((k) => `${k}\n${fields[k]}\n`).join('');
  const signature = createSign('RSA-SHA256').update(canonical).sign(key, 'base64');
  return JSON.stringify({ ...fields, SignatureVersion: '2', Signature: signature, SigningCertURL: CERT_URL });
}

/** A key and self-signed certificate made by openssl for this run (the app's injected fetcher returns it for CERT_URL). */
function signingKey(): { key: string; certificate: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sns-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=sns'], {
    cwd: dir,
    stdio: 'pipe',
  });
  return {
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
