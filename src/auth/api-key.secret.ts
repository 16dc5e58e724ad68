import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API key secrets: `lnk_` + 256 random bits. With that much entropy a plain SHA-256 is the right hash (no
 * salt or slow KDF needed), and it lets authentication be one indexed lookup.
 */
const PREFIX = 'lnk_';
const SECRET_SHAPE = /^lnk_[A-Za-z0-9_-]{43}$/;

export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return digestOf(secret).toString('hex');
}

/** SHA-256 of a presented credential: `hashSecret` is its hex, and `sameDigest` compares it. */
export function digestOf(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function looksLikeApiKey(token: string): boolean {
  return SECRET_SHAPE.test(token);
}

/** Characters shown to identify a key in listings; 8 random characters reveal nothing useful. */
export function displayPrefix(secret: string): string {
  return secret.slice(0, PREFIX.length + 8);
}

/**
 * Constant-time comparison of two digests (`digestOf`): for the operator token, whose digest is computed once, against
 * the digest of what a request presents, which is also its API key hash (one SHA-256 per request).
 */
export function sameDigest(given: Buffer, expected: Buffer): boolean {
  return timingSafeEqual(given, expected);
}
