import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/core/config.js';

const SECRET = 'a'.repeat(40);
const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://app:pw@db.internal:5432/app',
  PUBLIC_URL: 'https://mail.example.com',
  SES_FROM_ADDRESS: 'hello@example.com',
  TRACKING_SECRET: SECRET,
  OPERATOR_TOKEN: 'b'.repeat(40),
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('development runs on embedded defaults with only NODE_ENV=development set', () => {
    const config = loadConfig({ NODE_ENV: 'development' });
    expect(config).toMatchObject({ env: 'development', port: 4000, databaseUrl: undefined, sandbox: true, migrateOnBoot: true });
    expect(config.ses.endpoint).toBeUndefined();
    expect(config.operatorToken.reveal()).toBe('dev-operator-token');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('test, like development, is an explicit choice of the development defaults', () => {
    const config = loadConfig({ NODE_ENV: 'test' });
    expect(config).toMatchObject({ env: 'test', databaseUrl: undefined, sandbox: true });
    expect(config.trackingSecret.reveal()).toBeTruthy();
  });

  it('without NODE_ENV the process follows production rules: no secrets, no start (it fails closed, not open)', () => {
    const problems = problemsOf({});
    for (const name of ['OPERATOR_TOKEN', 'TRACKING_SECRET', 'DATABASE_URL', 'PUBLIC_URL', 'SES_FROM_ADDRESS']) {
      expect(problems.some((p) => p.startsWith(name))).toBe(true);
    }
    expect(problems.at(-1)).toMatch(/NODE_ENV is not set.*NODE_ENV=development/);
    // A blank value is no choice either; the development token is refused even when set by hand.
    expect(problemsOf({ NODE_ENV: '  ', OPERATOR_TOKEN: 'dev-operator-token' }).join('\n')).toContain('OPERATOR_TOKEN');
  });

  it('the server started without NODE_ENV and without secrets exits 1 naming them, before starting anything', async () => {
    const dataDir = join(tmpdir(), `lead-nurture-no-env-${process.pid}`);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_ENV' && !(name in PRODUCTION)));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...env, DATA_DIR: dataDir, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    for (const name of ['OPERATOR_TOKEN', 'TRACKING_SECRET', 'DATABASE_URL', 'NODE_ENV is not set']) expect(output).toContain(name);
    expect(output).not.toContain('Demo company');
    expect(existsSync(dataDir)).toBe(false); // no embedded database was started
  }, 60_000);

  it('without NODE_ENV a complete environment runs as production: no demo defaults, Sandbox off', () => {
    const env: Record<string, string> = { ...PRODUCTION };
    delete env.NODE_ENV;
    const config = loadConfig(env);
    expect(config).toMatchObject({ env: 'production', sandbox: false, host: '0.0.0.0' });
    expect(config.operatorToken.reveal()).toBe(PRODUCTION.OPERATOR_TOKEN);
  });

  it('a complete production environment is accepted, with Sandbox off', () => {
    const config = loadConfig(PRODUCTION);
    expect(config.env).toBe('production');
    expect(config.sandbox).toBe(false);
    expect(config.publicUrl).toBe('https://mail.example.com');
  });

  it.each(['DATABASE_URL', 'PUBLIC_URL', 'SES_FROM_ADDRESS', 'TRACKING_SECRET', 'OPERATOR_TOKEN'])(
    'production refuses to start without %s, naming it',
    (name) => {
      const env: Record<string, string> = { ...PRODUCTION };
      delete env[name];
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(name);
    },
  );

  it('production rejects short secrets and the development defaults', () => {
    expect(problemsOf({ ...PRODUCTION, TRACKING_SECRET: 'short' })).toEqual([expect.stringContaining('TRACKING_SECRET must be at least 32')]);
    expect(problemsOf({ ...PRODUCTION, OPERATOR_TOKEN: 'dev-operator-token' })[0]).toContain('OPERATOR_TOKEN');
  });

  it('every malformed value is reported at once', () => {
    // An unknown NODE_ENV is refused, and meanwhile production's rules apply (its requirements are met here).
    const problems = problemsOf({ ...PRODUCTION, PORT: 'eighty', DATABASE_URL: 'mysql://x', SANDBOX: 'maybe', LOG_SYNC: 'always', NODE_ENV: 'staging' });
    expect(problems).toHaveLength(5);
    for (const name of ['PORT', 'DATABASE_URL', 'SANDBOX', 'LOG_SYNC', 'NODE_ENV']) expect(problems.join('\n')).toContain(name);
  });

  it('secrets never print, whether logged, stringified or interpolated', () => {
    const config = loadConfig(PRODUCTION);
    expect(JSON.stringify(config)).not.toContain(SECRET);
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- interpolating a Secret is what is under test
    expect(`${config.trackingSecret}`).toBe('[secret]');
    expect(inspect(config, { depth: 5 })).not.toContain(SECRET);
    expect(config.trackingSecret.reveal()).toBe(SECRET);
  });
});
