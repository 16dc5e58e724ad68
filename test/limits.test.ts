import type { Client } from 'graphql-ws';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant, type Tenant } from './helpers/factories.js';
import { errorOf, ok, type GraphQLClient, type Untyped } from './helpers/graphql.js';
import { connectWs, subscribe, subscriptionsOpen, type WsConnection } from './helpers/ws.js';

/**
 * The limits every request meets before anything runs, with low values so each one can be reached: document
 * size, estimated cost (HTTP and WebSocket), per-key mutation rate, body and message size, operations per socket,
 * sockets per key. Depth and the default body limit are covered by bad-input.test.ts, the 10,000 rows of
 * importLeads by sequence-input.test.ts.
 */

const LIMITS = {
  MAX_QUERY_COMPLEXITY: '400',
  MAX_QUERY_TOKENS: '2000',
  MAX_REQUEST_BYTES: '65536',
  MUTATION_RATE_LIMIT: '2',
  MUTATION_RATE_BURST: '3',
  MAX_SUBSCRIPTIONS_PER_SOCKET: '3',
  MAX_SOCKETS_PER_KEY: '2',
};

const CREATE_LEAD = `mutation($input: LeadInput!) { createLead(input: $input) { id } }`;
const LEAD_COUNT = `query($search: String) { leads(filter: { search: $search }) { totalCount } }`;

interface WsResult {
  data?: Record<string, Untyped> | null;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
}

/** Runs one query or mutation over graphql-ws: its result, or the errors the server refused it with. */
function overWs(client: Client, query: string, variables?: Record<string, unknown>): Promise<WsResult> {
  return new Promise((resolve, reject) => {
    let result: WsResult = {};
    client.subscribe(
      { query, ...(variables ? { variables } : {}) },
      {
        next: (value) => (result = value as WsResult),
        error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error instanceof Error ? error : new Error(JSON.stringify(error)))),
        complete: () => resolve(result),
      },
    );
  });
}

describe('request limits', () => {
  let t: TestApp;
  let tenant: Tenant;
  let gql: GraphQLClient;

  /** A company and key; the operator's bucket is refilled after creating it (the clock only moves when told). */
  async function freshTenant(): Promise<Tenant> {
    const created = await createTenant(t);
    t.clock.advance(2_000);
    return created;
  }

  async function leadCount(client: GraphQLClient, search: string): Promise<number> {
    return ok(await client(LEAD_COUNT, { search })).leads.totalCount;
  }

  async function post(body: string, authorization = `Bearer ${tenant.apiKey}`) {
    const response = await fetch(t.app.server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as { data?: Untyped; errors?: { message: string; extensions?: Record<string, unknown> }[] },
    };
  }

  beforeAll(async () => {
    t = await startTestApp(LIMITS);
    tenant = await freshTenant();
    gql = t.as(tenant.apiKey);
  });
  afterAll(() => t?.dispose());

  describe('query complexity (MAX_QUERY_COMPLEXITY)', () => {
    it('an operation at the limit runs; one over it is 400 QUERY_TOO_COMPLEX stating its cost and the limit', async () => {
      // 100 edges × (edge + node + id) + the field itself per item: 100 × 4 = 400.
      expect(ok(await gql(`{ leads(first: 100) { edges { node { id } } } }`)).leads.edges).toEqual([]);

      const { status, body } = await post(JSON.stringify({ query: `{ leads(first: 100) { edges { node { id } } } viewer { id } }` }));
      expect(status).toBe(400);
      expect(body.data).toBeUndefined();
      expect(body.errors).toEqual([
        {
          message: "The operation's estimated cost is 402, over the limit of 400: ask for smaller pages or fewer fields",
          extensions: { code: 'QUERY_TOO_COMPLEX', cost: 402, limit: 400 },
        },
      ]);
    });

    it('a connection costs its page size, given inline or by a variable, and aliases each count', async () => {
      const page = `query($n: Int!) { leads(first: $n) { edges { node { id email } } } }`; // n × 5
      ok(await gql(page, { n: 80 }));
      expect(errorOf(await gql(page, { n: 81 })).extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', cost: 405 });
      // A page larger than a connection serves is refused by the connection itself, not costed past its maximum.
      expect(errorOf(await gql(`{ leads(first: 5000) { totalCount } }`)).extensions?.code).toBe('BAD_USER_INPUT');

      const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: viewer { id }`).join(' ')} }`; // n × 2
      ok(await gql(aliases(200)));
      expect(errorOf(await gql(aliases(201))).extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', cost: 402 });
    });

    it('a refused mutation writes nothing and takes nothing from the rate limit', async () => {
      const costly = await freshTenant();
      const client = t.as(costly.apiKey);
      // 1 + (1 + 100 × (edge + node + 4 fields + 1)) = 702
      const query = `mutation($input: LeadInput!) { createLead(input: $input) { id activities(first: 100) { edges { node { id type reason occurredAt } } } } }`;
      for (let i = 0; i < 5; i++) {
        expect(errorOf(await client(query, { input: { email: `costly${i}@example.com` } })).extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', cost: 702 });
      }
      expect(await leadCount(client, 'costly')).toBe(0);
      // The burst of 3 is all there.
      for (let i = 0; i < 3; i++) ok(await client(CREATE_LEAD, { input: { email: `cheap${i}@example.com` } }));
    });

    it('introspection (Apollo Sandbox) is not costed, so it is off without Sandbox: over WebSocket too', async () => {
      const introspection = getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
      });
      expect(ok(await gql(introspection)).__schema.types.length).toBeGreaterThan(50);

      const production = await startTestApp({ SANDBOX: 'false' });
      const key = await createTenant(production);
      const connection = connectWs(production.app.server.url, { authorization: `Bearer ${key.apiKey}` });
      try {
        expect(errorOf(await production.as(key.apiKey)(introspection)).extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
        expect((await overWs(connection.client, introspection)).errors?.[0]?.message).toMatch(/introspection has been disabled/);
      } finally {
        await connection.client.dispose();
        await production.dispose();
      }
    });

    it('a document of fragments spreading fragments is costed and depth-checked in linear time', async () => {
      // 2^22 paths through 23 small fragments: walking every spread blocks the server for seconds (5 s or more on
      // a 2-core machine); following each fragment once takes milliseconds.
      let query = 'query { ...F0 }\n';
      for (let i = 0; i < 22; i++) query += `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }\n`;
      query += 'fragment F22 on Query { viewer { id } }';
      const started = performance.now();
      expect(ok(await gql(query)).viewer.id).toBe(tenant.companyId);
      expect(performance.now() - started).toBeLessThan(2_000);
    });

    it('over WebSocket a subscription, query or mutation over the limit is refused with the same error; one under it runs', async () => {
      const connection: WsConnection = connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
      try {
        await connection.connected;
        // 1 + (1 + 100 × (edge + node + id + reason + 1)) = 502
        const costly = await overWs(
          connection.client,
          `subscription { leadScoreChanged { lead { activities(first: 100) { edges { node { id reason } } } } } }`,
        );
        expect(costly.errors).toEqual([
          {
            message: "The operation's estimated cost is 502, over the limit of 400: ask for smaller pages or fewer fields",
            extensions: { code: 'QUERY_TOO_COMPLEX', cost: 502, limit: 400 },
          },
        ]);
        expect((await overWs(connection.client, `{ leads(first: 100) { edges { node { id } } } viewer { id } }`)).errors?.[0]?.extensions).toMatchObject({
          code: 'QUERY_TOO_COMPLEX',
        });

        // 1 + (1 + 70 × 5) = 352: it runs and gets events.
        const events = subscribe<{ leadScoreChanged: { score: number; lead: { activities: { edges: unknown[] } } } }>(
          connection.client,
          `subscription { leadScoreChanged { score lead { activities(first: 70) { edges { node { id reason } } } } } }`,
        );
        await subscriptionsOpen(() => t.app.pubSub.stats(), 1);
        const leadId = ok(await gql(CREATE_LEAD, { input: { email: 'live@example.com' } })).createLead.id;
        ok(await gql(`mutation($id: ID!) { adjustLeadScore(leadId: $id, delta: 5, reason: "call") { score } }`, { id: leadId }));
        expect((await events.next()).leadScoreChanged).toMatchObject({ score: 5, lead: { activities: { edges: expect.any(Array) } } });
        events.dispose();
        t.clock.advance(2_000); // the two mutations' tokens back
      } finally {
        await connection.client.dispose();
      }
    });
  });

  describe('document size (MAX_QUERY_TOKENS)', () => {
    // Introspection fields cost nothing, so only the token limit applies: 2 + 9 tokens per alias.
    const document = (aliases: number) => `{ ${Array.from({ length: aliases }, (_, i) => `a${i}: __schema { queryType { name } }`).join(' ')} }`;

    it('a document of exactly the limit parses; one token more is 400 GRAPHQL_PARSE_FAILED, over WebSocket too', async () => {
      expect(Object.keys(ok(await gql(document(222))))).toHaveLength(222); // 2000 tokens
      const { status, body } = await post(JSON.stringify({ query: document(223) }));
      expect(status).toBe(400);
      expect(body.errors?.[0]).toMatchObject({ message: expect.stringContaining('2000 tokens'), extensions: { code: 'GRAPHQL_PARSE_FAILED' } });

      const connection = connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
      try {
        const refused = await overWs(connection.client, document(223));
        expect(refused.errors?.[0]?.message).toContain('2000 tokens');
      } finally {
        await connection.client.dispose();
      }
    });
  });

  describe('mutation rate per API key (MUTATION_RATE_LIMIT, MUTATION_RATE_BURST)', () => {
    it('a key may burst 3 mutations; the next is 429 RATE_LIMITED with Retry-After, and writes nothing', async () => {
      const key = await freshTenant();
      for (let i = 0; i < 3; i++) ok(await t.as(key.apiKey)(CREATE_LEAD, { input: { email: `burst${i}@example.com` } }));

      const { status, headers, body } = await post(
        JSON.stringify({ query: CREATE_LEAD, variables: { input: { email: 'burst3@example.com' } } }),
        `Bearer ${key.apiKey}`,
      );
      expect(status).toBe(429);
      expect(headers.get('retry-after')).toBe('1'); // one token comes back every 0.5 s
      expect(body.data).toBeUndefined();
      expect(body.errors).toEqual([
        {
          message: 'Too many mutations with this API key (2 per second, bursts of 3): retry in 1 s',
          extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 1 },
        },
      ]);
      expect(await leadCount(t.as(key.apiKey), 'burst')).toBe(3);
    });

    it('the bucket refills at the sustained rate', async () => {
      const key = await freshTenant();
      const create = (n: number) => t.as(key.apiKey)(CREATE_LEAD, { input: { email: `refill${n}@example.com` } });
      for (let i = 0; i < 3; i++) ok(await create(i));
      expect(errorOf(await create(3)).extensions?.code).toBe('RATE_LIMITED');

      t.clock.advance(499);
      expect(errorOf(await create(3)).extensions?.code).toBe('RATE_LIMITED');
      t.clock.advance(1); // 0.5 s at 2 per second: one token
      ok(await create(3));
      expect(errorOf(await create(4)).extensions?.code).toBe('RATE_LIMITED');

      t.clock.advance(60_000); // refilled to the burst, never beyond
      for (let i = 4; i < 7; i++) ok(await create(i));
      expect(errorOf(await create(7)).extensions?.code).toBe('RATE_LIMITED');
      expect(await leadCount(t.as(key.apiKey), 'refill')).toBe(7);
    });

    it('keys are limited separately, and queries, subscriptions and other keys go on while one key is limited', async () => {
      const [one, other] = [await freshTenant(), await freshTenant()];
      for (let i = 0; i < 3; i++) ok(await t.as(one.apiKey)(CREATE_LEAD, { input: { email: `one${i}@example.com` } }));
      expect(errorOf(await t.as(one.apiKey)(CREATE_LEAD, { input: { email: 'one3@example.com' } })).extensions?.code).toBe('RATE_LIMITED');

      expect(ok(await t.as(one.apiKey)('{ viewer { id } }')).viewer.id).toBe(one.companyId);
      for (let i = 0; i < 3; i++) ok(await t.as(other.apiKey)(CREATE_LEAD, { input: { email: `other${i}@example.com` } }));

      const connection = connectWs(t.app.server.url, { authorization: `Bearer ${one.apiKey}` });
      try {
        const events = subscribe(connection.client, `subscription { leadScoreChanged { score } }`);
        await subscriptionsOpen(() => t.app.pubSub.stats(), 1);
        events.dispose();
        await subscriptionsOpen(() => t.app.pubSub.stats(), 0);
        // A mutation over WebSocket meets the same bucket, and is not run either.
        const refused = await overWs(connection.client, CREATE_LEAD, { input: { email: 'one-ws@example.com' } });
        expect(refused.errors).toEqual([
          {
            message: 'Too many mutations with this API key (2 per second, bursts of 3): retry in 1 s',
            extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 1 },
          },
        ]);
      } finally {
        await connection.client.dispose();
      }
      expect(await leadCount(t.as(one.apiKey), 'one')).toBe(3);
    });

    it('each mutation field of an operation takes a token, all or none; more than the burst in one operation is refused', async () => {
      const key = await freshTenant();
      const client = t.as(key.apiKey);
      const aliased = (names: string[]) =>
        `mutation { ${names.map((name) => `${name}: createLead(input: { email: "${name}@example.com" }) { id }`).join(' ')} }`;

      ok(await client(aliased(['pair1', 'pair2'])));
      const refused = await client(aliased(['pair3', 'pair4'])); // one token left, two asked
      expect(refused.status).toBe(429);
      expect(errorOf(refused).extensions?.code).toBe('RATE_LIMITED');
      expect(await leadCount(client, 'pair')).toBe(2);

      t.clock.advance(60_000);
      const tooMany = await client(aliased(['many1', 'many2', 'many3', 'many4']));
      expect(tooMany.status).toBe(400);
      expect(errorOf(tooMany)).toMatchObject({ message: expect.stringContaining('at most 3'), extensions: { code: 'BAD_REQUEST' } });
      expect(await leadCount(client, 'many')).toBe(0);
      ok(await client(aliased(['many1', 'many2', 'many3']))); // the refusal took nothing
    });

    it('importLeads is one mutation, whatever its number of rows', async () => {
      const key = await freshTenant();
      const client = t.as(key.apiKey);
      const rows = (batch: number) => Array.from({ length: 50 }, (_, i) => ({ email: `import${batch}-${i}@example.com` }));
      const IMPORT = `mutation($inputs: [LeadInput!]!) { importLeads(inputs: $inputs) { created } }`;
      for (let batch = 0; batch < 3; batch++) expect(ok(await client(IMPORT, { inputs: rows(batch) })).importLeads.created).toBe(50);
      expect(errorOf(await client(IMPORT, { inputs: rows(3) })).extensions?.code).toBe('RATE_LIMITED');
      expect(await leadCount(client, 'import')).toBe(150);
    });

    it('the operator token has its own bucket', async () => {
      t.clock.advance(60_000);
      const company = (n: number) =>
        t.operator(`mutation($n: String!) { createCompany(input: { name: $n, fromAddress: "ops@example.com" }) { id } }`, { n: `Operator ${n}` });
      for (let i = 0; i < 3; i++) ok(await company(i));
      const refused = await company(3);
      expect(refused.status).toBe(429);
      expect(errorOf(refused).message).toContain('with the operator token');
      ok(await gql(CREATE_LEAD, { input: { email: 'while-operator-waits@example.com' } }));
      t.clock.advance(2_000);
    });
  });

  describe('request size', () => {
    it('a body of exactly MAX_REQUEST_BYTES is read; one byte more is 413', async () => {
      const sized = (bytes: number) => {
        const body = JSON.stringify({ query: '{ viewer { id } }', variables: { pad: '' } });
        return body.replace('"pad":""', `"pad":"${'x'.repeat(bytes - body.length)}"`);
      };
      expect((await post(sized(65_536))).status).toBe(200);
      const over = await post(sized(65_537));
      expect(over.status).toBe(413);
      expect(over.body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('a WebSocket message over MAX_REQUEST_BYTES closes the socket (1009), without a stack trace on the console', async () => {
      const consoleError = vi.spyOn(console, 'error');
      try {
        const socket = new WebSocket(t.app.server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
        const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
        await new Promise((resolve) => socket.on('open', resolve));
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${tenant.apiKey}`, pad: 'x'.repeat(65_536) } }));
        expect(await closed).toBe(1009);
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(consoleError).not.toHaveBeenCalled();
      } finally {
        consoleError.mockRestore();
      }
    });

    it('batched requests (a JSON array) are refused', async () => {
      const { status, body } = await post(JSON.stringify([{ query: '{ viewer { id } }' }, { query: '{ viewer { id } }' }]));
      expect(status).toBe(400);
      expect(body.errors?.[0]).toMatchObject({ message: expect.stringContaining('batching'), extensions: { code: 'BAD_REQUEST' } });
    });
  });

  describe('operations per WebSocket', () => {
    it('one socket holds at most MAX_SUBSCRIPTIONS_PER_SOCKET operations; the next is refused and the socket stays usable', async () => {
      const key = await freshTenant();
      const connect = () => connectWs(t.app.server.url, { authorization: `Bearer ${key.apiKey}` });
      const [first, second] = [connect(), connect()];
      try {
        const held = [0, 1, 2].map((i) => subscribe(first.client, `subscription { leadScoreChanged(minScore: ${i}) { score } }`));
        await subscriptionsOpen(() => t.app.pubSub.stats(), 3);

        const refused = {
          message: 'Too many operations on this connection (at most 3 at once): complete some first, or open another connection',
          extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 3 },
        };
        expect((await overWs(first.client, `subscription { leadScoreChanged { score } }`)).errors).toEqual([refused]);
        expect((await overWs(first.client, `{ viewer { id } }`)).errors).toEqual([refused]);
        // The limit is per socket: the same key subscribes on another one.
        const elsewhere = subscribe(second.client, `subscription { leadScoreChanged { score } }`);
        await subscriptionsOpen(() => t.app.pubSub.stats(), 4);

        // The held subscriptions still get events; completing one frees a place.
        const { createLead } = ok(await t.as(key.apiKey)(CREATE_LEAD, { input: { email: 'per-socket@example.com' } }));
        ok(await t.as(key.apiKey)(`mutation($id: ID!) { adjustLeadScore(leadId: $id, delta: 5, reason: "limit test") { delta } }`, { id: createLead.id }));
        for (const subscription of [...held, elsewhere]) expect(await subscription.next()).toEqual({ leadScoreChanged: { score: 5 } });
        held[0]!.dispose();
        await subscriptionsOpen(() => t.app.pubSub.stats(), 3);
        expect((await overWs(first.client, `{ viewer { id } }`)).data?.viewer.id).toBe(key.companyId);
      } finally {
        await first.client.dispose();
        await second.client.dispose();
      }
    });
  });

  describe('WebSocket connections per key', () => {
    it('one key holds at most MAX_SOCKETS_PER_KEY sockets: the next closes with 1013 Try Again Later, other keys are unaffected, and a closed socket frees its place', async () => {
      const [key, other] = [await freshTenant(), await freshTenant()];
      const connect = (tenant: Tenant) => connectWs(t.app.server.url, { authorization: `Bearer ${tenant.apiKey}` });
      const held = [connect(key), connect(key)];
      const opened: WsConnection[] = [...held];
      try {
        await Promise.all(held.map((c) => c.connected));
        const refused = connect(key);
        opened.push(refused);
        expect(await refused.closed).toBe(1013);
        expect(await refused.closeReason).toBe('Too many connections for this API key (at most 2)');
        // The held sockets carry on, and the limit is per key.
        expect((await overWs(held[1]!.client, `{ viewer { id } }`)).data?.viewer.id).toBe(key.companyId);
        const elsewhere = connect(other);
        opened.push(elsewhere);
        await elsewhere.connected;

        // Closing a socket frees its place (the server learns of the close a moment after the client).
        await held[0]!.client.dispose();
        expect(await held[0]!.closed).toBe(1000);
        let replacement: WsConnection | undefined;
        for (let attempt = 0; attempt < 20 && !replacement; attempt++) {
          const candidate = connect(key);
          opened.push(candidate);
          if ((await Promise.race([candidate.connected.then(() => 'connected'), candidate.closed])) === 'connected') replacement = candidate;
          else await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(replacement).toBeDefined();
        expect((await overWs(replacement!.client, `{ viewer { id } }`)).data?.viewer.id).toBe(key.companyId);
      } finally {
        await Promise.all(
          opened.map(async (c) => {
            await c.client.dispose();
          }),
        );
      }
    });
  });
});
