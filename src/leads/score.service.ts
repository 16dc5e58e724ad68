import type { EntityManager } from '@mikro-orm/postgresql';
import type { Company } from '../model/company.entity.js';
import { NotFoundError } from '../core/errors.js';
import { LeadErrorReason } from '../core/error-reasons.js';
import { json, query, sql } from '../db/sql.js';
import { publish, Topic, type RealtimeEvent } from '../state/events.js';
import { EmailSequence } from '../model/email-sequence.entity.js';
import { enrollLeads } from '../enrollments/enrollment.service.js';
import { SequenceTrigger } from '../model/sequence.enums.js';
import { ActivityType } from '../model/activity.entity.js';
import { suppressedAmong } from '../enrollments/suppressed.js';
import { recordActivities, type ActivityRecord } from '../state/timeline.js';
import { findLead } from '../model/lookups.js';
import type { Lead } from '../model/lead.entity.js';
import type { CompanyScope } from '../model/scope.js';
import type { AdjustLeadScoreArgs } from './dto/lead.input.js';

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

/** One change of one lead's score, with its reason (several may apply to a lead at once). */
export interface ScoreStep {
  leadId: string;
  companyId: string;
  delta: number;
  reason: string;
  data?: Record<string, unknown>;
}

/**
 * The one way scores change. All steps in one UPDATE (leads locked in id order; concurrent changes never lose an
 * increment), clamped to 0..the company's maximum (at most 100); each step that moved the score becomes a
 * SCORE_CHANGED timeline row and a live event with its running score; a score that rose starts every active
 * SCORE_THRESHOLD sequence whose threshold it crossed (once per lead and sequence: the (lead, sequence) key).
 * Deleted leads are skipped. Runs in the caller's transaction.
 */
export async function applyScoreSteps(em: EntityManager, steps: ScoreStep[], companies: Map<string, Company>, now: Date): Promise<ScoreChange[]> {
  if (steps.length === 0) return [];
  const byLead = Map.groupBy(steps, (s) => s.leadId);
  const capOf = new Map([...byLead].map(([leadId, list]) => [leadId, Math.min(MAX_SCORE, companies.get(list[0]!.companyId)!.scoringRules.maxScore)]));
  const input = [...byLead].map(([leadId, list]) => ({
    lead_id: leadId,
    company_id: list[0]!.companyId,
    delta: list.reduce((sum, s) => sum + s.delta, 0),
    cap: capOf.get(leadId)!,
  }));
  const changed = await query<{ id: string; previous: number; score: number; email: string | null; timezone: string | null; unsubscribed_at: Date | null }>(
    em,
    sql`with input as (select * from jsonb_to_recordset(${json(input)}) as t(lead_id uuid, company_id uuid, delta int, cap int)),
             previous as (select l.id, l.score from lead l join input on input.lead_id = l.id and input.company_id = l.company_id
                          where l.deleted_at is null order by l.id for update of l)
        update lead set score = least(input.cap, greatest(0, previous.score + input.delta)), updated_at = ${now}
        from previous join input on input.lead_id = previous.id
        where lead.id = previous.id
        returning lead.id, previous.score as previous, lead.score as score, lead.email, lead.timezone, lead.unsubscribed_at`,
  );
  const activities: ActivityRecord[] = [];
  const events: RealtimeEvent[] = [];
  const results: ScoreChange[] = [];
  for (const lead of changed) {
    let running = lead.previous;
    for (const step of byLead.get(lead.id)!) {
      const next = Math.min(capOf.get(lead.id)!, Math.max(0, running + step.delta));
      if (next !== running) {
        activities.push({
          companyId: step.companyId,
          leadId: lead.id,
          type: ActivityType.SCORE_CHANGED,
          reason: step.reason,
          scoreDelta: next - running,
          scoreAfter: next,
          data: step.data ?? {},
          occurredAt: now,
        });
        events.push({
          topic: Topic.LeadScoreChanged,
          companyId: step.companyId,
          leadId: lead.id,
          previousScore: running,
          score: next,
          delta: next - running,
          reason: step.reason,
          at: now.toISOString(),
        });
      }
      running = next;
    }
    const result: ScoreChange = { leadId: lead.id, previous: lead.previous, score: lead.score, delta: lead.score - lead.previous, enrolledSequenceIds: [] };
    if (lead.score > lead.previous && lead.email && !lead.unsubscribed_at) {
      const company = companies.get(byLead.get(lead.id)![0]!.companyId)!;
      result.enrolledSequenceIds = await startThresholdSequences(
        em,
        company,
        { id: lead.id, email: lead.email, timezone: lead.timezone },
        lead.previous,
        lead.score,
        now,
      );
    }
    results.push(result);
  }
  await recordActivities(em, activities);
  await publish(em, events);
  return results;
}

/** A manual change of a lead's score, as `adjustLeadScore` answers it. */
export interface ScoreAdjustment {
  lead: Lead;
  previousScore: number;
  score: number;
  delta: number;
}

/** Changes one lead's score by hand (`adjustLeadScore`): `applyScoreSteps` for one step, NOT_FOUND for an unknown lead. */
export async function adjustLeadScore(scope: CompanyScope, { leadId, delta, reason }: AdjustLeadScoreArgs): Promise<ScoreAdjustment> {
  const { em, companyId, now } = scope;
  const lead = await findLead(em, companyId, leadId);
  const company = await scope.company();
  const change = await em.transactional(async (tx) => {
    const step: ScoreStep = { leadId: lead.id, companyId, delta, reason: reason.trim() };
    const [applied] = await applyScoreSteps(tx, [step], new Map([[companyId, company]]), now);
    if (!applied) throw new NotFoundError(LeadErrorReason.LEAD_NOT_FOUND, leadId);
    return applied;
  });
  await em.refresh(lead);
  return { lead, previousScore: change.previous, score: change.score, delta: change.delta };
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
