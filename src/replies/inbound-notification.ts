import { InboundIgnoreReason } from './outcome.js';

/**
 * The SES "Received" notification an SNS action publishes (receipt rule → SNS topic, "raw message content"):
 * https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html
 * Only what replies need is read; everything else in it is ignored.
 */
export interface InboundMail {
  /** SES's id of the received message: the same on every SNS retry, so it keys the dedupe. */
  sesMessageId: string;
  /** The envelope recipients SES accepted the message for (our reply addresses), whatever its headers say. */
  recipients: string[];
  /** The MIME message as received. */
  raw: Buffer;
  /**
   * SES vouched for the sender: DKIM or SPF passed and DMARC did not fail. A message found by its thread headers
   * alone must be (replies.service.ts); one sent to an email's own reply address is trusted by its token.
   */
  authenticated: boolean;
}

export type InboundRead = { ok: true; mail: InboundMail } | { ok: false; reason: InboundIgnoreReason };

const MAX_RECIPIENTS = 50;

/** The longest SES message id accepted: `inbound:` and it must fit `email_event.dedupe_key` (varchar 200). */
const MAX_SES_MESSAGE_ID = 192;

/** Reads an SNS notification's Message; `maxBytes` bounds the MIME message (checked before it is decoded). */
export function readInboundNotification(message: string, maxBytes: number): InboundRead {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return { ok: false, reason: InboundIgnoreReason.NOT_RECEIVED_MAIL };
  }
  const body = record(parsed);
  const mail = record(body?.mail);
  const receipt = record(body?.receipt);
  if (body?.notificationType !== 'Received' || !mail || !receipt || typeof mail.messageId !== 'string') {
    return { ok: false, reason: InboundIgnoreReason.NOT_RECEIVED_MAIL };
  }
  // SES's own ids are about 40 characters; a longer one could not be stored as the dedupe key (SNS would retry forever).
  if (mail.messageId.length > MAX_SES_MESSAGE_ID) return { ok: false, reason: InboundIgnoreReason.MESSAGE_ID_TOO_LONG };
  if (verdict(receipt.spamVerdict) === 'FAIL' || verdict(receipt.virusVerdict) === 'FAIL') return { ok: false, reason: InboundIgnoreReason.SPAM_OR_VIRUS };
  const action = record(receipt.action);
  // An S3 action (messages over the SNS action's 150 KB, or by choice) leaves the content in a bucket: not read here.
  if (typeof body.content !== 'string' || (action?.type !== undefined && action.type !== 'SNS')) {
    return { ok: false, reason: InboundIgnoreReason.CONTENT_NOT_INCLUDED };
  }
  const base64 = action?.encoding === 'BASE64';
  // Base64 is 4 characters per 3 bytes: the length alone says whether the message fits, before anything is decoded.
  const size = base64 ? Math.floor((body.content.length * 3) / 4) : Buffer.byteLength(body.content, 'utf8');
  if (size > maxBytes) return { ok: false, reason: InboundIgnoreReason.TOO_LARGE };
  const raw = base64 ? Buffer.from(body.content, 'base64') : Buffer.from(body.content, 'utf8');
  const recipients = (Array.isArray(receipt.recipients) ? receipt.recipients : Array.isArray(mail.destination) ? mail.destination : [])
    .filter((r): r is string => typeof r === 'string' && r.length <= 320)
    .slice(0, MAX_RECIPIENTS);
  const authenticated = (verdict(receipt.dkimVerdict) === 'PASS' || verdict(receipt.spfVerdict) === 'PASS') && verdict(receipt.dmarcVerdict) !== 'FAIL';
  return { ok: true, mail: { sesMessageId: mail.messageId, recipients, raw, authenticated } };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function verdict(value: unknown): unknown {
  return record(value)?.status;
}
