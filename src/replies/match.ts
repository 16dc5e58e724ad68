import type { EntityManager } from '@mikro-orm/postgresql';
import { isUuid } from '../core/ids.js';
import { query, sql } from '../db/sql.js';
import { readReplyToken, tokenOfAddress } from '../delivery/reply-address.js';
import type { EmailKeys } from '../model/email-keys.js';
import type { EmailStatus } from '../model/sequence.enums.js';
import type { ScoringRules } from '../model/scoring-rules.js';
import type { SendWindow } from '../model/sequence-step.js';

/*
 * Which email a message answers: the reply address it was sent to (an opaque token naming the email; see
 * delivery/reply-address.ts), else its In-Reply-To / References against the Message-IDs SES gave our emails. SES
 * sets every sent message's Message-ID to `<SES message id>@<region>.amazonses.com` (`email.amazonses.com` in
 * us-east-1), and that SES message id is the email's stored `provider_message_id` (indexed for SES events), so no
 * other mapping needs storing. A thread header is weaker evidence than the token (anyone the email was forwarded
 * to sees it), so a message found only that way must come from the address the email was sent to.
 */

/** Everything processing a reply needs about its email, in one read. */
export interface MatchedEmail extends EmailKeys {
  status: EmailStatus;
  to_address: string | null;
  subject: string | null;
  lead_email: string | null;
  lead_first_name: string | null;
  lead_last_name: string | null;
  lead_timezone: string | null;
  sequence_name: string;
  stop_on_reply: boolean;
  send_window: SendWindow | null;
  company_name: string;
  company_timezone: string;
  company_from_address: string;
  company_reply_to: string | null;
  company_scoring_rules: ScoringRules;
}

export type MatchResult = { email: MatchedEmail; by: 'token' | 'thread' } | { email: null; senderMismatch: boolean };

const SES_MESSAGE_ID = /^([A-Za-z0-9-]{10,100})@([a-z0-9-]+\.)*amazonses\.com$/i;

const SELECT = sql`select e.id, e.company_id, e.lead_id, e.sequence_id, e.enrollment_id, e.email_number, e.status, e.to_address, e.subject,
                     l.email as lead_email, l.first_name as lead_first_name, l.last_name as lead_last_name, l.timezone as lead_timezone,
                     q.name as sequence_name, q.stop_on_reply, q.send_window,
                     c.name as company_name, c.timezone as company_timezone, c.from_address as company_from_address, c.reply_to as company_reply_to, c.scoring_rules as company_scoring_rules
                   from sequence_email e
                   join lead l on l.id = e.lead_id
                   join email_sequence q on q.id = e.sequence_id
                   join company c on c.id = e.company_id`;

/**
 * The email a message answers. `recipients` are the envelope's and the headers' addresses; `threadIds` the
 * Message-IDs it answers; `sender` its From (null for a delivery report, whose sender is a mail server:
 * `returnedRecipient`, the address the report is about, must then be the email's recipient instead).
 */
export async function matchEmail(
  em: EntityManager,
  input: { secret: string; domain: string | undefined; recipients: string[]; threadIds: string[]; sender: string | null; returnedRecipient?: string | null },
): Promise<MatchResult> {
  const byToken = input.domain ? tokenEmailId(input.secret, input.domain, input.recipients) : null;
  if (byToken) {
    const [email] = await query<MatchedEmail>(em, sql`${SELECT} where e.id = ${byToken}::uuid`);
    if (email) return { email, by: 'token' };
  }
  const sesIds = input.threadIds.map((id) => SES_MESSAGE_ID.exec(id)?.[1]).filter((id): id is string => id !== undefined);
  if (sesIds.length === 0) return { email: null, senderMismatch: false };
  const candidates = await query<MatchedEmail>(em, sql`${SELECT} where e.provider_message_id = any(${sesIds}::text[])`);
  const from = (input.sender ?? input.returnedRecipient ?? '').toLowerCase();
  const email = candidates.find((c) => from !== '' && [c.to_address, c.lead_email].some((address) => address?.toLowerCase() === from));
  return email ? { email, by: 'thread' } : { email: null, senderMismatch: candidates.length > 0 };
}

/** The email id of the first genuine reply token among the addresses, or null (none, or forged). */
function tokenEmailId(secret: string, domain: string, addresses: string[]): string | null {
  for (const address of addresses) {
    const token = tokenOfAddress(address, domain);
    const id = token ? readReplyToken(secret, token) : null;
    if (id && isUuid(id)) return id;
  }
  return null;
}
