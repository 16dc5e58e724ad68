import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/core/ids.js';
import { instrumentHtml } from '../src/tracking/links.js';
import { signToken, tokenVerifier, verifyToken, type TokenPayload } from '../src/tracking/tokens.js';
import { revealsId } from './helpers/ses.js';

const SECRET = 'test-secret-0123456789abcdef0123456789';
const OTHER_SECRET = 'another-secret-0123456789abcdef012345';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A token as emails sent before issue 15 carry it: base64url("<kind>.<emailId>[.<link>]").<HMAC-SHA256, 128 bits>. */
function legacyToken(secret: string, payload: TokenPayload): string {
  const body = `${payload.kind[0]}.${payload.emailId}${payload.link === undefined ? '' : `.${payload.link}`}`;
  const mac = createHmac('sha256', secret).update(body).digest().subarray(0, 16).toString('base64url');
  return `${Buffer.from(body).toString('base64url')}.${mac}`;
}

const payloads = (emailId: string): TokenPayload[] => [
  { emailId, kind: 'open' },
  { emailId, kind: 'unsubscribe' },
  { emailId, kind: 'click', link: 0 },
  { emailId, kind: 'click', link: 7 },
  { emailId, kind: 'click', link: 65_536 },
];

describe('tracking tokens (issue 15: they reveal no internal id)', () => {
  it('round-trip every kind, and never show the email id in any decoding', () => {
    for (let i = 0; i < 200; i++) {
      const emailId = uuidv7();
      for (const payload of payloads(emailId)) {
        const token = signToken(SECRET, payload);
        expect(verifyToken(SECRET, token)).toEqual(payload);
        expect(revealsId(token, emailId), token).toBe(false);
        expect(token).toMatch(/^[\w-]+$/); // a URL path segment as it is, no dots
        expect(token.length).toBeLessThanOrEqual(100); // well under the 200 characters verifyToken accepts
      }
    }
  });

  it('the same payload signed twice gives two different tokens (a random nonce): equal tokens say nothing', () => {
    const emailId = uuidv7();
    const [a, b] = [signToken(SECRET, { emailId, kind: 'open' }), signToken(SECRET, { emailId, kind: 'open' })];
    expect(a).not.toBe(b);
    expect(verifyToken(SECRET, a)).toEqual(verifyToken(SECRET, b));
    // Nor does the length tell the kind.
    expect(new Set(payloads(emailId).map((p) => signToken(SECRET, p).length)).size).toBe(1);
  });

  it('a tampered, truncated, extended or foreign token verifies as nothing', () => {
    const emailId = uuidv7();
    for (const payload of payloads(emailId)) {
      const token = signToken(SECRET, payload);
      for (let at = 0; at < token.length; at++) {
        for (const replacement of [BASE64URL[(BASE64URL.indexOf(token[at]!) + 1) % 64]!, BASE64URL[(BASE64URL.indexOf(token[at]!) + 32) % 64]!]) {
          const tampered = token.slice(0, at) + replacement + token.slice(at + 1);
          expect(verifyToken(SECRET, tampered), tampered).toBeNull();
        }
      }
      expect(verifyToken(SECRET, token.slice(0, -1))).toBeNull();
      expect(verifyToken(SECRET, token.slice(1))).toBeNull();
      expect(verifyToken(SECRET, `${token}A`)).toBeNull();
      expect(verifyToken(SECRET, `${token}.`)).toBeNull();
      expect(verifyToken(SECRET, `${token}=`)).toBeNull();
      expect(verifyToken(SECRET, `${token.slice(0, 10)}!${token.slice(11)}`)).toBeNull();
      expect(verifyToken(OTHER_SECRET, token)).toBeNull();
    }
    for (const garbage of ['', 'garbage', 'A'.repeat(64), '.', '..', 'a.b.c', 'x'.repeat(201), '\u0000'.repeat(64)]) {
      expect(verifyToken(SECRET, garbage), garbage).toBeNull();
    }
  });

  it('legacy tokens (emails sent before the change) still verify; altered or foreign ones do not', () => {
    const emailId = uuidv7();
    for (const payload of payloads(emailId)) {
      const token = legacyToken(SECRET, payload);
      expect(revealsId(token, emailId)).toBe(true); // what issue 15 is about: only emails already sent carry these
      expect(verifyToken(SECRET, token)).toEqual(payload);
      expect(tokenVerifier(SECRET)(token)).toEqual(payload);
      expect(verifyToken(OTHER_SECRET, token)).toBeNull();
      const [body, mac] = token.split('.') as [string, string];
      expect(verifyToken(SECRET, `${Buffer.from(`c.${emailId}.99`).toString('base64url')}.${mac}`)).toBeNull();
      expect(verifyToken(SECRET, `${body}.${mac}x`)).toBeNull();
      expect(verifyToken(SECRET, `${body}.${mac}.${mac}`)).toBeNull();
    }
    // A legacy-shaped token signed with the right secret but carrying something that is not an email id.
    expect(verifyToken(SECRET, legacyToken(SECRET, { emailId: 'not-a-uuid', kind: 'open' }))).toBeNull();
  });

  it('a verifier that remembers genuine tokens answers exactly as a full check, for both formats', () => {
    const verify = tokenVerifier(SECRET, 2);
    const emailId = uuidv7();
    const tokens = [
      signToken(SECRET, { emailId, kind: 'open' }),
      signToken(SECRET, { emailId, kind: 'click', link: 1 }),
      legacyToken(SECRET, { emailId, kind: 'unsubscribe' }),
    ];
    for (let round = 0; round < 3; round++) {
      for (const token of tokens) expect(verify(token)).toEqual(verifyToken(SECRET, token));
      expect(verify(`${tokens[0]!.slice(0, -1)}${tokens[0]!.endsWith('A') ? 'B' : 'A'}`)).toBeNull();
    }
  });

  it('an instrumented email carries no email id in its links or pixel', () => {
    const emailId = uuidv7();
    const html = `<body><a href="https://example.com/a">A</a><a href="https://example.com/b">B</a></body>`;
    const result = instrumentHtml(html, { emailId, publicUrl: 'https://mail.test', secret: SECRET, unsubscribeUrl: 'https://mail.test/u/x' });
    expect(result.html).not.toContain(emailId);
    const tokens = [...result.html.matchAll(/https:\/\/mail\.test\/t\/[oc]\/([\w-]+)/g)].map((m) => m[1]!);
    expect(tokens).toHaveLength(3);
    for (const token of tokens) expect(revealsId(token, emailId)).toBe(false);
    expect(tokens.map((token) => verifyToken(SECRET, token))).toEqual([
      { emailId, kind: 'click', link: 0 },
      { emailId, kind: 'click', link: 1 },
      { emailId, kind: 'open' },
    ]);
  });
});
