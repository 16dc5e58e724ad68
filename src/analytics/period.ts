import type { FieldProblem } from '../core/errors.js';
import { AnalyticsInterval } from './analytics.enums.js';
import { BUCKET_MS } from './windows.js';

/*
 * The periods analytics answer for. Counts are kept per 15-minute UTC bucket, so a period whose ends are quarter
 * hours is answered exactly from the rollups; every UTC offset in use is a multiple of 15 minutes, so every local
 * hour, day and week starts on one. An end inside a bucket is refused rather than rounded (a silent rounding would
 * count emails outside the period), and the length is bounded so no answer sums an unbounded number of rows.
 */

/** The longest period, in days. */
export const MAX_PERIOD_DAYS = 366;
/** The most intervals a time series may span (period ÷ interval length; a partial first and last add at most 2 points). */
export const MAX_POINTS = 400;
/** The most points a time series answer holds, for its query cost. */
export const MAX_SERIES_LENGTH = MAX_POINTS + 2;

const HOUR_MS = 3_600_000;
/** The nominal length of each interval (a local day may be 23 or 25 hours; the bound allows for it). */
export const INTERVAL_MS: Record<AnalyticsInterval, number> = {
  [AnalyticsInterval.HOUR]: HOUR_MS,
  [AnalyticsInterval.DAY]: 24 * HOUR_MS,
  [AnalyticsInterval.WEEK]: 7 * 24 * HOUR_MS,
};

/** Problems of a period [from, to): ordered, on quarter hours, at most MAX_PERIOD_DAYS long. */
export function periodProblems(period: { from: Date; to: Date }): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const field of ['from', 'to'] as const) {
    const at = period[field].getTime();
    if (!Number.isFinite(at) || at % BUCKET_MS !== 0) {
      problems.push({ field, message: 'must be on a quarter hour (minutes :00, :15, :30 or :45, no seconds): counts are kept per 15 minutes' });
    }
  }
  const length = period.to.getTime() - period.from.getTime();
  if (!(length > 0)) problems.push({ field: 'to', message: 'must be after `from`' });
  else if (length > MAX_PERIOD_DAYS * 24 * HOUR_MS) problems.push({ field: 'to', message: `the period is at most ${MAX_PERIOD_DAYS} days long` });
  return problems;
}

/** Problems of a time series: its period's, and at most MAX_POINTS intervals. */
export function seriesProblems(series: { from: Date; to: Date; interval: AnalyticsInterval }): FieldProblem[] {
  const problems = periodProblems(series);
  if (problems.length > 0) return problems;
  const intervals = (series.to.getTime() - series.from.getTime()) / INTERVAL_MS[series.interval];
  return intervals > MAX_POINTS
    ? [{ field: 'interval', message: `at most ${MAX_POINTS} ${series.interval.toLowerCase()}s per series: choose a longer interval or a shorter period` }]
    : [];
}
