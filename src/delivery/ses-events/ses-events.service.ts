import type { EntityManager } from '@mikro-orm/postgresql';
import type { EmailKeys } from '../../model/email-keys.js';
import { uuidv7 } from '../../core/ids.js';
import { query, sql } from '../../db/sql.js';
import { ActivityType } from '../../model/activity.entity.js';
import { SuppressionReason } from '../../model/suppression.entity.js';
import { suppressAddress } from '../../suppression/suppression.service.js';
import { recordActivities } from '../../state/timeline.js';
import { publish } from '../../state/events.js';
import { confirmSent, moveEmail } from '../../state/email-state.js';
import { EmailMove } from '../../state/transitions.js';
import { EmailEventKind } from '../../model/email-event.entity.js';
import { EmailFact, recordEmailFact } from '../../state/email-facts.js';
import type { SesAction, SesEvent } from './ses-event.js';
import type { DeliverabilityLevels } from '../../core/config.js';
import { evaluateAfterEvent } from '../guard/guard.service.js';

/** What became of an SES event: applied, a repeat of one already applied, or nothing for us. */
export interface SesEventOutcome {
  result: 'processed' | 'duplicate' | 'ignored';
  emailId?: string;
  /** The email's company, when the email was found. */
  companyId?: string;
  /** For ignored events: why. */
  reason?: string;
}

interface EmailRow extends EmailKeys {
  /** The address the email was sent to (its lead's, for emails claimed before addresses were recorded). */
  to_address: string | null;
}

type Acted = Exclude<SesAction, { kind: 'ignored' }>;

const EVENT_KIND: Record<Acted['kind'], EmailEventKind> = {
  'hard-bounce': EmailEventKind.BOUNCE,
  'soft-bounce': EmailEventKind.BOUNCE,
  complaint: EmailEventKind.COMPLAINT,
  delivery: EmailEventKind.DELIVERY,
  failed: EmailEventKind.REJECT,
};

/**
 * Events after which the deliverability guard judges the company again: bounces and complaints raise its rates;
 * deliveries arrive as its sends grow, which lowers them (WARNING back to OK).
 */
const JUDGED: ReadonlySet<Acted['kind']> = new Set(['hard-bounce', 'complaint', 'delivery']);

/**
 * Applies one SES event to its email, in one transaction with its realtime events. `dedupeKey` (the SNS
 * MessageId) makes it idempotent: SNS delivers at least once, and a repeat finds its email_event row and
 * changes nothing. With `guard` (the deployment's levels), the company's deliverability is judged once the event
 * committed, a repeat included: a judgement that failed the first time (the request failed, so SNS retried) runs again.
 */
export async function applySesEvent(
  em: EntityManager,
  input: { dedupeKey: string; event: SesEvent; now: Date; guard?: DeliverabilityLevels },
): Promise<SesEventOutcome> {
  const { event, now, guard } = input;
  const action = event.action;
  if (action.kind === 'ignored') return { result: 'ignored', reason: `${event.eventType} events are not used` };
  const outcome = await applyInTransaction(em, input.dedupeKey, event, action, now);
  if (guard && outcome.companyId && outcome.result !== 'ignored' && JUDGED.has(action.kind)) await evaluateAfterEvent(em, outcome.companyId, now, guard);
  return outcome;
}

function applyInTransaction(em: EntityManager, dedupeKey: string, event: SesEvent, action: Acted, now: Date): Promise<SesEventOutcome> {
  return em.transactional(async (tx) => {
    const email = await findEmail(tx, event);
    if (!email) return { result: 'ignored', reason: 'no email with this message id or email_id tag' };
    const at = event.occurredAt ?? now;
    const detail = 'detail' in action ? action.detail : 'reason' in action ? action.reason : null;
    const inserted = await query<{ id: string }>(
      tx,
      sql`insert into email_event (id, company_id, email_id, kind, detail, dedupe_key, occurred_at)
          values (${uuidv7()}::uuid, ${email.company_id}::uuid, ${email.id}::uuid, ${EVENT_KIND[action.kind]}, ${detail}, ${dedupeKey}, ${at})
          on conflict (dedupe_key) do nothing returning id`,
    );
    if (inserted.length === 0) return { result: 'duplicate', emailId: email.id, companyId: email.company_id };
    await apply(tx, email, action, { at, now, messageId: event.messageId });
    return { result: 'processed', emailId: email.id, companyId: email.company_id };
  });
}

async function apply(
  tx: EntityManager,
  email: EmailRow,
  action: Acted,
  { at, now, messageId }: { at: Date; now: Date; messageId: string | undefined },
): Promise<void> {
  const timeline = (type: ActivityType, reason: string, extra: Record<string, unknown> = {}) =>
    recordActivities(tx, [
      {
        companyId: email.company_id,
        leadId: email.lead_id,
        type,
        reason,
        data: { emailId: email.id, sequenceId: email.sequence_id, enrollmentId: email.enrollment_id, ...extra },
        occurredAt: at,
      },
    ]);
  switch (action.kind) {
    case 'hard-bounce': {
      // Engagement may have been recorded first (a scanner's click); a bounce still ends it. Never from PENDING, FAILED, CANCELED.
      const bounced = await moveEmail(tx, email, EmailMove.BOUNCE, action.detail, now);
      if (bounced) await publish(tx, bounced);
      await recordEmailFact(tx, email, EmailFact.PERMANENT_BOUNCE, at);
      const reason = `Email ${email.email_number} bounced: ${action.detail}`;
      await suppress(tx, email, SuppressionReason.HARD_BOUNCE, reason, now, () => timeline(ActivityType.EMAIL_BOUNCED, reason, { bounce: 'Permanent' }));
      return;
    }
    case 'soft-bounce':
      // The mailbox may accept mail again (full, out of office, throttled): recorded, nothing stops.
      await recordEmailFact(tx, email, EmailFact.TRANSIENT_BOUNCE, at);
      await timeline(ActivityType.EMAIL_BOUNCED, `Email ${email.email_number} bounced (not permanent; the address stays mailable): ${action.detail}`, {
        bounce: 'Transient',
      });
      return;
    case 'complaint': {
      const reason = `Email ${email.email_number} reported as spam: ${action.detail}`;
      await recordEmailFact(tx, email, EmailFact.COMPLAINT, at);
      await suppress(tx, email, SuppressionReason.COMPLAINT, reason, now, () => timeline(ActivityType.EMAIL_COMPLAINED, reason));
      return;
    }
    case 'delivery': {
      const delivered = await query<{ id: string }>(
        tx,
        sql`update sequence_email set delivered_at = ${at}, updated_at = ${now}
            where id = ${email.id}::uuid and company_id = ${email.company_id}::uuid and delivered_at is null returning id`,
      );
      if (delivered.length > 0) await timeline(ActivityType.EMAIL_DELIVERED, `Email ${email.email_number} delivered`);
      // An email whose hand-over had an unknown outcome was sent after all: SENT, with the message id SES gave it.
      const confirmed = await confirmSent(tx, email, { messageId, at, now });
      if (confirmed) await publish(tx, confirmed);
      return;
    }
    case 'failed': {
      // SES accepted the send but then did not deliver it: the email was never sent after all.
      const failed = await moveEmail(tx, email, EmailMove.REJECT, action.reason, now);
      if (failed) {
        await publish(tx, failed);
        await timeline(ActivityType.EMAIL_FAILED, `Email ${email.email_number} failed: ${action.reason}`);
      }
      return;
    }
    default:
      return unreachable(action);
  }
}

/** Finds the email by SES message id, else by the email id it was sent with. */
async function findEmail(tx: EntityManager, event: SesEvent): Promise<EmailRow | undefined> {
  const select = sql`select e.id, e.company_id, e.lead_id, e.sequence_id, e.enrollment_id, e.email_number, coalesce(e.to_address, l.email) as to_address
                     from sequence_email e join lead l on l.id = e.lead_id`;
  if (event.messageId) {
    const [byMessageId] = await query<EmailRow>(tx, sql`${select} where e.provider_message_id = ${event.messageId} limit 1`);
    if (byMessageId) return byMessageId;
  }
  if (!event.emailId) return undefined;
  const [byId] = await query<EmailRow>(tx, sql`${select} where e.id = ${event.emailId}::uuid`);
  return byId;
}

/**
 * Suppresses the address the email was sent to in the email's company, stopping the enrollments of the leads at
 * it. The event's own recipient list is not used: our emails have one recipient, the stored one, and an event
 * must not reach an address its email never went to (nor the lead's new one, after updateLead). suppressAddress
 * writes the timeline when it newly suppresses this email's lead; otherwise `note` writes it, so every bounce or
 * complaint shows on the lead's timeline once.
 */
async function suppress(tx: EntityManager, email: EmailRow, reason: SuppressionReason, detail: string, now: Date, note: () => Promise<void>): Promise<void> {
  let leadNoted = false;
  if (email.to_address) {
    const result = await suppressAddress(tx, { companyId: email.company_id, email: email.to_address, reason, now, detail });
    leadNoted = result.newlySuppressed && result.leadIds.includes(email.lead_id);
  }
  if (!leadNoted) await note();
}

function unreachable(value: never): never {
  throw new Error(`unhandled SES action ${JSON.stringify(value)}`);
}
