import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_TOKEN, startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, graphqlClient, ok } from './helpers/graphql.js';
import { connectWs } from './helpers/ws.js';

const VIEWER = '{ viewer { id name } }';

describe('API keys and the operator token', () => {
  let t: TestApp;
  let acme: Tenant;
  let globex: Tenant;

  beforeAll(async () => {
    t = await startTestApp();
    acme = await createTenant(t, { name: 'Acme' });
    globex = await createTenant(t, { name: 'Globex' });
  });
  afterAll(() => t?.dispose());

  it('viewer returns the company of the calling key, and only that one', async () => {
    expect(ok(await t.as(acme.apiKey)(VIEWER)).viewer).toEqual({ id: acme.companyId, name: 'Acme' });
    expect(ok(await t.as(globex.apiKey)(VIEWER)).viewer).toEqual({ id: globex.companyId, name: 'Globex' });
  });

  it('a missing key is UNAUTHENTICATED', async () => {
    const error = errorOf(await t.anonymous(VIEWER));
    expect(error.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_MISSING' });
  });

  it.each<[string, (key: string) => string]>([
    ['no scheme', (key) => key],
    ['wrong scheme', (key) => `Token ${key}`],
    ['two tokens', (key) => `Bearer ${key} extra`],
    ['empty bearer', () => 'Bearer '],
  ])('a malformed Authorization header (%s) is UNAUTHENTICATED', async (_, header) => {
    const error = errorOf(await graphqlClient(t.app.server.url, header(acme.apiKey))(VIEWER));
    expect(error.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'MALFORMED_AUTHORIZATION' });
  });

  it.each([
    ['well-formed but unknown', 'lnk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['garbage', 'not-a-key'],
    ['almost a real key', 'lnk_short'],
  ])('an unknown key (%s) is UNAUTHENTICATED', async (_, key) => {
    const error = errorOf(await t.as(key)(VIEWER));
    expect(error.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_UNKNOWN' });
  });

  it('a revoked key stops working at once, and revoking is idempotent', async () => {
    const tenant = await createTenant(t);
    expect(ok(await t.as(tenant.apiKey)(VIEWER)).viewer.id).toBe(tenant.companyId);

    const revoke = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
    const first = ok(await t.operator(revoke, { id: tenant.apiKeyId })).revokeApiKey;
    expect(first.revokedAt).toBeTruthy();
    expect(ok(await t.operator(revoke, { id: tenant.apiKeyId })).revokeApiKey.revokedAt).toBe(first.revokedAt);

    const error = errorOf(await t.as(tenant.apiKey)(VIEWER));
    expect(error.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'API_KEY_REVOKED' });
  });

  it('the key secret is returned once and never readable afterwards', async () => {
    const fields = ok(await t.anonymous(`{ __type(name: "ApiKey") { fields { name } } }`)).__type.fields.map((f: { name: string }) => f.name);
    expect(fields).toEqual(expect.arrayContaining(['id', 'name', 'prefix', 'createdAt', 'revokedAt']));
    expect(fields).not.toContain('secret');
    expect(fields).not.toContain('secretHash');

    const row = await t.app.orm.em.fork().getConnection().execute('select secret_hash from api_key where id = ?', [acme.apiKeyId]);
    expect(row[0]!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row[0]!.secret_hash).not.toContain(acme.apiKey);
  });

  it.each([
    ['createCompany', `mutation { createCompany(input: { name: "Evil", fromAddress: "evil@example.com" }) { id } }`],
    ['createApiKey', `mutation($id: ID!) { createApiKey(companyId: $id, name: "mine now") { secret } }`],
    ['revokeApiKey', `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`],
  ])('operator-only %s is FORBIDDEN to an API key and does nothing', async (name, mutation) => {
    const id = name === 'revokeApiKey' ? globex.apiKeyId : globex.companyId;
    const error = errorOf(await t.as(acme.apiKey)(mutation, { id }));
    expect(error.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'OPERATOR_ONLY' });
    expect(ok(await t.as(globex.apiKey)(VIEWER)).viewer.id).toBe(globex.companyId);
  });

  it('operator-only mutations are UNAUTHENTICATED without credentials', async () => {
    const error = errorOf(await t.anonymous(`mutation { createCompany(input: { name: "X", fromAddress: "x@example.com" }) { id } }`));
    expect(error.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('the operator token is not a company: viewer is FORBIDDEN', async () => {
    expect(errorOf(await t.operator(VIEWER)).extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'API_KEY_REQUIRED' });
  });

  it('createApiKey for a company that does not exist is NOT_FOUND', async () => {
    const missing = '01900000-0000-7000-8000-000000000000';
    for (const id of [missing, 'not-a-uuid']) {
      const error = errorOf(await t.operator(`mutation($id: ID!) { createApiKey(companyId: $id, name: "x") { secret } }`, { id }));
      expect(error.extensions?.code).toBe('NOT_FOUND');
    }
  });

  it('WebSocket connections authenticate with connectionParams; a bad key is closed with 4403', async () => {
    const good = connectWs(t.app.server.url, { authorization: `Bearer ${acme.apiKey}` });
    await good.connected;
    await good.client.dispose();

    for (const params of [{}, { authorization: 'Bearer lnk_nope' }, { apiKey: 'garbage' }, { authorization: `Bearer ${OPERATOR_TOKEN}` }]) {
      const bad = connectWs(t.app.server.url, params);
      expect(await bad.closed).toBe(4403);
      await bad.client.dispose();
    }
  });
});
