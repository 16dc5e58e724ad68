import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomFillSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { isUuid } from '../core/ids.js';

/**
 * Tokens in tracking and unsubscribe URLs: which email, what kind of link, which link of the email. They reach
 * every recipient and every mail scanner, so they must not give away anything internal (an email id is enough
 * to name an email in an SES event): the payload is encrypted and authenticated with AES-256-GCM under a key
 * derived from TRACKING_SECRET (HKDF-SHA256), with a random nonce. Token = base64url(nonce ‖ ciphertext ‖ tag),
 * 64 characters for every kind; a forged or altered one verifies as nothing.
 *
 * Emails sent before that carry the legacy format, `base64url("<kind>.<emailId>[.<link>]").<HMAC>`, which shows
 * the email id in clear. It is still verified, so their links and unsubscribe buttons keep working; nothing
 * signs it any more.
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
const KIND_BYTES: Record<TokenKind, number> = { open: 1, click: 2, unsubscribe: 3 };
const BYTE_KINDS: Record<number, TokenKind> = { 1: 'open', 2: 'click', 3: 'unsubscribe' };

// Plaintext: kind (1 byte) ‖ email id (16) ‖ link index (3, NO_LINK when none): the same size for every kind.
// 12 + 20 + 16 = 48 bytes, exactly 64 base64url characters (no padding bits, so one token has one spelling).
const NONCE_BYTES = 12;
const PLAIN_BYTES = 20;
const TAG_BYTES = 16;
const NO_LINK = 0xff_ffff;
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{64}$/;
const KEY_INFO = 'lead-nurture tracking token v2 (AES-256-GCM)';

/** A new token for the payload. Throws on an email id that is not a UUID or a link index out of range (a bug, not input). */
export function signToken(secret: string, payload: TokenPayload): string {
  if (!isUuid(payload.emailId)) throw new Error('a token names an email by its UUID');
  const link = payload.link ?? NO_LINK;
  if (!Number.isInteger(link) || link < 0 || link > NO_LINK || (payload.link !== undefined && link === NO_LINK)) throw new Error('link index out of range');
  const plain = Buffer.alloc(PLAIN_BYTES);
  plain[0] = KIND_BYTES[payload.kind];
  plain.write(payload.emailId.replace(/-/g, ''), 1, 16, 'hex');
  plain.writeUIntBE(link, 17, 3);
  const nonce = randomNonce();
  const cipher = createCipheriv('aes-256-gcm', keyOf(secret), nonce);
  return Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]).toString('base64url');
}

/** The payload of a genuine token (either format), or null for anything else. */
export function verifyToken(secret: string, token: string): TokenPayload | null {
  if (token.length > 200) return null;
  if (token.includes('.')) return verifyLegacyToken(secret, token);
  if (!TOKEN_SHAPE.test(token)) return null;
  const sealed = Buffer.from(token, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', keyOf(secret), sealed.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(NONCE_BYTES + PLAIN_BYTES));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, NONCE_BYTES + PLAIN_BYTES)), decipher.final()]);
  } catch {
    return null; // the tag does not match: forged, altered or another secret's
  }
  const kind = BYTE_KINDS[plain[0]!];
  if (!kind) return null;
  const hex = plain.toString('hex', 1, 17);
  const emailId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  const link = plain.readUIntBE(17, 3);
  return link === NO_LINK ? { emailId, kind } : { emailId, kind, link };
}

/**
 * `verifyToken` for one secret, remembering the last `capacity` genuine tokens: a repeat open of the same email
 * (people reopen mail; clients reload images) skips the decryption. Only tokens that verified are remembered, so
 * forged ones always pay the full check and cannot push genuine ones out.
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

/** The legacy HMAC format of emails sent before tokens were encrypted (it carries the email id in clear). */
function verifyLegacyToken(secret: string, token: string): TokenPayload | null {
  const [encoded, signature, extra] = token.split('.');
  if (!encoded || !signature || extra !== undefined) return null;
  const body = Buffer.from(encoded, 'base64url').toString('utf8');
  const expected = Buffer.from(legacyMac(secret, body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;

  const [code, emailId, link] = body.split('.');
  const kind = KINDS[code ?? ''];
  if (!kind || !emailId || !isUuid(emailId)) return null;
  if (link === undefined) return { emailId, kind };
  const index = Number(link);
  return Number.isInteger(index) && index >= 0 ? { emailId, kind, link: index } : null;
}

function legacyMac(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest().subarray(0, 16).toString('base64url');
}

// Derived once per secret (a process has one; tests a few): HKDF on every token would cost more than the cipher.
const keys = new Map<string, KeyObject>();

function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(hkdfSync('sha256', secret, '', KEY_INFO, 32)));
    if (keys.size >= 16) keys.delete(keys.keys().next().value!);
    keys.set(secret, key);
  }
  return key;
}

// Nonces drawn in bulk: one call into the random generator per 256 tokens (an email signs one per link).
const noncePool = Buffer.alloc(NONCE_BYTES * 256);
let nonceOffset = noncePool.length;

function randomNonce(): Buffer {
  if (nonceOffset + NONCE_BYTES > noncePool.length) {
    randomFillSync(noncePool);
    nonceOffset = 0;
  }
  nonceOffset += NONCE_BYTES;
  return Buffer.from(noncePool.subarray(nonceOffset - NONCE_BYTES, nonceOffset)); // a copy: never handed out twice
}
