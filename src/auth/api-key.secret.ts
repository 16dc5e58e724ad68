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
  return createHash('sha256').update(secret).digest('hex');
}

export function looksLikeApiKey(token: string): boolean {
  return SECRET_SHAPE.test(token);
}

/** Characters shown to identify a key in listings; 8 random characters reveal nothing useful. */
export function displayPrefix(secret: string): string {
  return secret.slice(0, PREFIX.length + 8);
}

/** Constant-time comparison for the operator token. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
