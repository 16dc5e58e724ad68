import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/orm.js';
import { markAccountPaused } from '../src/delivery/account.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { cutDatabase } from './helpers/database.js';

describe('health and readiness', () => {
  const apps: TestApp[] = [];
  afterAll(() => Promise.all(apps.map((a) => a.dispose())));

  it('/healthz answers while the process is up; /readyz once the database is migrated', async () => {
    const t = await startTestApp();
    apps.push(t);
    expect(await (await fetch(`${t.baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('/readyz is 503 naming the pending migrations until they are applied', async () => {
    const t = await startTestApp({ MIGRATE_ON_BOOT: 'false' });
    apps.push(t);
    const before = await fetch(`${t.baseUrl}/readyz`);
    expect(before.status).toBe(503);
    expect(await before.json()).toMatchObject({ status: 'not_ready', reason: expect.stringMatching(/pending migration\(s\): Migration\d+/) });

    await migrate(t.app.orm);
    expect((await fetch(`${t.baseUrl}/readyz`)).status).toBe(200);
  });

  it('/readyz stays 200 while the SES account is paused: readiness is about serving this process’s own traffic', async () => {
    const t = await startTestApp();
    apps.push(t);
    await markAccountPaused(t.app.orm.em.fork(), 'SES account paused by review');
    const response = await fetch(`${t.baseUrl}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready' });
  });

  it('/readyz is 503 when the database is unreachable, while /healthz stays up', async () => {
    const t = await startTestApp();
    apps.push(t);
    const restore = await cutDatabase(t.app.databaseUrl);
    const response = await fetch(`${t.baseUrl}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 'not_ready', reason: expect.stringContaining('database unreachable') });
    expect((await fetch(`${t.baseUrl}/healthz`)).status).toBe(200);

    await restore();
    expect((await fetch(`${t.baseUrl}/readyz`)).status).toBe(200);
  });
});
