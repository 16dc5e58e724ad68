import * as chrono from 'chrono-node';
import { DateTime } from 'luxon';

/*
 * When an out-of-office sender is back, read from their own words with chrono-node in English, German, French and
 * Spanish, on the calendar of the lead's time zone. Of every date the text names after today (and within half a
 * year: "back in 2030" is not an out-of-office), the latest wins, since it is the end of the absence; a date that
 * follows "until" ("bis", "jusqu'au", "hasta") is the last day away, so they are back the day after. The enrollment
 * resumes at 09:00 local time that day (its send window, if any, applies on top); with no date, 7 days later.
 */

export const DEFAULT_AWAY_DAYS = 7;
const MAX_AWAY_DAYS = 183;
const RESUME_HOUR = 9;
const MAX_SCANNED = 4_000;
const PARSERS = [chrono.en, chrono.de, chrono.fr, chrono.es];
// Words that make the date after them the last day of the absence (checked just before the date).
const UNTIL = /(until|till|through|thru|bis( einschließlich| zum| am)?|jusqu'?(au|à)|hasta( el)?)\s*(the\s*)?$/i;

export interface ReturnDate {
  /** When to resume. */
  at: Date;
  /** The words the date was read from; null when none was found (the 7-day default). */
  source: string | null;
}

/** When to resume an enrollment paused by an out-of-office `text` received at `received`, for a lead in `timeZone`. */
export function returnDate(text: string, received: Date, timeZone: string): ReturnDate {
  const today = DateTime.fromJSDate(received, { zone: timeZone }).startOf('day');
  const scanned = text.slice(0, MAX_SCANNED);
  let best: { day: DateTime; source: string } | null = null;
  for (const parser of PARSERS) {
    for (const result of parser.parse(scanned, { instant: received, timezone: today.offset }, { forwardDate: true })) {
      // A duration ("in 2 weeks", and English reading the French "11 d(écembre)" as "11 days") is no date the text names.
      if ([...result.tags()].some((tag) => tag.includes('relative'))) continue;
      const end = result.end ?? result.start;
      const year = end.get('year');
      const month = end.get('month');
      const date = end.get('day');
      // A bare time ("after 5 pm") implies its day: no return date.
      if (!year || !month || !date || !(end.isCertain('day') || end.isCertain('weekday'))) continue;
      let day = DateTime.fromObject({ year, month, day: date }, { zone: timeZone });
      if (!day.isValid) continue;
      // A range ("1.–10. Dezember") or "until 10 December": back the day after.
      if (result.end || UNTIL.test(scanned.slice(Math.max(0, result.index - 40), result.index))) day = day.plus({ days: 1 });
      if (day <= today || day.diff(today, 'days').days > MAX_AWAY_DAYS) continue;
      if (!best || day > best.day) best = { day, source: result.text };
    }
  }
  const day = best?.day ?? today.plus({ days: DEFAULT_AWAY_DAYS });
  const at = day.set({ hour: RESUME_HOUR });
  return { at: best ? at.toJSDate() : new Date(Math.max(at.toMillis(), received.getTime())), source: best?.source ?? null };
}
