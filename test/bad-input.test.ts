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
      const response = await post(JSON.stringify({ query: '{ viewer { id } }' }));
      const text = JSON.stringify(response.body);
      expect(text).not.toMatch(/at .*\.(ts|js):\d+|select |from "|stack|test_/i);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await restore();
    }
    await stillServing();
  });
});
