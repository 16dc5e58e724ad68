import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/app.js';
import { cutDatabase } from './helpers/database.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { ok } from './helpers/graphql.js';

/** Hostile requests get a clear error with a code, and the server keeps serving. */
describe('bad input over HTTP', () => {
  let t: TestApp;
  let tenant: Tenant;
  let url: string;

  beforeAll(async () => {
    t = await startTestApp();
    tenant = await createTenant(t);
    url = t.app.server.url;
  });
  afterAll(() => t?.dispose());

  async function post(body: string, contentType = 'application/json') {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${tenant.apiKey}` }, body });
    return { status: response.status, body: (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] } };
  }

  async function stillServing() {
    expect(ok(await t.as(tenant.apiKey)('{ viewer { id } }')).viewer.id).toBe(tenant.companyId);
  }

  it('malformed JSON is 400 BAD_REQUEST', async () => {
    const { status, body } = await post('{"query": "{ viewer { id } }"');
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({ message: 'Malformed JSON body', extensions: { code: 'BAD_REQUEST' } });
    await stillServing();
  });

  /** Writes a request as given (no client would send these) and splits the answer into status, headers and body. */
  async function raw(request: string): Promise<{ status: number; head: string; body: { errors?: { message: string; extensions?: { code?: string } }[] } }> {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    await new Promise((resolve) => socket.on('close', resolve).write(request));
    const [head, body] = [answer.slice(0, answer.indexOf('\r\n\r\n')), answer.slice(answer.indexOf('\r\n\r\n') + 4)];
    return { status: Number(head.split(' ')[1]), head, body: JSON.parse(body) };
  }

  it('a URL that cannot be decoded and oversized headers are answered in the same error shape', async () => {
    const badUrl = await raw('GET /t/c/%E0%A4%A HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    expect(badUrl.status).toBe(400);
    expect(badUrl.body).toEqual({ errors: [{ message: expect.stringContaining('/t/c/%E0%A4%A'), extensions: { code: 'BAD_REQUEST' } }] });

    const bigHeaders = await raw(`GET /graphql HTTP/1.1\r\nHost: localhost\r\nX-Padding: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`);
    expect(bigHeaders.status).toBe(431);
    expect(bigHeaders.head).toMatch(/content-type: application\/json/i);
    expect(bigHeaders.body).toEqual({
      errors: [{ message: 'Request headers are larger than the server accepts', extensions: { code: 'REQUEST_HEADER_FIELDS_TOO_LARGE' } }],
    });

    const garbage = await raw('THIS IS NOT HTTP\r\n\r\n');
    expect(garbage.status).toBe(400);
    expect(garbage.body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    await stillServing();
  });

  it('a 2 MB request is 413 PAYLOAD_TOO_LARGE', async () => {
    const { status, body } = await post(JSON.stringify({ query: `{ viewer { id } }`, variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }));
    expect(status).toBe(413);
    expect(body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    await stillServing();
  });

  it('a query nested 100 levels deep is rejected before execution', async () => {
    const deep = `{ viewer { ${'a { '.repeat(99)}b${' }'.repeat(99)} } }`;
    const { status, body } = await post(JSON.stringify({ query: deep }));
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({ message: expect.stringContaining('nested more than'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    await stillServing();
  });

  it('an unknown field is GRAPHQL_VALIDATION_FAILED', async () => {
    const { status, body } = await post(JSON.stringify({ query: '{ viewer { id password } }' }));
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({ message: expect.stringContaining('password'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  });

  it('a variable of the wrong type is BAD_USER_INPUT', async () => {
    const query = 'mutation($input: CreateCompanyInput!) { createCompany(input: $input) { id } }';
    const { status, body } = await post(JSON.stringify({ query, variables: { input: { name: 42, fromAddress: 'a@example.com' } } }));
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    await stillServing();
  });

  it('unparseable GraphQL is GRAPHQL_PARSE_FAILED, and a non-JSON content type is refused', async () => {
    const parse = await post(JSON.stringify({ query: '{ viewer { id ' }));
    expect(parse.status).toBe(400);
    expect(parse.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');

    const media = await post('query=1', 'text/csv');
    expect(media.status).toBe(415);
    expect(media.body.errors?.[0]?.extensions?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    await stillServing();
  });

  it('frontends on other origins may call /graphql (CORS preflight and response headers)', async () => {
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const response = await fetch(url, {
      method: 'POST',
      headers: { origin: 'https://app.example.com', 'content-type': 'application/json', authorization: `Bearer ${tenant.apiKey}` },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  });

  it('internal errors never leak stack traces or SQL', async () => {
    const restore = await cutDatabase(t.app.databaseUrl);
    try {
      // A query that must read the database: `viewer` may be answered from the API key cache's copy of the company,
      // with no database round trip, until the process learns that its LISTEN connection is gone.
      const response = await post(JSON.stringify({ query: '{ leads(first: 1) { totalCount } }' }));
      const text = JSON.stringify(response.body);
      expect(text).not.toMatch(/at .*\.(ts|js):\d+|select |from "|stack|test_/i);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await restore();
    }
    await stillServing();
  });
});
