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
  it('development runs on embedded defaults with nothing set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ env: 'development', port: 4000, databaseUrl: undefined, sandbox: true, migrateOnBoot: true });
    expect(config.ses.endpoint).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
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
    const problems = problemsOf({ PORT: 'eighty', DATABASE_URL: 'mysql://x', SANDBOX: 'maybe', NODE_ENV: 'staging' });
    expect(problems).toHaveLength(4);
    for (const name of ['PORT', 'DATABASE_URL', 'SANDBOX', 'NODE_ENV']) expect(problems.join('\n')).toContain(name);
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
