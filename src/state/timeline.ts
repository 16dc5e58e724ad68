import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from '../core/ids.js';
import { json, query, sql } from '../db/sql.js';
import type { ActivityType } from '../model/activity.entity.js';

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
  await query(
    em,
    sql`insert into activity (id, company_id, lead_id, type, reason, score_delta, score_after, data, occurred_at)
        select id, company_id, lead_id, type, reason, score_delta, score_after, data, occurred_at
        from jsonb_to_recordset(${json(rows)}) as t(id uuid, company_id uuid, lead_id uuid, type text, reason text,
             score_delta int, score_after int, data jsonb, occurred_at timestamptz)`,
  );
}
