import { createHmac, timingSafeEqual } from 'node:crypto';
import { isUuid } from '../core/ids.js';

/**
 * Signed tokens in tracking and unsubscribe URLs: which email, what kind of link, which link of the email.
 * HMAC-SHA256 (truncated to 128 bits) over the payload: a forged or altered token verifies as nothing.
 */
export type TokenKind = 'open' | 'click' | 'unsubscribe';

export interface TokenPayload {
  emailId: string;
  kind: TokenKind;
  /** Index of the link in the email, for clicks. */
  link?: number;
}

const KIND_CODES: Record<TokenKind, string> = { open: 'o', click: 'c', unsubscribe: 'u' };
const KINDS = Object.fromEntries(Object.entries(KIND_CODES).map(([kind, code]) => [code, kind])) as Record<string, TokenKind>;

export function signToken(secret: string, payload: TokenPayload): string {
  const body = `${KIND_CODES[payload.kind]}.${payload.emailId}${payload.link === undefined ? '' : `.${payload.link}`}`;
  return `${Buffer.from(body).toString('base64url')}.${mac(secret, body)}`;
}

/** The payload of a genuine token, or null for anything else. */
export function verifyToken(secret: string, token: string): TokenPayload | null {
  if (token.length > 200) return null;
  const [encoded, signature, extra] = token.split('.');
  if (!encoded || !signature || extra !== undefined) return null;
  const body = Buffer.from(encoded, 'base64url').toString('utf8');
  const expected = Buffer.from(mac(secret, body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;

  const [code, emailId, link] = body.split('.');
  const kind = KINDS[code ?? ''];
  if (!kind || !emailId || !isUuid(emailId)) return null;
  if (link === undefined) return { emailId, kind };
  const index = Number(link);
  return Number.isInteger(index) && index >= 0 ? { emailId, kind, link: index } : null;
}

/**
 * `verifyToken` for one secret, remembering the last `capacity` genuine tokens: a repeat open of the same email
 * (people reopen mail; clients reload images) skips the HMAC. Only tokens that verified are remembered, so forged
 * ones always pay the full check and cannot push genuine ones out.
 */
export function tokenVerifier(secret: string, capacity = 20_000): (token: string) => TokenPayload | null {
  const genuine = new Map<string, TokenPayload>();
  return (token) => {
    const known = genuine.get(token);
    if (known) return known;
    const payload = verifyToken(secret, token);
    if (payload) {
      if (genuine.size >= capacity) genuine.delete(genuine.keys().next().value!);
      genuine.set(token, Object.freeze(payload));
    }
    return payload;
  };
}

function mac(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest().subarray(0, 16).toString('base64url');
}
