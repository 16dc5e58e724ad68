import type { EntityManager } from '@mikro-orm/postgresql';
import { bucketCeil, bucketFloor, sendWindowCounts } from '../../analytics/windows.js';
import type { DeliverabilityLevels } from '../../core/config.js';
import { json, query, sql } from '../../db/sql.js';
import { DeliverabilityState } from '../../model/sequence.enums.js';
import { publish, Topic, type DeliverabilityWindowSnapshot } from '../../state/events.js';
import { windowOf, WINDOW_DAYS, type Verdict } from './levels.js';

/*
 * The guard's state on the company row (migration deliverability_guard) and the only code that writes it. Every
 * write is conditional on the version it was judged from and bumps it, and publishes in the same transaction
 * (pg_notify is delivered on commit only): two processes judging at once publish once, the loser judges again from
 * what the winner wrote, and a judgement made before a pause and a resume cannot land after them.
 */

const DAY_MS = 86_400_000;

/** What the resume's own 15-minute bucket had counted when the operator resumed: subtracted from the windows. */
export interface Baseline {
  sent: number;
  bouncedPermanent: number;
  complained: number;
}

export interface GuardRow {
  state: DeliverabilityState;
  version: number;
  reason: string | null;
  changed_at: Date | null;
  paused_at: Date | null;
  counting_since: Date | null;
  baseline: Baseline | null;
  resumed_at: Date | null;
  resumed_by: string | null;
}

/** The company's guard state; undefined for an unknown company. */
export async function readGuardRow(em: EntityManager, companyId: string): Promise<GuardRow | undefined> {
  const [row] = await query<GuardRow>(
    em,
    sql`select deliverability_state as state, deliverability_version as version, deliverability_reason as reason,
               deliverability_changed_at as changed_at, sending_paused_at as paused_at, deliverability_counting_since as counting_since,
               deliverability_baseline as baseline, sending_resumed_at as resumed_at, sending_resumed_by as resumed_by
        from company where id = ${companyId}::uuid`,
  );
  if (!row) return undefined;
  // Timestamps arrive as PostgreSQL's text from raw SQL.
  const date = (value: Date | string | null) => (value === null ? null : new Date(value));
  return {
    ...row,
    changed_at: date(row.changed_at),
    paused_at: date(row.paused_at),
    counting_since: date(row.counting_since),
    resumed_at: date(row.resumed_at),
  };
}

/**
 * The rolling windows ending now. After a resume they start at it: from the start of its 15-minute bucket (the
 * counters' grain), less what that bucket had counted at the resume, so sends just after a resume count and the
 * bounces that paused the company do not.
 */
export async function measureWindows(em: EntityManager, companyId: string, now: Date, row: GuardRow, levels: DeliverabilityLevels) {
  const start = row.counting_since ? bucketFloor(row.counting_since) : null;
  const windows: DeliverabilityWindowSnapshot[] = [];
  for (const days of WINDOW_DAYS) {
    const rolling = new Date(now.getTime() - days * DAY_MS);
    const since = start && start > rolling ? start : rolling;
    const counts = await sendWindowCounts(em, companyId, since, now);
    // sendWindowCounts starts at since's next boundary: the resume's bucket is in the window exactly when that is it.
    const base = start && row.baseline && bucketCeil(since).getTime() === start.getTime() ? row.baseline : null;
    const less = (value: number, minus: number | undefined) => Math.max(0, value - (minus ?? 0));
    windows.push(
      windowOf(
        {
          days,
          sent: less(counts.sent, base?.sent),
          bounced: less(counts.bouncedPermanent, base?.bouncedPermanent),
          complained: less(counts.complained, base?.complained),
        },
        levels.minimumSends,
      ),
    );
  }
  return windows;
}

export interface Transition {
  companyId: string;
  from: GuardRow;
  verdict: Verdict;
  windows: DeliverabilityWindowSnapshot[];
  now: Date;
}

/** Moves the state as judged, if it is still at the version judged from; publishes only if it moved. */
export async function applyVerdict(em: EntityManager, { companyId, from, verdict, windows, now }: Transition): Promise<boolean> {
  const paused = verdict.state === DeliverabilityState.PAUSED;
  const reason = verdict.reason ?? 'Every window is back under the warning levels';
  return em.transactional(async (tx) => {
    const moved = await query<{ id: string }>(
      tx,
      sql`update company set deliverability_state = ${verdict.state}, deliverability_version = deliverability_version + 1,
                 deliverability_reason = ${reason}, deliverability_changed_at = ${now}, sending_paused_at = ${paused ? now : null}
          where id = ${companyId}::uuid and deliverability_version = ${from.version}
          returning id`,
    );
    if (moved.length === 0) return false;
    await publishChange(tx, { companyId, state: verdict.state, previousState: from.state, reason, now, windows });
    return true;
  });
}

/**
 * The operator's resume, in the caller's transaction: PAUSED → OK, counting from now (the current bucket's counts so
 * far as the baseline), recorded with who and when. False when the company was not paused: nothing changes, nothing
 * is published.
 */
export async function resumeGuard(tx: EntityManager, input: { companyId: string; now: Date; by: string; levels: DeliverabilityLevels }): Promise<boolean> {
  const { companyId, now, by, levels } = input;
  const counts = await sendWindowCounts(tx, companyId, bucketFloor(now), now);
  const baseline: Baseline = { sent: counts.sent, bouncedPermanent: counts.bouncedPermanent, complained: counts.complained };
  const reason = `Sending resumed by the ${by}`;
  const moved = await query<{ id: string }>(
    tx,
    sql`update company set deliverability_state = ${DeliverabilityState.OK}, deliverability_version = deliverability_version + 1,
               deliverability_reason = ${reason}, deliverability_changed_at = ${now}, sending_paused_at = null,
               deliverability_counting_since = ${now}, deliverability_baseline = ${json(baseline)},
               sending_resumed_at = ${now}, sending_resumed_by = ${by}
        where id = ${companyId}::uuid and deliverability_state = ${sql.lit(DeliverabilityState.PAUSED)}
        returning id`,
  );
  if (moved.length === 0) return false;
  const windows = WINDOW_DAYS.map((days) => windowOf({ days, sent: 0, bounced: 0, complained: 0 }, levels.minimumSends));
  await publishChange(tx, { companyId, state: DeliverabilityState.OK, previousState: DeliverabilityState.PAUSED, reason, now, windows });
  return true;
}

async function publishChange(
  tx: EntityManager,
  change: {
    companyId: string;
    state: DeliverabilityState;
    previousState: DeliverabilityState;
    reason: string | null;
    now: Date;
    windows: DeliverabilityWindowSnapshot[];
  },
): Promise<void> {
  const { companyId, state, previousState, reason, now, windows } = change;
  await publish(tx, { topic: Topic.DeliverabilityChanged, companyId, state, previousState, reason, at: now.toISOString(), windows });
}
