import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { sesAddress } from '../core/mailbox.js';
import { SendError, type EmailProvider } from '../delivery/email-provider.js';
import type { MatchedEmail } from './match.js';

/*
 * A person's reply, handed to the company: a new message from the company's own (SES-verified) From address to its
 * Reply-To (else From), built with nodemailer's MailComposer and sent through the SES provider as raw content. The
 * reply's words are inlined, the original is attached whole (message/rfc822), Reply-To is the lead, so the
 * salesperson's "Reply" writes to the lead directly, and headers name the lead and the sequence. `Auto-Submitted`
 * keeps the company's own auto-responders from answering it (RFC 3834).
 */

export const FORWARD_LEAD_HEADER = 'X-LN-Reply-Lead';
export const FORWARD_SEQUENCE_HEADER = 'X-LN-Reply-Sequence';

export interface ForwardInput {
  email: MatchedEmail;
  /** The reply's sender (the lead, or whoever answered from the lead's thread). */
  from: { address: string; name: string };
  subject: string;
  text: string;
  raw: Buffer;
  /** What happened besides forwarding, for the salesperson ("The lead asked to be removed: unsubscribed."). */
  note: string | null;
}

/** The forwarded message's raw MIME bytes and where it goes. */
export async function composeForward(input: ForwardInput): Promise<{ to: string; raw: Buffer }> {
  const { email, from } = input;
  const leadName = oneLine([email.lead_first_name, email.lead_last_name].filter(Boolean).join(' ') || from.name || from.address);
  const sequence = `${oneLine(email.sequence_name)} (email ${email.email_number})`;
  const to = sesAddress(email.company_reply_to ?? email.company_from_address);
  const intro = [
    `${leadName} <${from.address}> replied to email ${email.email_number} of the sequence "${oneLine(email.sequence_name)}".`,
    'Reply to this message to answer them directly. Their message is attached as sent.',
    ...(input.note ? ['', input.note] : []),
  ].join('\n');
  const fromAddress = sesAddress(email.company_from_address);
  const composer = new MailComposer({
    from: { name: `${leadName} (reply)`, address: fromAddress },
    to,
    replyTo: { name: leadName, address: from.address },
    subject: oneLine(input.subject) || `Reply from ${leadName}`,
    text: `${intro}\n\n----\n${input.text}\n`,
    headers: {
      [FORWARD_LEAD_HEADER]: `${leadName} <${from.address}>`,
      [FORWARD_SEQUENCE_HEADER]: sequence,
      'Auto-Submitted': 'auto-generated',
    },
    attachments: [{ filename: 'reply.eml', content: input.raw, contentType: 'message/rfc822' }],
    disableFileAccess: true,
    disableUrlAccess: true,
    // Both random, as MailComposer would make them, from one pooled UUID each rather than five reads of the system's
    // random source per message.
    messageId: `<${randomUUID()}@${fromAddress.slice(fromAddress.lastIndexOf('@') + 1)}>`,
    baseBoundary: randomUUID().replace(/-/g, ''),
  });
  const raw = await new Promise<Buffer>((resolve, reject) => composer.compile().build((error, message) => (error ? reject(error) : resolve(message))));
  return { to, raw };
}

/** Composes and sends; resolves with SES's message id, rejects with the provider's SendError. */
export async function forwardReply(provider: EmailProvider, input: ForwardInput): Promise<{ to: string; messageId: string }> {
  const { to, raw } = await composeForward(input);
  const { messageId } = await provider.sendRaw(raw, to);
  return { to, messageId };
}

/** How a forward went: SES's answer, or the error (settled by forwardOutcome, inside the transaction). */
export type Forwarded = { sent: { to: string; messageId: string } } | { error: unknown };

/** forwardReply, settled: never rejects. */
export function startForward(provider: EmailProvider, input: ForwardInput): Promise<Forwarded> {
  return forwardReply(provider, input).then(
    (sent) => ({ sent }),
    (error: unknown) => ({ error }),
  );
}

/**
 * What the timeline says of a forward, and whether it went: a refusal SES will repeat (an unverified From) is noted
 * and the reply still counts; anything transient throws, so the transaction rolls back and SNS delivers the message
 * again later.
 */
export function forwardOutcome(forwarded: Forwarded): { forwarded: boolean; reason: string; data: Record<string, unknown> } {
  if ('sent' in forwarded) {
    const { to, messageId } = forwarded.sent;
    return { forwarded: true, reason: `Reply forwarded to ${to}`, data: { forwardMessageId: messageId } };
  }
  const { error } = forwarded;
  if (!(error instanceof SendError) || error.failure.kind !== 'permanent') throw error;
  return { forwarded: false, reason: `Reply could not be forwarded: ${error.message.slice(0, 300)}`, data: { forwarded: false } };
}

/** A header-safe, bounded line: no line breaks or control characters, at most 200 characters. */
function oneLine(text: string): string {
  // Control characters could start a new header.
  // eslint-disable-next-line no-control-regex -- removing them is the point
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return flat.trim().slice(0, 200);
}
