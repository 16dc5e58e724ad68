import { spawn } from 'node:child_process';
import { appendFile, cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Spool } from '../src/tracking/spool.js';
import { signToken } from '../src/tracking/tokens.js';
import { OPERATOR_TOKEN, startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, cutDatabase } from './helpers/database.js';
import { createTenant } from './helpers/factories.js';
import { ok } from './helpers/graphql.js';

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
const SECRET = 'dev-only-tracking-secret-do-not-use-in-production'; // the test environment's default TRACKING_SECRET
const LINKS = ['https://example.com/pricing', 'https://example.com/docs'];
const OUTAGE_MS = Number(process.env.OUTAGE_MS ?? 3_000);

/** A lead whose welcome email went out an hour ago (so engagement is human-paced), set up as the dispatcher leaves it. */
async function sentEmail(t: TestApp): Promise<{ emailId: string; leadId: string }> {
  const gql = t.as((await createTenant(t)).apiKey);
  const leadId = ok(await gql<{ createLead: { id: string } }>(`mutation { createLead(input: { email: "reader@example.com" }) { id } }`)).createLead.id;
  const db = t.app.orm.em.fork().getConnection();
  const [email] = await db.execute<{ id: string }[]>(`select id from sequence_email where lead_id = ? order by email_number limit 1`, [leadId]);
  await db.execute(`update sequence_email set status = 'SENT', sent_at = now() - interval '1 hour', attempts = 1, links = ?::jsonb where id = ?`, [
    JSON.stringify(LINKS),
    email!.id,
  ]);
  return { emailId: email!.id, leadId };
}

const pixel = (emailId: string) => `/t/o/${signToken(SECRET, { emailId, kind: 'open' })}.gif`;
const click = (emailId: string, link = 0) => `/t/c/${signToken(SECRET, { emailId, kind: 'click', link })}`;

/** Five pixel loads and five clicks of the first link, all at once; every answer must be the image or the redirect. */
async function engage(baseUrl: string, emailId: string): Promise<void> {
  const answers = await Promise.all([
    ...Array.from({ length: 5 }, () => fetch(baseUrl + pixel(emailId), { headers: { 'user-agent': BROWSER } })),
    ...Array.from({ length: 5 }, () => fetch(baseUrl + click(emailId), { headers: { 'user-agent': BROWSER }, redirect: 'manual' })),
  ]);
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 302, 302, 302, 302, 302]);
  expect(answers[0]!.headers.get('content-type')).toBe('image/gif');
  expect(answers[5]!.headers.get('location')).toBe(LINKS[0]);
}

/** What the database holds for the email: its events and counts, and the lead's score and score changes. */
async function stored(t: TestApp, { emailId, leadId }: { emailId: string; leadId: string }) {
  const db = t.app.orm.em.fork().getConnection();
  const [row] = await db.execute<{ opens: number; clicks: number; open_count: number; click_count: number; score: number; score_changes: number }[]>(
    `select (select count(*)::int from email_event where email_id = e.id and kind = 'OPEN') as opens,
            (select count(*)::int from email_event where email_id = e.id and kind = 'CLICK') as clicks,
            e.open_count, e.click_count, l.score,
            (select count(*)::int from activity where lead_id = l.id and type = 'SCORE_CHANGED') as score_changes
       from sequence_email e join lead l on l.id = e.lead_id where e.id = ?`,
    [emailId],
  );
  expect(row, `email ${emailId} of lead ${leadId}`).toBeDefined();
  return row!;
}

// Every answered event stored once: 5 opens, 5 clicks, and the score raised once per rule (+5 first open, +10 first click).
const ALL_TEN_ONCE = { opens: 5, clicks: 5, open_count: 5, click_count: 5, score: 15, score_changes: 2 };

describe('the spool', () => {
  it('moves on to a new segment under steady appends, and deletes each one once its records are released', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lead-nurture-spool-'));
    try {
      const { spool } = await Spool.open(dir, 1024);
      const segments: number[] = [];
      // Appends keep arriving while earlier ones sync: the segment must still change (not grow without end).
      for (let round = 0; round < 20; round++) segments.push(...(await Promise.all(Array.from({ length: 10 }, () => spool.append(Buffer.alloc(50, round))))));
      expect(new Set(segments).size).toBeGreaterThan(5);
      for (const segment of segments.slice(0, -10)) spool.release(segment);
      expect((await readdir(dir)).filter((name) => name.endsWith('.log'))).toHaveLength(1);
      await spool.close();
      const { spool: reopened, replay } = await Spool.open(dir, 1024);
      // Every unreleased record; released ones of the same segment may come along (the recorder skips them by id).
      expect(replay.filter(({ payload }) => payload.equals(Buffer.alloc(50, 19)))).toHaveLength(10);
      expect(replay.length).toBeLessThanOrEqual(20);
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('an answered open or click is durable', () => {
  const dirs: string[] = [];
  const spoolDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lead-nurture-spool-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  describe('through a database outage longer than any retry window', () => {
    let t: TestApp;
    let spool: string;
    const lines: { level: number; msg: string; dropped?: number }[] = [];
    beforeAll(async () => {
      spool = await spoolDir();
      t = await startTestApp(
        { TRACKING_SPOOL_DIR: spool, TRACKING_MAX_BUFFERED_EVENTS: '10', LOG_LEVEL: 'warn' },
        { logDestination: { write: (line: string) => void lines.push(JSON.parse(line)) } },
      );
    });
    afterAll(async () => t?.dispose());

    it('refuses a second app on the same spool (each process replays only its own)', async () => {
      await expect(startTestApp({ DATABASE_URL: t.app.databaseUrl, TRACKING_SPOOL_DIR: spool })).rejects.toThrow(/already open/);
    });

    // OUTAGE_MS=61000 shows a minute-long outage (not part of the suite: it takes that long).
    it('stores all ten events once when the database is back, and raises the score once per rule', { timeout: OUTAGE_MS + 60_000 }, async () => {
      const email = await sentEmail(t);
      // A redirect needs the email's links: a process that served the email before knows them without the database.
      // A link the email does not have (404) makes this one look them up, and records nothing.
      expect((await fetch(t.baseUrl + click(email.emailId, 9), { redirect: 'manual' })).status).toBe(404);

      const restore = await cutDatabase(t.app.databaseUrl);
      try {
        await engage(t.baseUrl, email.emailId);
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS)); // the old retry window was ~150 ms
      } finally {
        await restore();
      }
      await t.app.recorder.flush();
      expect(await stored(t, email)).toEqual(ALL_TEN_ONCE);
    });

    it('past its bound (TRACKING_MAX_BUFFERED_EVENTS) still serves the image, and says loudly that it did not record', async () => {
      const email = await sentEmail(t);
      const restore = await cutDatabase(t.app.databaseUrl);
      let answers: Response[];
      try {
        answers = await Promise.all(Array.from({ length: 12 }, () => fetch(t.baseUrl + pixel(email.emailId), { headers: { 'user-agent': BROWSER } })));
      } finally {
        await restore();
      }
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 12 }, () => 200));
      expect(t.app.recorder.dropped).toBe(2);
      expect(lines.find((line) => line.level >= 50 && /NOT recorded/.test(line.msg))).toMatchObject({ dropped: 1 });
      await t.app.recorder.flush();
      expect(await stored(t, email)).toMatchObject({ opens: 10, open_count: 10 });
    });
  });

  describe('through a SIGKILL right after the answers', () => {
    let databaseUrl: string;
    let spool: string;
    let email: { emailId: string; leadId: string };
    const apps: TestApp[] = [];
    beforeAll(async () => {
      databaseUrl = await createTestDatabase();
      spool = await spoolDir();
    });
    afterAll(async () => {
      for (const app of apps) await app.dispose();
    });

    // A child process with tsx starts in seconds, more on a busy machine.
    it('a new process on the same spool and database stores them all exactly once', { timeout: 120_000 }, async () => {
      const setup = await startTestApp({ DATABASE_URL: databaseUrl, TRACKING_SPOOL_DIR: await spoolDir() });
      email = await sentEmail(setup);
      await setup.dispose();

      // The child commits only once a minute, so nothing it answered is in the database when it dies.
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          HOST: '127.0.0.1',
          PORT: '0',
          DATABASE_URL: databaseUrl,
          OPERATOR_TOKEN,
          RUN_JOBS: 'false',
          LOG_LEVEL: 'silent',
          TRACKING_SPOOL_DIR: spool,
          TRACKING_COMMIT_DELAY_MS: '60000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      let output = '';
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /GraphQL\s+(http:\/\/\S+)\/graphql/.exec(output);
          if (match) resolve(match[1]!);
        });
        void exited.then(() => reject(new Error(`the child exited before serving:\n${output}`)));
      });
      try {
        await engage(url, email.emailId);
      } finally {
        child.kill('SIGKILL');
      }
      expect(await exited).toBe('SIGKILL');
      // The same spool, twice: one copy is replayed below, the other later (replaying twice changes nothing).
      await cp(spool, `${spool}-copy`, { recursive: true });
      dirs.push(`${spool}-copy`);

      const next = await startTestApp({ DATABASE_URL: databaseUrl, TRACKING_SPOOL_DIR: spool });
      apps.push(next);
      await next.app.recorder.flush();
      expect(await stored(next, email)).toEqual(ALL_TEN_ONCE);
    });

    it('replaying the same spool again (a crash after the commit, before the spool was cleared) changes nothing', async () => {
      const copy = `${spool}-copy`;
      const segments = (await readdir(copy)).filter((name) => name.endsWith('.log'));
      expect(segments.length).toBeGreaterThan(0);
      // A crash in the middle of an append leaves a torn record at the end: it is ignored.
      await appendFile(join(copy, segments.at(-1)!), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 123, 34]));

      const lines: string[] = [];
      const again = await startTestApp(
        { DATABASE_URL: databaseUrl, TRACKING_SPOOL_DIR: copy, LOG_LEVEL: 'warn' },
        { logDestination: { write: (line: string) => void lines.push(line) } },
      );
      apps.push(again);
      await again.app.recorder.flush();
      expect(await stored(again, email)).toEqual(ALL_TEN_ONCE);
      // Recognised as applied, not refused by the database and given up as unrecordable.
      expect(lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((line) => line.level >= 50)).toEqual([]);
    });
  });
});
