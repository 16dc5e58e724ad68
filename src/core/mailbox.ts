import { domainToASCII } from 'node:url';

/*
 * Addresses as Amazon SES takes them. SES has no SMTPUTF8: a display name beyond ASCII must be RFC 2047
 * encoded-words, an internationalized domain must be punycode, and a local part (before the @) must be ASCII,
 * since nothing can encode it. SES refuses the whole SendEmail otherwise, so every email of a company named
 * "Müller GmbH" would fail. These functions are pure: input validation and the message builder share them.
 */

// RFC 5322 atext: what a local part (dot-atom) and an unquoted display name (atoms) may hold.
const ATEXT = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~";
const DOT_ATOM = new RegExp(`^[${ATEXT}]+(\\.[${ATEXT}]+)*$`);
const ATOMS = new RegExp(`^[${ATEXT}]+( [${ATEXT}]+)*$`);
/** One label of a domain in punycode: letters, digits and hyphens, not at either end. */
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
// eslint-disable-next-line no-control-regex -- names may hold control characters, which become spaces
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;
// eslint-disable-next-line no-control-regex -- the ASCII range, NUL included
const NON_ASCII = /[^\u0000-\u007f]/;
/** An encoded-word is at most 75 characters (RFC 2047 §2): `=?UTF-8?B?` and `?=` leave 63, so 45 bytes of base64. */
const MAX_WORD_BYTES = 45;

/** Why SES cannot send to (or from) `address`, or undefined when it can. `address` is already trimmed. */
export function sesAddressProblem(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at < 1 || at === address.length - 1) return 'is not a valid email address';
  const local = address.slice(0, at);
  if (NON_ASCII.test(local)) return 'has non-ASCII characters before the @, which Amazon SES cannot send (it has no SMTPUTF8)';
  if (!DOT_ATOM.test(local)) return "is not a valid email address (before the @: letters, digits, dots and !#$%&'*+-/=?^_`{|}~ only)";
  const domain = domainToASCII(address.slice(at + 1));
  // domainToASCII lets `,;()"'!*=`, empty labels and a trailing dot through: SES would refuse each of them.
  if (domain.length > 253 || !domain.includes('.') || !domain.split('.').every((label) => DOMAIN_LABEL.test(label))) {
    return 'has a domain that is not a valid (internationalized) domain name';
  }
  return undefined;
}

/** `address` as SES takes it: the local part as is, the domain in punycode (`info@bücher.example` → `info@xn--bcher-kva.example`). */
export function sesAddress(address: string): string {
  const trimmed = address.trim();
  const problem = sesAddressProblem(trimmed);
  if (problem) throw new Error(`The address ${JSON.stringify(trimmed.slice(0, 320))} ${problem}`);
  const at = trimmed.lastIndexOf('@');
  return `${trimmed.slice(0, at)}@${domainToASCII(trimmed.slice(at + 1))}`;
}

/** A mailbox for a From, To or Reply-To: `Display Name <address>`, or the bare address without a name. */
export function sesMailbox(name: string | null | undefined, address: string): string {
  const display = name ? displayName(name) : '';
  return display ? `${display} <${sesAddress(address)}>` : sesAddress(address);
}

/**
 * A display name as RFC 5322 and 2047 want it: atoms as they are, other ASCII as a quoted-string (quotes and
 * backslashes escaped), anything beyond ASCII as UTF-8 base64 encoded-words. Line breaks and other controls
 * become spaces: a header value must never break its line.
 */
export function displayName(name: string): string {
  const clean = name.toWellFormed().replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  if (clean === '') return '';
  if (NON_ASCII.test(clean)) return encodedWords(clean);
  // Atoms as they are, unless they look like an encoded-word: mail clients would decode `=?…?=` outside quotes.
  if (ATOMS.test(clean) && !clean.includes('=?')) return clean;
  return `"${clean.replace(/(["\\])/g, '\\$1')}"`;
}

/** `text` as UTF-8 "B" encoded-words of at most 75 characters each, split between characters, never inside one. */
function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const char of text) {
    if (Buffer.byteLength(chunk + char) > MAX_WORD_BYTES) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join(' ');
}
