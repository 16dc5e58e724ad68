import type { RawBuilder } from 'kysely';
import { sql } from '../db/sql.js';
import { EmailStatus } from '../model/sequence.enums.js';
import { emailChanged, type EmailPlace } from './email-state.js';
import type { EmailStatusChangedEvent } from './events.js';
import { EMAIL_MOVES, EmailMove, statusIn, statusLiteral } from './transitions.js';

/*
 * The email's side of a reply (issue 17), beside email-state.ts: the one write of REPLIED. The enrollment's side
 * (stop, pause until a date) is in enrollment-state.ts.
 */

/** What a reply did to its email: the event when its status moved, and whether this was its first reply. */
export interface ReplyMark {
  event: EmailStatusChangedEvent | null;
  firstReply: boolean;
}

/**
 * A person's reply to an email: SENT, OPENED, CLICKED or UNKNOWN → REPLIED, and `replied_at` (the analytics fact,
 * set once) in the same write. A further reply to a REPLIED email changes nothing (not a first reply). An email in
 * any other status (never sent, bounced, failed) is left alone.
 *
 * The write as two CTEs of a larger statement, `reply_target` and `replied` (which yields `previous`, the
 * status before, and `previous_replied_at`), acting only when `guard` (a condition of that statement) holds. The
 * row is locked first, so `previous` is the status the update replaced, whatever a concurrent writer did.
 */
export function replyMarkCtes(email: EmailPlace, at: Date, now: Date, guard: RawBuilder<unknown>): RawBuilder<unknown> {
  const { from, to } = EMAIL_MOVES[EmailMove.REPLY];
  return sql`reply_target as (
          select id, status, replied_at from sequence_email
          where id = ${email.id}::uuid and company_id = ${email.company_id}::uuid and ${statusIn('status', [...from, to])} and ${guard} for update),
        replied as (
          update sequence_email s set status = ${statusLiteral(to)}, replied_at = coalesce(s.replied_at, ${at}),
            failure_reason = case when ${statusIn('reply_target.status', [EmailStatus.UNKNOWN])} then null else s.failure_reason end, updated_at = ${now}
          from reply_target where s.id = reply_target.id
          returning reply_target.status as previous, reply_target.replied_at as previous_replied_at)`;
}

/** What replyMarkCtes wrote, as a ReplyMark: `previous` from `replied` (null when it found no row to move). */
export function replyMarkOf(email: EmailPlace, previous: EmailStatus | null, firstReply: boolean, now: Date): ReplyMark | null {
  if (previous === null) return null;
  return { event: previous === EMAIL_MOVES[EmailMove.REPLY].to ? null : emailChanged(email, EMAIL_MOVES[EmailMove.REPLY].to, now), firstReply };
}
