import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import { json, prepared, query, sql } from '../db/sql.js';
import type { ActivityType } from '../model/activity.entity.js';
import { CHANNEL, encodeEvents, type RealtimeEvent } from './events.js';

export interface ActivityRecord {
  companyId: string;
  leadId: string;
  type: ActivityType;
  reason: string;
  scoreDelta?: number | null;
  scoreAfter?: number | null;
  data?: Record<string, unknown>;
  occurredAt: Date;
}

/** Appends events to lead timelines in one statement, in the caller's transaction. */
export async function recordActivities(em: EntityManager, records: ActivityRecord[]): Promise<void> {
  if (records.length === 0) return;
  await query(em, activityInsert(records));
}

/**
 * recordActivities and publish (events.ts) in one statement: the timeline rows, then the events queued for
 * delivery on commit, in their order. For hot paths that would otherwise spend a round trip on each.
 */
export async function recordActivitiesAndPublish(em: EntityManager, records: ActivityRecord[], events: RealtimeEvent[]): Promise<void> {
  // The insert runs as a CTE whether or not the select reads it; the text is the same on every call (prepared once).
  await query(
    em,
    prepared(sql`with written as (${activityInsert(records)})
                 select pg_notify(${CHANNEL}, payload) from unnest(${encodeEvents(events)}::text[]) as payload`),
  );
}

function activityInsert(records: ActivityRecord[]): RawBuilder<unknown> {
  const rows = records.map((r) => ({
    id: uuidv7(r.occurredAt.getTime()),
    company_id: r.companyId,
    lead_id: r.leadId,
    type: r.type,
    reason: r.reason,
    score_delta: r.scoreDelta ?? null,
    score_after: r.scoreAfter ?? null,
    data: r.data ?? {},
    occurred_at: r.occurredAt.toISOString(),
  }));
  return sql`insert into activity (id, company_id, lead_id, type, reason, score_delta, score_after, data, occurred_at)
        select id, company_id, lead_id, type, reason, score_delta, score_after, data, occurred_at
        from jsonb_to_recordset(${json(rows)}) as t(id uuid, company_id uuid, lead_id uuid, type text, reason text,
             score_delta int, score_after int, data jsonb, occurred_at timestamptz)`;
}
