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
  /** The change actually applied: smaller than asked, or none, when the score meets 0 or the company's cap. */
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
 * Where one step takes a score. A step only ever moves the score in its own direction, and at most as far as it
 * asks: a rise stops at the cap, and a score already above it (the company lowered `maxScore`) stays where it is
 * rather than being pulled down by an open or a click; a fall stops at 0. Lowering the cap does not rewrite
 * existing scores: it bounds how far engagement raises them from then on.
 */
export function stepScore(score: number, delta: number, cap: number): number {
  return delta >= 0 ? Math.max(score, Math.min(cap, score + delta)) : Math.max(0, score + delta);
}

interface LockedLead {
  id: string;
  score: number;
  email: string | null;
  timezone: string | null;
  unsubscribed_at: Date | null;
}

/**
 * The one way scores change. The leads are locked in id order (concurrent changes wait, never lose an increment;
 * NO KEY UPDATE, so rows that only reference a lead, such as an unsubscribe's, do not wait for it),
 * each step is applied in order with `stepScore` and the final scores written in one UPDATE; each step that moved
 * the score becomes a SCORE_CHANGED timeline row and a live event with its running score; a score that rose starts
 * every active SCORE_THRESHOLD sequence whose threshold it crossed (once per lead and sequence: the (lead, sequence)
 * key). Deleted leads are skipped. Runs in the caller's transaction (the lock lasts until it commits).
 */
export async function applyScoreSteps(em: EntityManager, steps: ScoreStep[], companies: Map<string, Company>, now: Date): Promise<ScoreChange[]> {
  if (steps.length === 0) return [];
  const byLead = Map.groupBy(steps, (s) => s.leadId);
  const capOf = (leadId: string) => Math.min(MAX_SCORE, companies.get(byLead.get(leadId)![0]!.companyId)!.scoringRules.maxScore);
  const input = [...byLead].map(([leadId, list]) => ({ lead_id: leadId, company_id: list[0]!.companyId }));
  const locked = await query<LockedLead>(
    em,
    sql`with input as (select * from jsonb_to_recordset(${json(input)}) as t(lead_id uuid, company_id uuid))
        select l.id, l.score, l.email, l.timezone, l.unsubscribed_at from lead l join input on input.lead_id = l.id and input.company_id = l.company_id
        where l.deleted_at is null order by l.id for no key update of l`,
  );
  const activities: ActivityRecord[] = [];
  const events: RealtimeEvent[] = [];
  const finals = locked.map((lead) => {
    let running = lead.score;
    for (const step of byLead.get(lead.id)!) {
      const next = stepScore(running, step.delta, capOf(lead.id));
      if (next !== running) {
        activities.push(scoreActivity(step, running, next, now));
        events.push(scoreEvent(step, running, next, now));
      }
      running = next;
    }
    return { lead, score: running };
  });
  const moved = finals.filter((f) => f.score !== f.lead.score).map((f) => ({ id: f.lead.id, score: f.score }));
  if (moved.length > 0) {
    await query(
      em,
      sql`update lead set score = t.score, updated_at = ${now} from jsonb_to_recordset(${json(moved)}) as t(id uuid, score int) where lead.id = t.id`,
    );
  }
  const results: ScoreChange[] = [];
  for (const { lead, score } of finals) {
    const result: ScoreChange = { leadId: lead.id, previous: lead.score, score, delta: score - lead.score, enrolledSequenceIds: [] };
    if (score > lead.score && lead.email && !lead.unsubscribed_at) {
      const company = companies.get(byLead.get(lead.id)![0]!.companyId)!;
      result.enrolledSequenceIds = await startThresholdSequences(
        em,
        company,
        { id: lead.id, email: lead.email, timezone: lead.timezone },
        lead.score,
        score,
        now,
      );
    }
    results.push(result);
  }
  await recordActivities(em, activities);
  await publish(em, events);
  return results;
}

function scoreActivity(step: ScoreStep, previous: number, score: number, now: Date): ActivityRecord {
  return {
    companyId: step.companyId,
    leadId: step.leadId,
    type: ActivityType.SCORE_CHANGED,
    reason: step.reason,
    scoreDelta: score - previous,
    scoreAfter: score,
    data: step.data ?? {},
    occurredAt: now,
  };
}

function scoreEvent(step: ScoreStep, previous: number, score: number, now: Date): RealtimeEvent {
  return {
    topic: Topic.LeadScoreChanged,
    companyId: step.companyId,
    leadId: step.leadId,
    previousScore: previous,
    score,
    delta: score - previous,
    reason: step.reason,
    at: now.toISOString(),
  };
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
