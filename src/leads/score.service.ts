import type { EntityManager } from '@mikro-orm/postgresql';
import type { Company } from '../companies/company.entity.js';
import { NotFoundError } from '../errors.js';
import { query, sql } from '../db/sql.js';
import { publish, Topic } from '../realtime/events.js';
import { EmailSequence } from '../sequences/email-sequence.entity.js';
import { enrollLeads } from '../sequences/enrollment.service.js';
import { SequenceTrigger } from '../sequences/sequence.enums.js';
import { ActivityType } from './activity.entity.js';
import { suppressedAmong } from './lead-intake.js';
import { recordActivities } from './timeline.js';

export const MAX_SCORE = 100;

export interface ScoreChange {
  leadId: string;
  previous: number;
  score: number;
  /** The change actually applied (smaller than asked when the score hits 0 or 100). */
  delta: number;
  /** Sequences the change enrolled the lead in (SCORE_THRESHOLD crossed upward). */
  enrolledSequenceIds: string[];
}

/**
 * Changes a lead's score by `delta`, clamped to 0..the company's maximum (at most 100), in one atomic UPDATE (concurrent changes never lose an
 * increment), writes the timeline row with the reason, and starts every active SCORE_THRESHOLD sequence whose
 * threshold the score crossed upward. Once per lead and sequence: the (lead, sequence) key makes it so.
 */
export async function changeScore(
  em: EntityManager,
  input: { company: Company; leadId: string; delta: number; reason: string; now: Date; data?: Record<string, unknown> },
): Promise<ScoreChange> {
  const { company, leadId, now } = input;
  return em.transactional(async (tx) => {
    const [row] = await query<{ previous: number; score: number; email: string | null; timezone: string | null; unsubscribed_at: Date | null }>(
      tx,
      sql`with previous as (
            select id, score from lead
            where id = ${leadId}::uuid and company_id = ${company.id}::uuid and deleted_at is null
            for update
          )
          update lead set score = least(${Math.min(MAX_SCORE, company.scoringRules?.maxScore ?? MAX_SCORE)}::int, greatest(0, previous.score + ${input.delta}::int)), updated_at = ${now}
          from previous where lead.id = previous.id
          returning previous.score as previous, lead.score as score, lead.email, lead.timezone, lead.unsubscribed_at`,
    );
    if (!row) throw new NotFoundError('Lead', leadId);
    const delta = row.score - row.previous;
    const change: ScoreChange = { leadId, previous: row.previous, score: row.score, delta, enrolledSequenceIds: [] };
    if (delta === 0) return change;

    await recordActivities(tx, [
      { companyId: company.id, leadId, type: ActivityType.SCORE_CHANGED, reason: input.reason, scoreDelta: delta, scoreAfter: row.score, data: input.data ?? {}, occurredAt: now },
    ]);
    await publish(tx, { topic: Topic.LeadScoreChanged, companyId: company.id, leadId, previousScore: row.previous, score: row.score, delta, reason: input.reason, at: now.toISOString() });
    if (delta > 0 && row.email && !row.unsubscribed_at) {
      change.enrolledSequenceIds = await startThresholdSequences(tx, company, { id: leadId, email: row.email, timezone: row.timezone }, row.previous, row.score, now);
    }
    return change;
  });
}

/** Starts every active SCORE_THRESHOLD sequence whose threshold a score change from `previous` to `score` crossed. */
export async function startThresholdSequences(
  em: EntityManager,
  company: Company,
  lead: { id: string; email: string; timezone: string | null },
  previous: number,
  score: number,
  now: Date,
): Promise<string[]> {
  const crossed = await em.find(EmailSequence, {
    company: company.id,
    trigger: SequenceTrigger.SCORE_THRESHOLD,
    active: true,
    scoreThreshold: { $gt: previous, $lte: score },
  });
  if (crossed.length === 0 || (await suppressedAmong(em, company.id, [lead.email])).size > 0) return [];
  const started: string[] = [];
  for (const sequence of crossed) {
    const created = await enrollLeads(em, {
      companyId: company.id,
      companyTimeZone: company.timezone,
      sequence,
      leads: [lead],
      startAt: now,
      reason: `score reached ${score}, threshold ${sequence.scoreThreshold}`,
    });
    if (created.length > 0) started.push(sequence.id);
  }
  return started;
}
