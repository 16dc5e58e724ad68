import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { DASHBOARD_CSP } from '../src/http/dashboard.routes.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/** Captures what a logger writes, line by line. */
function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

const TOKEN = 'AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKKKllllMMMMnnnnOOOOpppp';

/**
 * The first five minutes: `npm start` (development) logs one readable line per event, production keeps JSON, and
 * both redact the same credentials (README, Logs).
 */
describe('logs for people in development, JSON in production', () => {
  it('development defaults to pino-pretty: one line per event, readable, with credentials and tokens redacted', () => {
    const config = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'info' });
    expect(config.logFormat).toBe('pretty');
    const { stream, lines } = capture();
    const logger = createLogger(config, stream);
    logger.info({ req: { method: 'GET', url: `/t/o/${TOKEN}.gif` }, headers: { authorization: 'Bearer lnk_secret' } }, 'request completed');
    logger.warn({ url: `https://mail.example.com/u/${TOKEN}` }, 'slow unsubscribe');

    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: request completed/);
    expect(lines[1]).toMatch(/WARN: slow unsubscribe/);
    for (const line of lines) {
      expect(() => JSON.parse(line)).toThrow(); // not JSON
      expect(line).not.toContain(TOKEN);
      expect(line).not.toContain('lnk_secret');
      expect(line).not.toContain('\u001b['); // no colour codes outside a terminal
    }
    expect(lines.join('\n')).toContain('[redacted]');
  });

  it('production and tests log JSON; LOG_FORMAT chooses explicitly and refuses anything else', () => {
    for (const env of [{ NODE_ENV: 'test' }, { NODE_ENV: 'development', LOG_FORMAT: 'json' }]) {
      const config = loadConfig({ ...env, LOG_LEVEL: 'info' });
      expect(config.logFormat).toBe('json');
      const { stream, lines } = capture();
      createLogger(config, stream).info({ url: `/t/c/${TOKEN}` }, 'hello');
      expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'hello', url: '/t/c/[redacted]' });
    }
    expect(loadConfig({ NODE_ENV: 'test', LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(() => loadConfig({ NODE_ENV: 'test', LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT must be one of json, pretty/);
  });
});

/** Outside development there is no demo key to give, and without a build the page says how to make one. */
describe('/dashboard outside development', () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lead-nurture-dashboard-dir-'));
    t = await startTestApp({ DASHBOARD_DIR: dir });
  });
  afterAll(async () => {
    await t?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 SERVICE_UNAVAILABLE naming `npm run build` when the dashboard is not built', async () => {
    const response = await fetch(`${t.baseUrl}/dashboard/`);
    expect(response.status).toBe(503);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as { errors: [{ message: string; extensions: { code: string } }] };
    expect(body.errors[0]).toEqual({ message: expect.stringContaining('npm run build'), extensions: { code: 'SERVICE_UNAVAILABLE' } });
  });

  it('serves the built page without any key even to this machine, with its CSP, and nothing beside the assets', async () => {
    await mkdir(join(dir, 'assets'), { recursive: true });
    await writeFile(join(dir, 'index.html'), '<!doctype html><html><head><title>x</title></head><body></body></html>');
    await writeFile(join(dir, 'assets', 'app-abc123.js'), 'console.log(1)');
    await writeFile(join(dir, 'secret.txt'), 'not an asset');
    for (const path of ['/dashboard/', '/dashboard']) {
      const page = await fetch(`${t.baseUrl}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
      expect(page.headers.get('cache-control')).toBe('no-cache');
      const html = await page.text();
      expect(html).not.toContain('dev-key');
      expect(html).not.toContain('lnk_');
    }
    const asset = await fetch(`${t.baseUrl}/dashboard/assets/app-abc123.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    for (const path of ['/dashboard/secret.txt', '/dashboard/assets/../secret.txt', '/dashboard/assets/%2e%2e/secret.txt', '/dashboard/assets/.hidden']) {
      expect([403, 404], path).toContain((await fetch(`${t.baseUrl}${path}`)).status);
    }
  });
});
