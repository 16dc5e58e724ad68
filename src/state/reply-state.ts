import type { EntityManager } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';
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
 * set once) in the same statement. A further reply to a REPLIED email changes nothing (firstReply false). An email
 * in any other status (never sent, bounced, failed) is left alone: null.
 */
export async function markReplied(em: EntityManager, email: EmailPlace, at: Date, now: Date): Promise<ReplyMark | null> {
  const { from, to } = EMAIL_MOVES[EmailMove.REPLY];
  const [row] = await query<{ previous: EmailStatus; previous_replied_at: Date | null }>(
    em,
    sql`with before as (
          select id, status, replied_at from sequence_email
          where id = ${email.id}::uuid and company_id = ${email.company_id}::uuid and ${statusIn('status', [...from, to])} for update)
        update sequence_email s set status = ${statusLiteral(to)}, replied_at = coalesce(s.replied_at, ${at}),
          failure_reason = case when ${statusIn('before.status', [EmailStatus.UNKNOWN])} then null else s.failure_reason end, updated_at = ${now}
        from before where s.id = before.id
        returning before.status as previous, before.replied_at as previous_replied_at`,
  );
  if (!row) return null;
  return { event: row.previous === to ? null : emailChanged(email, to, now), firstReply: row.previous_replied_at === null };
}
