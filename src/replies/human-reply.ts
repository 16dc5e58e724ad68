import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import { prepared, query, sql } from '../db/sql.js';
import { MAX_SCORE, startThresholdSequences } from '../leads/score.service.js';
import { ActivityType } from '../model/activity.entity.js';
import { Company } from '../model/company.entity.js';
import type { EmailEventKind } from '../model/email-event.entity.js';
import { DEFAULT_SCORING_RULES } from '../model/scoring-rules.js';
import { SequenceTrigger, StopReason, type EmailStatus } from '../model/sequence.enums.js';
import type { EmailPlace } from '../state/email-state.js';
import { stopEnrollmentCtes, stoppedActivities, stoppedEvents, type EnrollmentPlace } from '../state/enrollment-state.js';
import { Topic, type RealtimeEvent } from '../state/events.js';
import { replyMarkCtes, replyMarkOf } from '../state/reply-state.js';
import { recordActivitiesAndPublish, type ActivityRecord } from '../state/timeline.js';
import { forwardOutcome, type Forwarded } from './forward.js';
import type { MatchedEmail } from './match.js';

/*
 * A person's reply, the webhook's hot path (issue 17: 200 a second), in two statements of one transaction: one writes
 * everything the reply changes, the other, once the forward is settled, its timeline rows and realtime events.
 * (Through the general functions it took seventeen round trips and an ORM query, which capped the webhook near 100
 * replies a second on two cores.) The score moves as applyScoreSteps (leads/score.service.ts) moves it, with the
 * same rule (stepScore: a rise stops at the company's cap, a score above it stays); a score crossing a SCORE_THRESHOLD
 * sequence's threshold still starts it through startThresholdSequences.
 */

export interface HumanReplyInput {
  email: MatchedEmail;
  /** The email_event row that dedupes the message (its key is SES's message id): an SNS repeat changes nothing. */
  event: { kind: EmailEventKind; detail: string; dedupeKey: string };
  /** The EMAIL_REPLIED timeline row's reason. */
  reason: string;
  now: Date;
}

/** What the writing statement changed. */
interface Written {
  inserted: boolean;
  /** The email's status before (null: not one a reply moves) and whether it had no reply yet. */
  previous: EmailStatus | null;
  first_reply: boolean | null;
  /** The lead's score, when the reply moved it. */
  score: { previous: number; score: number; email: string | null; timezone: string | null; unsubscribed_at: string | null } | null;
  /** The new score crossed the threshold of an active SCORE_THRESHOLD sequence of the company. */
  threshold: boolean;
  stopped: EnrollmentPlace[];
  canceled: EmailPlace[];
}

/**
 * Records a person's reply: the dedupe row, REPLIED, and on the first reply to the email the score (the company's
 * replyPoints) and the stop of the enrollment (when its sequence stops on replies); then `forward`, then the timeline
 * and the events. Null for a message already processed (nothing changed, nothing forwarded); else whether it was
 * forwarded. Throws when the forward failed transiently, so the caller's transaction rolls back.
 */
export async function recordHumanReply(tx: EntityManager, input: HumanReplyInput, forward: () => Promise<Forwarded>): Promise<boolean | null> {
  const { email, now } = input;
  const rules = email.company_scoring_rules;
  const points = rules.replyPoints ?? DEFAULT_SCORING_RULES.replyPoints;
  const cap = Math.min(MAX_SCORE, rules.maxScore ?? DEFAULT_SCORING_RULES.maxScore);
  const [written] = await query<Written>(tx, writeReply(input, points, cap));
  if (!written?.inserted) return null;
  const score = written.score;
  if (score && written.threshold && score.email && !score.unsubscribed_at) {
    const company = Object.assign(new Company(), {
      id: email.company_id,
      name: email.company_name,
      fromAddress: email.company_from_address,
      timezone: email.company_timezone,
      scoringRules: rules,
    });
    await startThresholdSequences(tx, company, { id: email.lead_id, email: score.email, timezone: score.timezone }, score.previous, score.score, now);
  }
  const outcome = forwardOutcome(await forward());
  const data = { emailId: email.id, sequenceId: email.sequence_id, enrollmentId: email.enrollment_id };
  const note = (type: ActivityType, reason: string, extra: Partial<ActivityRecord> = {}): ActivityRecord => ({
    companyId: email.company_id,
    leadId: email.lead_id,
    type,
    reason,
    data,
    occurredAt: now,
    ...extra,
  });
  const scoreReason = `Replied to email ${email.email_number} of "${email.sequence_name}"`;
  const activities = [
    note(ActivityType.EMAIL_REPLIED, input.reason),
    ...(score ? [note(ActivityType.SCORE_CHANGED, scoreReason, { scoreDelta: score.score - score.previous, scoreAfter: score.score })] : []),
    ...stoppedActivities(written.stopped, StopReason.REPLIED, now),
    note(ActivityType.REPLY_FORWARDED, outcome.reason, { data: { ...data, ...outcome.data } }),
  ];
  const replied = replyMarkOf(email, written.previous, written.first_reply === true, now)?.event;
  const events: RealtimeEvent[] = [
    ...(replied ? [replied] : []),
    ...(score ? [scoreEvent(email, score.previous, score.score, scoreReason, now)] : []),
    ...stoppedEvents(written.stopped, written.canceled, StopReason.REPLIED, now),
  ];
  await recordActivitiesAndPublish(tx, activities, events);
  return outcome.forwarded;
}

/**
 * The writing statement. Its parts act in this order (each reads the one before), which is also the order of the
 * locks it takes, as the general functions took them: the dedupe row, the email, the lead, the enrollment and its
 * pending emails. The lead is locked before its score is read, so a concurrent open or click is never lost.
 */
function writeReply(input: HumanReplyInput, points: number, cap: number): RawBuilder<Written> {
  const { email, event, now } = input;
  const rise = sql`greatest(locked.score, least(${cap}::int, locked.score + ${points}::int))`;
  return prepared(
    sql<Written>`with dedupe as (
          insert into email_event (id, company_id, email_id, kind, detail, dedupe_key, occurred_at)
          values (${uuidv7()}::uuid, ${email.company_id}::uuid, ${email.id}::uuid, ${event.kind}, ${event.detail}, ${event.dedupeKey}, ${now})
          on conflict (dedupe_key) do nothing returning id),
        ${replyMarkCtes(email, now, now, sql`exists (select 1 from dedupe)`)},
        first_reply as (select 1 from replied where previous_replied_at is null),
        locked as (
          select id, score from lead where id = ${email.lead_id}::uuid and company_id = ${email.company_id}::uuid and deleted_at is null
            and ${points}::int > 0 and exists (select 1 from first_reply) for no key update),
        scored as (
          update lead l set score = ${rise}, updated_at = ${now} from locked where l.id = locked.id and ${rise} <> locked.score
          returning locked.score as previous, l.score, l.email, l.timezone, l.unsubscribed_at),
        ${stopEnrollmentCtes(
          { companyId: email.company_id, enrollmentId: email.enrollment_id, reason: StopReason.REPLIED, now },
          sql`${email.stop_on_reply}::boolean and exists (select 1 from first_reply)`,
        )}
        select exists (select 1 from dedupe) as inserted, (select previous from replied) as previous,
          (select previous_replied_at is null from replied) as first_reply, (select row_to_json(s) from scored s) as score,
          (select coalesce(json_agg(s), '[]') from stopped s) as stopped, (select coalesce(json_agg(c), '[]') from canceled c) as canceled,
          exists (select 1 from scored s join email_sequence q on q.company_id = ${email.company_id}::uuid
                    and q.trigger = ${sql.lit(SequenceTrigger.SCORE_THRESHOLD)} and q.active
                    and q.score_threshold > s.previous and q.score_threshold <= s.score) as threshold`,
  );
}

function scoreEvent(email: MatchedEmail, previous: number, score: number, reason: string, now: Date): RealtimeEvent {
  return {
    topic: Topic.LeadScoreChanged,
    companyId: email.company_id,
    leadId: email.lead_id,
    previousScore: previous,
    score,
    delta: score - previous,
    reason,
    at: now.toISOString(),
  };
}
