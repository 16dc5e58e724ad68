import type { Logger } from 'pino';
import { startSesEmulator } from '../../src/app/dev/ses-emulator.js';
import { Dispatcher } from '../../src/delivery/dispatcher.js';
import { EMAIL_ID_HEADER } from '../../src/delivery/message.js';
import { createSesProvider } from '../../src/delivery/ses-provider.js';
import type { TestApp } from './app.js';

export interface StoredEmail {
  messageId: string;
  from: string;
  replyTo: string[];
  destination: { to: string[] };
  subject: string;
  body: { html?: string; text?: string };
  headers?: { name: string; value: string }[];
  at: number;
}

export interface SesMailbox {
  /** Endpoint for the SES v2 client (SES_ENDPOINT). */
  url: string;
  emails(): Promise<StoredEmail[]>;
  /** How many times each email id (X-LN-Email-Id header) was handed to SES. */
  countsByEmailId(): Promise<Map<string, number>>;
  clear(): Promise<void>;
  dispose(): Promise<void>;
}

/** The real aws-ses-v2-local emulator on a free port, with its mailbox read over HTTP like a person would. */
export async function startMailbox(): Promise<SesMailbox> {
  const emulator = await startSesEmulator(0);
  const emails = async () => ((await (await fetch(`${emulator.url}/store`)).json()) as { emails: StoredEmail[] }).emails;
  return {
    url: emulator.url,
    emails,
    async countsByEmailId() {
      const counts = new Map<string, number>();
      for (const email of await emails()) {
        const id = headerOf(email, EMAIL_ID_HEADER);
        if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    },
    async clear() {
      await fetch(`${emulator.url}/clear-store`, { method: 'POST' });
    },
    dispose: () => emulator.dispose(),
  };
}

/**
 * A dispatcher handing the app's due emails to `mailbox` through the real SES client. Tests run it by hand
 * (`dispatchDue()`): the test app starts with RUN_JOBS off, so nothing else sends.
 */
export function sesDispatcher(t: TestApp, mailbox: SesMailbox, workerId: string, logger: Logger = t.app.logger): Dispatcher {
  return new Dispatcher({ orm: t.app.orm, clock: t.clock, provider: createSesProvider(t.app.config, mailbox.url), config: t.app.config, logger, workerId });
}

export function headerOf(email: StoredEmail, name: string): string | undefined {
  return email.headers?.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
}

/** Polls until `check` returns a value (or true), failing with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Whether a token shows a UUID in any decoding an attacker would try: the token's text, and each of its
 * `.`-separated parts (and the whole) decoded as base64url at every alignment, looked at as bytes (the UUID's 16
 * bytes), as text (the UUID with or without dashes) and as hex.
 */
export function revealsId(token: string, id: string): boolean {
  const hex = id.replace(/-/g, '').toLowerCase();
  const raw = Buffer.from(hex, 'hex');
  const shows = (text: string) => text.toLowerCase().includes(id.toLowerCase()) || text.toLowerCase().replace(/-/g, '').includes(hex);
  if (shows(token)) return true;
  for (const part of new Set([token, ...token.split('.')])) {
    for (let offset = 0; offset < 4; offset++) {
      const decoded = Buffer.from(part.slice(offset), 'base64url');
      if (decoded.includes(raw) || shows(decoded.toString('latin1')) || shows(decoded.toString('utf8')) || shows(decoded.toString('hex'))) return true;
    }
  }
  return false;
}

/** The tracking and unsubscribe tokens in a sent email: the pixel's, every click link's, the unsubscribe link's and the List-Unsubscribe header's. */
export function tokensOf(email: StoredEmail): string[] {
  const text = `${email.body.html ?? ''}\n${email.body.text ?? ''}\n${headerOf(email, 'List-Unsubscribe') ?? ''}`;
  return [...new Set([...text.matchAll(/\/(?:t\/o|t\/c|u)\/([^"'<>\s?.]+(?:\.[^"'<>\s?.]+)?)/g)].map((m) => m[1]!.replace(/\.gif$/, '')))];
}
