import type { DeliverabilityLevels } from '../../core/config.js';
import { DeliverabilityState } from '../../model/sequence.enums.js';
import type { DeliverabilityWindowSnapshot } from '../../state/events.js';

/*
 * The guard's judgement, pure (no I/O) so its edges can be tested on their own: rolling windows of a company's sends
 * and their bounce and complaint rates, against the deployment's levels. Rates are counted as SES counts them: of
 * the emails sent in the window, those that bounced permanently (transient bounces do not count) or drew a complaint,
 * each divided by the sends. Counting is by cohort of send time (src/analytics/windows.ts), so bounced ≤ sent.
 */

/** The rolling windows, in days: a short one reacts to a bad import, a long one to a slow drift. */
export const WINDOW_DAYS = [7, 30] as const;

/** SES's own levels for the whole account (shown beside the guard's): review at 5% / 0.1%, pause at 10% / 0.5%. */
export const SES_LEVELS = {
  sesReviewBounceRate: 0.05,
  sesReviewComplaintRate: 0.001,
  sesPauseBounceRate: 0.1,
  sesPauseComplaintRate: 0.005,
} as const;

/** What one window counted: emails sent in it, and of those, the permanent bounces and the complaints so far. */
export interface WindowCounts {
  days: number;
  sent: number;
  bounced: number;
  complained: number;
}

/** A window with its rates; below `minimumSends` it is shown but never triggers anything. */
export function windowOf(counts: WindowCounts, minimumSends: number): DeliverabilityWindowSnapshot {
  const rate = (part: number) => (counts.sent > 0 ? part / counts.sent : null);
  return {
    days: counts.days,
    sent: counts.sent,
    bounced: counts.bounced,
    complained: counts.complained,
    bounceRate: rate(counts.bounced),
    complaintRate: rate(counts.complained),
    enoughVolume: counts.sent >= minimumSends,
  };
}

export interface Verdict {
  state: DeliverabilityState;
  /** Names the rate, the window, the volume and the level; null when OK. */
  reason: string | null;
}

/**
 * The state the windows call for: PAUSED when any window with enough volume reached a pause level, else WARNING when
 * one reached a warning level, else OK. Reaching a level counts (a rate equal to it). The reason names the first
 * window and rate that reached the most severe level (7 days before 30, bounces before complaints).
 */
export function verdictOf(windows: readonly DeliverabilityWindowSnapshot[], levels: DeliverabilityLevels): Verdict {
  const judged = windows.filter((w) => w.enoughVolume);
  for (const [state, bounceLevel, complaintLevel, name] of [
    [DeliverabilityState.PAUSED, levels.pauseBounceRate, levels.pauseComplaintRate, 'pause'],
    [DeliverabilityState.WARNING, levels.warningBounceRate, levels.warningComplaintRate, 'warning'],
  ] as const) {
    for (const window of judged) {
      if (window.bounceRate !== null && window.bounceRate >= bounceLevel) {
        return { state, reason: describe('Bounce', window.bounceRate, window.bounced, window, name, bounceLevel) };
      }
      if (window.complaintRate !== null && window.complaintRate >= complaintLevel) {
        return { state, reason: describe('Complaint', window.complaintRate, window.complained, window, name, complaintLevel) };
      }
    }
  }
  return { state: DeliverabilityState.OK, reason: null };
}

function describe(what: string, rate: number, count: number, window: DeliverabilityWindowSnapshot, name: string, level: number): string {
  return `${what} rate ${percent(rate)} (${count} of ${window.sent} sends) over the last ${window.days} days reached the ${name} level of ${percent(level)}`;
}

/** 0.0818… → "8.18%", 0.003 → "0.3%": enough digits to tell a rate from its level. */
export function percent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(2))}%`;
}
