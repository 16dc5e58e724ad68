import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';

/*
 * By default (LOG_SYNC off) the lines of an event-loop turn are written at its end (src/core/logger.ts, LineBatch): a
 * process that ends in the same turn as it logged must still leave every line, in order, whether it exits by
 * `process.exit` (main.ts does on SIGINT and SIGTERM) or dies of an uncaught exception.
 */
const LINES = 5_000;

async function run(how: string, sync = false): Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/log-exit-child.ts', how, String(LINES), sync ? 'sync' : 'async'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
  const lines = out.split('\n').filter((line) => line.includes('"msg":"line"'));
  lines.forEach((line, i) => expect(JSON.parse(line)).toMatchObject({ i }));
  return { code, signal, lines: lines.length };
}

it('every line logged before process.exit is written', async () => {
  expect(await run('exit')).toEqual({ code: 3, signal: null, lines: LINES });
});

it('every line logged before an uncaught exception is written', async () => {
  expect(await run('throw')).toEqual({ code: 1, signal: null, lines: LINES });
});

it('with LOG_SYNC on, even a hard kill (SIGKILL, the OOM killer) loses no line', async () => {
  expect(await run('kill', true)).toEqual({ code: null, signal: 'SIGKILL', lines: LINES });
});
