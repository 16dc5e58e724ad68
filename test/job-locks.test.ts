import { afterAll, beforeAll, expect, it } from 'vitest';
import { DISPATCH_JOB } from '../src/jobs/jobs.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { startMailbox, waitFor, type SesMailbox } from './helpers/ses.js';

/*
 * A worker SIGKILLed while its recurring dispatch run holds the job's lock leaves that lock behind, and no worker
 * runs the job again until it expires. The lock lived 5 minutes: the fault soak saw 1,944 due emails wait that
 * long after one kill. Here the lock a dead worker left is forged on the job's row.
 */
let mailbox: SesMailbox;
let t: TestApp;

beforeAll(async () => {
  mailbox = await startMailbox();
  t = await startTestApp({ RUN_JOBS: 'true', SES_ENDPOINT: mailbox.url, SES_MAX_SEND_RATE: '0', DISPATCH_INTERVAL_SECONDS: '1' });
});
afterAll(async () => {
  await t?.dispose();
  await mailbox?.dispose();
});

const recurring = async () => {
  const [row] = await t.app.orm.em
    .fork()
    .getConnection()
    .execute<{ last_run_at: Date | null }[]>(`select last_run_at from agenda_jobs where name = ? and type = 'single'`, [DISPATCH_JOB]);
  return row;
};

it('a lock left by a killed worker stops the recurring dispatch for seconds, not minutes', { timeout: 60_000 }, async () => {
  await waitFor('the recurring dispatch has run', async () => (await recurring())?.last_run_at ?? undefined, 10_000);
  const killedAt = new Date();
  await t.app.orm.em
    .fork()
    .getConnection()
    .execute(`update agenda_jobs set locked_at = now(), last_modified_by = 'killed-worker' where name = ? and type = 'single'`, [DISPATCH_JOB]);
  const ranAgain = await waitFor(
    'the recurring dispatch runs again',
    async () => {
      const at = (await recurring())?.last_run_at;
      return at && new Date(at) > killedAt ? new Date(at) : undefined;
    },
    40_000,
  );
  expect(ranAgain.getTime() - killedAt.getTime()).toBeLessThan(30_000);
});
