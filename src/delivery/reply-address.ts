import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { isUuid } from '../core/ids.js';

/*
 * Per-email reply addresses, `r-<token>@<INBOUND_DOMAIN>`: SES receives the reply, and the token names the email.
 * The token must reveal nothing (the address is shown to the lead and to every server the reply passes) and must
 * survive mail systems that lower-case local parts, so it is base32 in lower case, not base64:
 *   token = base32(AES-256(email id) ‖ first 5 bytes of HMAC-SHA256(AES-256(email id)))
 * one AES block (a keyed permutation of the 16-byte id: without the key it is 16 random-looking bytes, and it
 * never needs a nonce since every id is distinct) and a 40-bit MAC, so a forged or altered token is refused
 * before any database lookup. 34 characters; both keys derive from TRACKING_SECRET with HKDF (other `info` than the
 * tracking tokens'), so rotating that secret also invalidates reply addresses (replies then match by their
 * In-Reply-To header only). Deterministic: an email keeps its address across retries.
 */

const PREFIX = 'r-';
const MAC_BYTES = 5;
const TOKEN_CHARS = 34; // ceil((16 + 5) * 8 / 5)
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_SHAPE = new RegExp(`^[${ALPHABET}]{${TOKEN_CHARS}}$`);

interface Keys {
  cipher: Buffer;
  mac: Buffer;
}

// Derived once per secret (a process has one; tests a few).
const derived = new Map<string, Keys>();

function keysOf(secret: string): Keys {
  let keys = derived.get(secret);
  if (!keys) {
    keys = {
      cipher: Buffer.from(hkdfSync('sha256', secret, '', 'lead-nurture reply address v1 (AES-256)', 32)),
      mac: Buffer.from(hkdfSync('sha256', secret, '', 'lead-nurture reply address v1 (HMAC-SHA256)', 32)),
    };
    if (derived.size >= 16) derived.delete(derived.keys().next().value!);
    derived.set(secret, keys);
  }
  return keys;
}

function macOf(keys: Keys, sealed: Buffer): Buffer {
  return createHmac('sha256', keys.mac).update(sealed).digest().subarray(0, MAC_BYTES);
}

/** The reply token of an email. Throws on an id that is not a UUID (a bug, not input). */
export function replyToken(secret: string, emailId: string): string {
  if (!isUuid(emailId)) throw new Error('a reply token names an email by its UUID');
  const keys = keysOf(secret);
  const cipher = createCipheriv('aes-256-ecb', keys.cipher, null).setAutoPadding(false);
  const sealed = Buffer.concat([cipher.update(Buffer.from(emailId.replace(/-/g, ''), 'hex')), cipher.final()]);
  return base32(Buffer.concat([sealed, macOf(keys, sealed)]));
}

/** The email id of a genuine token (any letter case), or null for anything else. */
export function readReplyToken(secret: string, token: string): string | null {
  const lower = token.toLowerCase();
  if (!TOKEN_SHAPE.test(lower)) return null;
  const bytes = unbase32(lower);
  const sealed = bytes.subarray(0, 16);
  const keys = keysOf(secret);
  if (!timingSafeEqual(bytes.subarray(16, 16 + MAC_BYTES), macOf(keys, sealed))) return null;
  const decipher = createDecipheriv('aes-256-ecb', keys.cipher, null).setAutoPadding(false);
  const hex = Buffer.concat([decipher.update(sealed), decipher.final()]).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The Reply-To address of an email on the inbound domain. */
export function replyAddress(secret: string, domain: string, emailId: string): string {
  return `${PREFIX}${replyToken(secret, emailId)}@${domain}`;
}

/**
 * The token of an address on the inbound domain (`r-<token>@domain`, any case; a `+tag` some clients add is
 * dropped), or null: another domain, another shape. Says nothing yet about whether the token is genuine.
 */
export function tokenOfAddress(address: string, domain: string): string | null {
  const at = address.lastIndexOf('@');
  if (at < 0 || address.slice(at + 1).toLowerCase() !== domain.toLowerCase()) return null;
  const local = address.slice(0, at).toLowerCase().split('+')[0]!;
  return local.startsWith(PREFIX) ? local.slice(PREFIX.length) : null;
}

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Buffer {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of text) {
    value = (value << 5) | ALPHABET.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  return Buffer.from(bytes);
}
