import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../core/config.js';
import { uuidv7 } from '../core/ids.js';
import { query, sql } from '../db/sql.js';
import type { EmailProvider } from '../delivery/email-provider.js';
import { evaluateAfterEvent } from '../delivery/guard/guard.service.js';
import { nextWindowOpening } from '../sequences/schedule.js';
import { scheduleTimeZone } from '../enrollments/enrollment.service.js';
import { suppressAddress } from '../suppression/suppression.service.js';
import { ActivityType } from '../model/activity.entity.js';
import { EmailEventKind } from '../model/email-event.entity.js';
import { EmailStatus } from '../model/sequence.enums.js';
import { SuppressionReason } from '../model/suppression.entity.js';
import { EmailFact, recordEmailFact } from '../state/email-facts.js';
import { moveEmail } from '../state/email-state.js';
import { pauseEnrollmentUntil } from '../state/enrollment-state.js';
import { publish } from '../state/events.js';
import { recordActivities } from '../state/timeline.js';
import { EMAIL_MOVES, EmailMove } from '../state/transitions.js';
import { classify, type Classification } from './classify.js';
import { forwardOutcome, startForward, type ForwardInput } from './forward.js';
import { recordHumanReply, type HumanReplyInput } from './human-reply.js';
import type { InboundMail } from './inbound-notification.js';
import { matchEmail, type MatchedEmail } from './match.js';
import { parseReply, type ParsedReply } from './mime.js';
import { InboundIgnoreReason, ReplyKind, type InboundOutcome } from './outcome.js';
import { returnDate } from './return-date.js';

/*
 * One received message, end to end: parse, find the email it answers, classify, and apply the effect in one
 * transaction with its realtime events (published on commit) and, for a person's reply, the forward to the company.
 * The forward is sent inside the transaction (alongside its statements): should SES fail for a while, nothing
 * commits and the webhook answers 5xx, so SNS delivers the message again later and nothing is lost or half done; the
 * dedupe row (the SES message id) makes that redelivery, or SNS's own duplicates, change nothing once one has
 * committed. The one window left is the other way round (SES took the forward, then the commit failed): the retry
 * forwards it again, so a forward is delivered at least once, never lost.
 */

export interface InboundDeps {
  orm: MikroORM;
  config: Config;
  provider: EmailProvider;
  now: Date;
}

/** Statuses of an email someone can be answering: it left (or may have left) for the recipient. */
const ANSWERABLE: readonly EmailStatus[] = [...EMAIL_MOVES[EmailMove.REPLY].from, EmailStatus.REPLIED, EmailStatus.BOUNCED];

const EVENT_KIND: Record<ReplyKind, EmailEventKind> = {
  [ReplyKind.HUMAN]: EmailEventKind.REPLY,
  [ReplyKind.AUTO_REPLY]: EmailEventKind.AUTO_REPLY,
  [ReplyKind.REMOVAL]: EmailEventKind.UNSUBSCRIBE,
  [ReplyKind.DELIVERY_REPORT]: EmailEventKind.BOUNCE,
};

/** Processes one received message; throws only for transient failures (the database, SES while forwarding). */
export async function processInbound(deps: InboundDeps, mail: InboundMail): Promise<InboundOutcome> {
  const parsed = await parseReply(mail.raw);
  if (!parsed.ok) return ignored(parsed.reason === 'too-complex' ? InboundIgnoreReason.MIME_TOO_COMPLEX : InboundIgnoreReason.MIME_UNPARSABLE);
  const { reply } = parsed;
  if (isOwnMail(reply, deps.config.inbound.domain)) return ignored(InboundIgnoreReason.MAIL_LOOP);
  const classification = classify(reply);
  const report = classification.kind === ReplyKind.DELIVERY_REPORT ? classification : null;
  const em = deps.orm.em.fork();
  const match = await matchEmail(em, {
    secret: deps.config.trackingSecret.reveal(),
    domain: deps.config.inbound.domain,
    recipients: mail.recipients,
    // A report names the message it returns in the returned headers; a person's reply in its own.
    threadIds: report ? [...reply.threadIds, ...messageIdsIn(reply.returnedHeaders)] : reply.threadIds,
    sender: report ? null : (reply.from?.address ?? null),
    returnedRecipient: report?.recipient ?? null,
  });
  if (!match.email) return ignored(match.senderMismatch ? InboundIgnoreReason.SENDER_MISMATCH : InboundIgnoreReason.NO_MATCHING_EMAIL);
  const email = match.email;
  // A thread header's From (or a report's Final-Recipient) proves nothing unless SES authenticated the sender.
  if (match.by === 'thread' && !mail.authenticated) return ignored(InboundIgnoreReason.SENDER_NOT_AUTHENTICATED, email.id);
  if (!ANSWERABLE.includes(email.status)) return ignored(InboundIgnoreReason.EMAIL_NOT_SENT, email.id);
  const detail = classification.kind === ReplyKind.DELIVERY_REPORT ? classification.diagnostic : `${classification.kind.toLowerCase()} by ${match.by}`;
  const event = { kind: EVENT_KIND[classification.kind], detail, dedupeKey: `inbound:${mail.sesMessageId}` };
  const reading: Reading = { email, reply, raw: mail.raw };
  const outcome = await em.transactional(async (tx): Promise<InboundOutcome> => {
    if (classification.kind === ReplyKind.HUMAN) {
      const forwarded = await humanReply(tx, deps, reading, event, classification.text);
      return forwarded === null ? { result: 'duplicate', emailId: email.id } : { result: 'processed', emailId: email.id, kind: classification.kind, forwarded };
    }
    const inserted = await query<{ id: string }>(
      tx,
      sql`insert into email_event (id, company_id, email_id, kind, detail, dedupe_key, occurred_at)
          values (${uuidv7()}::uuid, ${email.company_id}::uuid, ${email.id}::uuid, ${event.kind}, ${event.detail}, ${event.dedupeKey}, ${deps.now})
          on conflict (dedupe_key) do nothing returning id`,
    );
    if (inserted.length === 0) return { result: 'duplicate', emailId: email.id };
    const forwarded = await apply(tx, deps, reading, classification);
    return { result: 'processed', emailId: email.id, kind: classification.kind, forwarded };
  });
  // As after SES's bounce events: the guard judges the company once the bounce committed, a repeat included (a
  // judgement that failed failed the request, so SNS's retry judges again).
  if (report?.permanent) await evaluateAfterEvent(deps.orm.em.fork(), email.company_id, deps.now, deps.config.deliverability);
  return outcome;
}

interface Reading {
  email: MatchedEmail;
  reply: ParsedReply;
  raw: Buffer;
}

/** Applies the effect of a classification other than a person's reply (see humanReply); true when the message was forwarded. */
async function apply(tx: EntityManager, deps: InboundDeps, reading: Reading, c: Exclude<Classification, { kind: ReplyKind.HUMAN }>): Promise<boolean> {
  switch (c.kind) {
    case ReplyKind.REMOVAL: {
      // The forward runs while the database work does (SES and PostgreSQL are two other machines); both before commit.
      const forwarding = startForward(
        deps.provider,
        forwardInput(reading, c.text, `They asked to be removed ("${c.phrase}"): they were unsubscribed and their sequences stopped.`),
      );
      await removal(tx, deps, reading.email, c.phrase);
      const outcome = forwardOutcome(await forwarding);
      await note(tx, reading.email, ActivityType.REPLY_FORWARDED, outcome.reason, deps.now, outcome.data);
      return outcome.forwarded;
    }
    case ReplyKind.AUTO_REPLY:
      await autoReply(tx, deps, reading.email, c, reading.reply.subject);
      return false;
    case ReplyKind.DELIVERY_REPORT:
      await deliveryReport(tx, deps, reading.email, c);
      return false;
  }
}

/**
 * REPLIED (replied_at with it), the score, the stop (if the sequence says so), the timeline, the events, and the
 * forward, sent once the message is known to be new (human-reply.ts). Null for a message already processed.
 */
function humanReply(tx: EntityManager, deps: InboundDeps, reading: Reading, event: HumanReplyInput['event'], text: string): Promise<boolean | null> {
  const { email, reply } = reading;
  const reason = `Email ${email.email_number} of "${email.sequence_name}" replied: ${snippet(text || reply.subject)}`;
  return recordHumanReply(tx, { email, event, reason, now: deps.now }, () => startForward(deps.provider, forwardInput(reading, text, null)));
}

/** A person asked to be removed: the address the email went to is suppressed (an unsubscribe), its sequences stop. */
async function removal(tx: EntityManager, { now }: InboundDeps, email: MatchedEmail, phrase: string): Promise<void> {
  const address = email.to_address ?? email.lead_email;
  const detail = `Asked to be removed in a reply to email ${email.email_number} ("${phrase}")`;
  const result = address
    ? await suppressAddress(tx, { companyId: email.company_id, email: address, reason: SuppressionReason.UNSUBSCRIBED, now, detail })
    : null;
  // Counted as the unsubscribe link's are (analytics): the email whose answer unsubscribed its recipient.
  if (result?.newlySuppressed) await recordEmailFact(tx, email, EmailFact.UNSUBSCRIBE, now);
  if (!result?.newlySuppressed || !result.leadIds.includes(email.lead_id))
    await note(tx, email, ActivityType.UNSUBSCRIBED, `${detail}; already unsubscribed`, now);
}

/** Pauses the enrollment until the return date (inside the send window), or notes why nothing was paused. */
async function autoReply(
  tx: EntityManager,
  { now }: InboundDeps,
  email: MatchedEmail,
  c: Extract<Classification, { kind: ReplyKind.AUTO_REPLY }>,
  subject: string,
): Promise<void> {
  const timeZone = scheduleTimeZone(email.send_window, email.lead_timezone, email.company_timezone);
  const back = returnDate(`${subject}\n${c.text}`, now, timeZone);
  const resumeAt = email.send_window ? nextWindowOpening(back.at, email.send_window, timeZone) : back.at;
  const local = resumeAt.toLocaleString('sv-SE', { timeZone, dateStyle: 'short', timeStyle: 'short' });
  const when = back.source ? `the return date in the reply ("${back.source}")` : 'no return date found: 7 days';
  const enrollment = { id: email.enrollment_id, company_id: email.company_id, lead_id: email.lead_id, sequence_id: email.sequence_id };
  const paused = await pauseEnrollmentUntil(tx, enrollment, {
    resumeAt,
    reason: `Enrollment paused until ${local} (${timeZone}) by an auto-reply to email ${email.email_number}; ${when}`,
    now,
    data: { emailId: email.id },
  });
  const outcome = paused ? `enrollment paused until ${local} (${timeZone}), ${when}` : 'the enrollment is not active, so nothing was paused';
  await note(tx, email, ActivityType.EMAIL_AUTO_REPLIED, `Auto-reply to email ${email.email_number} (${c.why}): ${outcome}`, now);
  if (paused?.event) await publish(tx, paused.event);
}

/** A bounce that came back as mail: handled as SES's bounce events are (permanent: BOUNCED and suppressed). */
async function deliveryReport(tx: EntityManager, { now }: InboundDeps, email: MatchedEmail, c: Extract<Classification, { kind: ReplyKind.DELIVERY_REPORT }>) {
  // The analytics facts, as for SES's bounce events.
  await recordEmailFact(tx, email, c.permanent ? EmailFact.PERMANENT_BOUNCE : EmailFact.TRANSIENT_BOUNCE, now);
  if (!c.permanent) {
    await note(tx, email, ActivityType.EMAIL_BOUNCED, `Email ${email.email_number} bounced (delivery report, not permanent): ${c.diagnostic}`, now);
    return;
  }
  const bounced = await moveEmail(tx, email, EmailMove.BOUNCE, `Delivery report: ${c.diagnostic}`, now);
  if (bounced) await publish(tx, bounced);
  const reason = `Email ${email.email_number} bounced (delivery report): ${c.diagnostic}`;
  const address = email.to_address ?? email.lead_email;
  const result = address
    ? await suppressAddress(tx, { companyId: email.company_id, email: address, reason: SuppressionReason.HARD_BOUNCE, now, detail: reason })
    : null;
  if (!result?.newlySuppressed || !result.leadIds.includes(email.lead_id)) await note(tx, email, ActivityType.EMAIL_BOUNCED, reason, now);
}

/** What the forward to the company says: the reply's words, its sender, the original attached, and `extra`. */
function forwardInput({ email, reply, raw }: Reading, text: string, extra: string | null): ForwardInput {
  const from = reply.from ?? { address: email.to_address ?? email.lead_email ?? '', name: '' };
  return { email, from, subject: reply.subject, text, raw, note: extra };
}

function note(tx: EntityManager, email: MatchedEmail, type: ActivityType, reason: string, now: Date, extra: Record<string, unknown> = {}): Promise<void> {
  return recordActivities(tx, [{ companyId: email.company_id, leadId: email.lead_id, type, reason, data: { ...dataOf(email), ...extra }, occurredAt: now }]);
}

function dataOf(email: MatchedEmail): Record<string, unknown> {
  return { emailId: email.id, sequenceId: email.sequence_id, enrollmentId: email.enrollment_id };
}

/** The first words of a reply for the timeline: one line, at most 160 characters, quoted. */
function snippet(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return `"${line.length > 160 ? `${line.slice(0, 159)}…` : line}"`;
}

/** Mail from the inbound domain itself, or a forward of ours come back: answering it would loop. */
function isOwnMail(reply: ParsedReply, domain: string | undefined): boolean {
  if (reply.headers.has('x-ln-reply-lead')) return true;
  return domain !== undefined && reply.from !== null && reply.from.address.endsWith(`@${domain}`);
}

/** The Message-IDs named in a report's returned headers. */
function messageIdsIn(headers: string | null): string[] {
  if (!headers) return [];
  return [...headers.slice(0, 20_000).matchAll(/^(?:message-id|in-reply-to):\s*<([^>\s]{1,250})>/gim)].map((m) => m[1]!).slice(0, 5);
}

function ignored(reason: InboundIgnoreReason, emailId?: string): InboundOutcome {
  return emailId ? { result: 'ignored', reason, emailId } : { result: 'ignored', reason };
}
