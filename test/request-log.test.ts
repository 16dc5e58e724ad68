import pg from 'pg';
import type { DestinationStream } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { cutDatabase } from './helpers/database.js';
import { createTenant, type Tenant } from './helpers/factories.js';

/*
 * One log line per request (src/http/request-log.ts): method, URL, route, status, duration and request id, at `info`
 * for the API, `debug` for tracking and health routes, `warn` when slower than SLOW_REQUEST_MS and `error` for a 5xx
 * whatever the route. The app logs at debug into a capture, so every line's level can be read.
 */

interface Line {
  level: number;
  msg: string;
  reqId?: string;
  req?: { method: string; url: string };
  route?: string;
  status?: number;
  ms?: number;
}

describe('request log', () => {
  const lines: Line[] = [];
  const capture: DestinationStream = { write: (line: string) => void lines.push(JSON.parse(line) as Line) };
  let t: TestApp;
  let tenant: Tenant;
  let counter = 0;

  /** Sends a request with a request id of its own; returns its status and the log lines carrying that id. */
  const send = async (path: string, init: RequestInit = {}) => {
    const id = `request-log-${++counter}`;
    const response = await fetch(`${t.baseUrl}${path}`, { redirect: 'manual', ...init, headers: { ...init.headers, 'x-request-id': id } });
    await response.arrayBuffer();
    // The line is written when the response has finished, just after the client has it.
    await expect.poll(() => lines.some((line) => line.reqId === id), { timeout: 2_000 }).toBe(true);
    return { status: response.status, lines: lines.filter((line) => line.reqId === id) };
  };
  const graphql = (query: string) =>
    send('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.apiKey}` },
      body: JSON.stringify({ query }),
    });

  beforeAll(async () => {
    t = await startTestApp({ LOG_LEVEL: 'debug', SLOW_REQUEST_MS: '300' }, { logDestination: capture });
    tenant = await createTenant(t);
  });
  afterAll(() => t?.dispose());

  it("one line per API request at info, with method, URL, route, status, duration and request id; none of Fastify's own", async () => {
    const { status, lines: logged } = await graphql('{ viewer { id } }');
    expect(status).toBe(200);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 30, msg: 'request', req: { method: 'POST', url: '/graphql' }, route: '/graphql', status: 200 });
    expect(logged[0]!.ms).toBeGreaterThanOrEqual(0);
    const unknown = await send('/no/such/route');
    expect(unknown.lines).toEqual([expect.objectContaining({ level: 30, status: 404, req: expect.objectContaining({ url: '/no/such/route' }) })]);
    expect(lines.filter((line) => line.msg === 'incoming request' || line.msg === 'request completed')).toEqual([]);
  });

  it('health checks, pixels and clicks at debug', async () => {
    for (const path of ['/healthz', '/readyz', '/t/o/forged-token.gif', '/t/c/forged-token']) {
      const { lines: logged } = await send(path);
      expect(logged, path).toHaveLength(1);
      expect(logged[0]!.level, path).toBe(20);
    }
  });

  it('a request slower than SLOW_REQUEST_MS at warn', async () => {
    const locker = new pg.Client({ connectionString: t.app.databaseUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table lead in access exclusive mode');
      const slow = graphql('{ leads(first: 1) { totalCount } }');
      await new Promise((resolve) => setTimeout(resolve, 400));
      await locker.query('rollback');
      const { status, lines: logged } = await slow;
      expect(status).toBe(200);
      expect(logged).toEqual([expect.objectContaining({ level: 40, msg: 'slow request', route: '/graphql' })]);
      expect(logged[0]!.ms).toBeGreaterThan(300);
    } finally {
      await locker.end();
    }
  });

  it('a 5xx at error, whatever the route (a health check with the database away)', async () => {
    const restore = await cutDatabase(t.app.databaseUrl);
    try {
      const { status, lines: logged } = await send('/readyz');
      expect(status).toBe(503);
      expect(logged).toEqual([expect.objectContaining({ level: 50, status: 503, route: '/readyz' })]);
    } finally {
      await restore();
    }
  });
});
