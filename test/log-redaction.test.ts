import * as fc from 'fast-check';
import type { DestinationStream } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, redactTokens, TOKEN_PATH_PREFIXES } from '../src/core/logger.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTenant } from './helpers/factories.js';
import { ok } from './helpers/graphql.js';
import { headerOf, sesDispatcher, startMailbox, type SesMailbox } from './helpers/ses.js';

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

/**
 * Whoever has a tracking or unsubscribe URL acts for its recipient, so no log line may hold one: the request log
 * (Fastify logs every URL), error and warning lines. The app logs at trace level into a capture while a recipient
 * loads the pixel, clicks, and unsubscribes through the page and with one click.
 */
describe('tokens never reach the log', () => {
  const lines: string[] = [];
  const capture: DestinationStream = { write: (line: string) => void lines.push(line) };
  let mailbox: SesMailbox;
  let t: TestApp;

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestApp({ SES_MAX_SEND_RATE: '0', PUBLIC_URL: 'https://mail.example.com', LOG_LEVEL: 'trace' }, { logDestination: capture });
  });
  afterAll(async () => {
    await t?.dispose();
    await mailbox?.dispose();
  });

  it('pixel, click, unsubscribe page and POST are logged by route with the token redacted, and never with the token or email id', async () => {
    const tenant = await createTenant(t);
    const gql = t.as(tenant.apiKey);
    ok(await gql(`mutation { createLead(input: { email: "logged@example.com" }) { id } }`));
    await sesDispatcher(t, mailbox, 'log-redaction-test', createLogger({ logLevel: 'silent' })).dispatchDue();
    const stored = (await mailbox.emails()).find((e) => e.destination.to.some((to) => to.includes('logged@example.com')))!;
    const emailId = headerOf(stored, 'X-LN-Email-Id')!;
    const html = stored.body.html!;
    const pixel = new URL(/<img src="([^"]+\/t\/o\/[^"]+)"/.exec(html)![1]!).pathname;
    const click = new URL(/href="([^"]+\/t\/c\/[^"]+)"/.exec(html)![1]!).pathname;
    const unsubscribe = new URL(headerOf(stored, 'List-Unsubscribe')!.slice(1, -1)).pathname;
    const tokens = [pixel, click, unsubscribe].map((path) =>
      path
        .split('/')
        .at(-1)!
        .replace(/\.gif$/, ''),
    );
    t.clock.advance(5 * 60_000);

    lines.length = 0;
    const get = (path: string, init: RequestInit = {}) =>
      fetch(`${t.baseUrl}${path}`, { redirect: 'manual', ...init, headers: { 'user-agent': BROWSER, ...(init.headers ?? {}) } });
    const oneClick = { 'content-type': 'application/x-www-form-urlencoded', 'list-unsubscribe': 'One-Click' };
    const requests: [string, string, RequestInit?][] = [
      ['GET', pixel],
      ['HEAD', pixel, { method: 'HEAD' }],
      ['GET', `${pixel}?utm=1`],
      // The same pixel with its path spelled in percent-escapes: the router matches it, the log must not show it.
      ['GET', pixel.replace('/t/o/', '/t/%6F/')],
      ['GET', click],
      ['GET', unsubscribe],
      ['GET', `${unsubscribe}/extra`], // no route: logged by its URL, redacted as text
      ['POST', unsubscribe, { method: 'POST', body: 'List-Unsubscribe=One-Click', headers: oneClick }],
      ['POST', unsubscribe, { method: 'POST' }],
    ];
    const statuses: number[] = [];
    for (const [, path, init] of requests) statuses.push((await get(path, init)).status);
    const errors = lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
    expect(statuses, errors.join('')).toEqual([200, 200, 200, 200, 302, 200, 404, 200, 200]);
    await t.app.recorder.flush();

    const logged = lines.join('');
    // One line per request (src/http/request-log.ts), and the engagement's own.
    expect(lines.length).toBeGreaterThanOrEqual(requests.length);
    for (const token of tokens) expect(logged).not.toContain(token);
    expect(logged).not.toContain(emailId);
    expect(logged).not.toContain(emailId.replace(/-/g, ''));
    // The routes themselves are still in the log, each request with its method and status.
    const urls = lines.map((line) => (JSON.parse(line) as { req?: { url: string } }).req?.url).filter(Boolean);
    expect(urls).toEqual(expect.arrayContaining(['/t/o/[redacted]', '/t/c/[redacted]', '/u/[redacted]', '/u/[redacted]/extra']));
    expect(urls.every((url) => !url!.includes('%'))).toBe(true);
  });

  it('hostile tokens (any characters, percent-encoded as a browser would) never reach the log, on any method of any token route', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', minLength: 8, maxLength: 300 }),
        fc.constantFrom('/t/o/', '/t/c/', '/u/', '/t/%6F/', '/%75/'),
        fc.constantFrom('GET', 'HEAD', 'POST'),
        fc.constantFrom('', '.gif', '/extra', '?x=1'),
        async (token, prefix, method, suffix) => {
          lines.length = 0;
          const encoded = encodeURIComponent(token);
          const response = await fetch(`${t.baseUrl}${prefix}${encoded}${suffix}`, { method, redirect: 'manual' });
          expect(response.status).toBeLessThan(500);
          const logged = lines.join('');
          expect(logged).not.toContain(encoded);
          expect(logged).not.toContain(token);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('every route with a path parameter is a token route whose logs are redacted', () => {
    const routes = t.app.server.http.printRoutes({ commonPrefix: false });
    const withParameters = [...routes.matchAll(/(\S*:\S*) \(/g)].map((m) => m[1]!);
    expect(withParameters.length).toBeGreaterThan(0);
    for (const route of withParameters) {
      expect(
        TOKEN_PATH_PREFIXES.some((prefix) => route.startsWith(prefix)),
        `${route} carries a path parameter: list it in TOKEN_PATH_PREFIXES`,
      ).toBe(true);
    }
  });

  it('the text filter takes the whole token whatever follows it, in URLs, messages and stacks', () => {
    expect(redactTokens('{"msg":"GET https://mail.example.com/t/c/abc.DEF_-1?x=2#f"}')).toBe('{"msg":"GET https://mail.example.com/t/c/[redacted]?x=2#f"}');
    expect(redactTokens('"url":"/u/ab\\"cd/ef"')).toBe('"url":"/u/[redacted]/ef"');
    expect(redactTokens('<img src="https://m.example/t/o/tok.gif">')).toBe('<img src="https://m.example/t/o/[redacted]">');
    expect(redactTokens('/graphql?query=x')).toBe('/graphql?query=x');
  });
});

/** Credentials logged by field never reach the line, in the objects a line carries or in a child logger's bindings. */
describe('credentials never reach the log', () => {
  const lines: string[] = [];
  const capture: DestinationStream = { write: (line: string) => void lines.push(line) };
  const log = createLogger({ logLevel: 'info' }, capture);
  const SECRET = 'lnk_s3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS';

  it('censors connectionParams whole and each credential field one level down, and leaves the caller its objects', () => {
    const created = { id: 'k1', secret: SECRET, name: 'bench' };
    const headers = { authorization: `Bearer ${SECRET}`, accept: '*/*' };
    log.info({ created, headers, connectionParams: { apiKey: SECRET }, user: { password: SECRET, apiKey: SECRET } }, 'made a key');
    log.child({ reqId: 'r1', connectionParams: { authorization: `Bearer ${SECRET}` } }).warn({ socket: { apiKey: SECRET } }, 'child');
    log.info({ connectionParams: `Bearer ${SECRET}` }, 'a string');
    const text = lines.join('');
    expect(text).not.toContain(SECRET);
    const [first, second] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({
      created: { id: 'k1', secret: '[redacted]', name: 'bench' },
      headers: { authorization: '[redacted]', accept: '*/*' },
      connectionParams: '[redacted]',
      user: { password: '[redacted]', apiKey: '[redacted]' },
    });
    expect(second).toMatchObject({ reqId: 'r1', connectionParams: '[redacted]', socket: { apiKey: '[redacted]' } });
    // What was logged is the caller's, unchanged.
    expect(created.secret).toBe(SECRET);
    expect(headers.authorization).toBe(`Bearer ${SECRET}`);
  });
});
