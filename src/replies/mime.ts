import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';

/*
 * The received MIME message, parsed with mailparser and reduced to what classification, matching and forwarding
 * need. Hostile input is bounded before the parser sees it: the size (checked on the notification), the number of
 * parts and their nesting (a MIME bomb is thousands of nested multiparts), and the parse's time.
 */

export interface ParsedReply {
  /** The sender (From), lower-cased address. */
  from: { address: string; name: string } | null;
  subject: string;
  /** Message-IDs this message answers: In-Reply-To first, then References (newest first), each without brackets. */
  threadIds: string[];
  /** Header name (lower case) → its first value, unfolded, as written. */
  headers: Map<string, string>;
  /** The top-level Content-Type, lower case, and its `report-type` parameter. */
  contentType: string;
  reportType: string | null;
  /** The text part, when there is one; else null (html then carries the message). */
  text: string | null;
  html: string | null;
  /** A DSN's machine-readable parts: the `message/delivery-status` body and the returned message's headers. */
  deliveryStatus: string | null;
  returnedHeaders: string | null;
}

export type MimeRead = { ok: true; reply: ParsedReply } | { ok: false; reason: 'too-complex' | 'unparsable' };

const MAX_PARTS = 100;
const MAX_NESTED_MESSAGES = 5;
const PARSE_TIMEOUT_MS = 2_000;
const MAX_THREAD_IDS = 20;

/** Parses a received message; never throws. */
export async function parseReply(raw: Buffer): Promise<MimeRead> {
  // Counted on the raw bytes (latin1 keeps one character per byte): cheap, and before any part is built.
  const text = raw.toString('latin1');
  if (count(text, /^content-type:/gim) > MAX_PARTS || count(text, /message\/rfc822/gi) > MAX_NESTED_MESSAGES) return { ok: false, reason: 'too-complex' };
  let parsed: ParsedMail;
  let timer: NodeJS.Timeout | undefined;
  try {
    parsed = await Promise.race([
      simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true, maxHtmlLengthToParse: 1_000_000 }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('parse timed out')), PARSE_TIMEOUT_MS);
      }),
    ]);
  } catch {
    return { ok: false, reason: 'unparsable' };
  } finally {
    clearTimeout(timer);
  }
  const headers = new Map<string, string>();
  for (const { key, line } of parsed.headerLines ?? []) {
    if (!headers.has(key))
      headers.set(
        key,
        line
          .slice(line.indexOf(':') + 1)
          .replace(/\r?\n[ \t]+/g, ' ')
          .trim(),
      );
  }
  const contentType = parsed.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  const attachment = (type: string) => parsed.attachments.find((a) => a.contentType.toLowerCase() === type)?.content.toString('utf8') ?? null;
  return {
    ok: true,
    reply: {
      from: firstAddress(parsed.from),
      subject: clean(parsed.subject ?? '').slice(0, 998),
      threadIds: threadIds(parsed),
      headers,
      contentType: (contentType?.value ?? 'text/plain').toLowerCase(),
      reportType: contentType?.params?.['report-type']?.toLowerCase() ?? null,
      text: typeof parsed.text === 'string' ? clean(parsed.text) : null,
      html: typeof parsed.html === 'string' ? clean(parsed.html) : null,
      deliveryStatus: attachment('message/delivery-status') ?? attachment('message/global-delivery-status'),
      returnedHeaders: attachment('text/rfc822-headers') ?? attachment('message/rfc822'),
    },
  };
}

/** Text PostgreSQL and JSON can hold: no NUL or other control characters (tabs and newlines stay), no lone surrogates. */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  return text.toWellFormed().replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
}

function firstAddress(value: AddressObject | undefined): ParsedReply['from'] {
  const first = value?.value[0];
  if (!first?.address || first.address.length > 320) return null;
  return { address: first.address.toLowerCase(), name: clean(first.name ?? '').slice(0, 200) };
}

function threadIds(parsed: ParsedMail): string[] {
  const references = Array.isArray(parsed.references) ? parsed.references : parsed.references ? [parsed.references] : [];
  const ids = [parsed.inReplyTo ?? '', ...references.toReversed()]
    .flatMap((value) => value.split(/\s+/))
    .map((id) => id.trim().replace(/^<|>$/g, ''))
    .filter((id) => id.length > 0 && id.length <= 250);
  return [...new Set(ids)].slice(0, MAX_THREAD_IDS);
}

function count(text: string, pattern: RegExp): number {
  let n = 0;
  for (const _ of text.matchAll(pattern)) if (++n > MAX_PARTS) break;
  return n;
}
