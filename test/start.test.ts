import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { graphqlClient, ok } from './helpers/graphql.js';
import { freePort } from './helpers/ports.js';

/**
 * What a developer does on a fresh machine: `npm start` (build if needed, embedded PostgreSQL and SES
 * emulator, demo seed), use the printed key, Ctrl-C, start again.
 */
describe('npm start on embedded defaults', () => {
  let dataDir: string;
  const running = new Set<ChildProcess>();
  afterAll(async () => {
    for (const child of running) child.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function start(env: Record<string, string>) {
    // Without NODE_ENV (vitest sets it to test), as in a developer's shell: `npm start` itself chooses development.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_ENV'));
    const child = spawn(process.execPath, ['scripts/start.mjs'], { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => (running.delete(child), resolve(code))));
    await Promise.race([
      new Promise<void>((resolve) => child.stdout.on('data', () => output.includes('Ctrl-C stops everything') && resolve())),
      exited.then((code) => Promise.reject(new Error(`npm start exited (${code}):\n${output}`))),
    ]);
    const banner = (label: string) => new RegExp(`${label}\\s+(\\S+(?: \\S+)*?)(?:\\s{3}|\\n)`).exec(output)?.[1];
    return { child, exited, output, url: banner('GraphQL')!, header: banner('Header')!, mailbox: banner('Sent mail')! };
  }

  it('serves Sandbox and the demo key, stops cleanly, and restarts on the same data', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lead-nurture-start-'));
    const ports = { PORT: String(await freePort()), EMBEDDED_POSTGRES_PORT: String(await freePort()), SES_EMULATOR_PORT: String(await freePort()) };
    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...ports };

    const first = await start(env);
    expect(first.output).toContain('Lead nurture API (development)');
    expect(first.url).toBe(`http://localhost:${ports.PORT}/graphql`);
    expect(first.header).toMatch(/^Authorization: Bearer lnk_/);

    const sandbox = await fetch(first.url, { headers: { accept: 'text/html' } });
    expect(sandbox.status).toBe(200);
    expect(await sandbox.text()).toContain('embeddable-sandbox');

    const authorization = first.header.replace(/^Authorization: /, '');
    const viewer = ok(await graphqlClient(first.url, authorization)('{ viewer { name } }')).viewer;
    expect(viewer).toEqual({ name: 'Demo Company' });
    expect((await fetch(first.mailbox)).status).toBe(200);

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    for (const port of Object.values(ports)) expect(await isListening(Number(port))).toBe(false);
    await expect(stat(join(dataDir, 'postgres', 'postmaster.pid'))).rejects.toThrow();

    const second = await start(env);
    expect(second.header).toBe(first.header);
    expect(ok(await graphqlClient(second.url, authorization)('{ viewer { name } }')).viewer).toEqual({ name: 'Demo Company' });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 180_000);
});

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
