import { DateTime, FixedOffsetZone, IANAZone, type Zone } from 'luxon';
import type { SendWindow as StoredSendWindow } from '../model/sequence-step.js';

/** Local sending hours: a stored window without its time-zone choice, which callers resolve to a zone first. */
export type SendWindow = Pick<StoredSendWindow, 'weekdays' | 'startTime' | 'endTime'>;

/** Delay of a step from the enrollment start. */
export interface StepDelay {
  /** Whole local calendar days, may be 0. */
  delayDays: number;
  /** Hours added after the days, as elapsed time; may be negative as long as the total delay is >= 0 (used for re-spacing). */
  delayHours: number;
}

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;
const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/;
// Intl in some Node/ICU versions accepts offsets such as "+02:00"; a fixed offset has no DST rules, so it is not a zone.
const NAMED_ZONE = /^[A-Za-z]/;
// A day can be skipped entirely (Pacific/Apia, 2011-12-30), so a full week of allowed days may need one extra day.
const MAX_DAYS_TO_NEXT_OPENING = 14;

/** Local wall-clock fields of a calendar day and time of day. */
interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  millisOfDay: number;
}

/** Opening and closing as milliseconds after local midnight. */
interface WindowBounds {
  open: number;
  close: number;
}

/** When a step's email is due: start + delay, moved forward into the send window in `timeZone`. */
export function stepSendDate(start: Date, delay: StepDelay, window: SendWindow | null, timeZone: string): Date {
  const zone = zoneOrThrow(timeZone);
  assertValidDate(start, 'start');
  assertValidDelay(delay);
  if (window) assertValidWindow(window);
  const candidate = addDelay(start.getTime(), delay, zone);
  return new Date(window ? nextOpeningMillis(candidate, window, zone) : candidate);
}

/** `at` itself when it is inside the window, else the next moment the window opens (in `timeZone`). */
export function nextWindowOpening(at: Date, window: SendWindow, timeZone: string): Date {
  const zone = zoneOrThrow(timeZone);
  assertValidDate(at, 'at');
  assertValidWindow(window);
  return new Date(nextOpeningMillis(at.getTime(), window, zone));
}

/** Problems with a window, each a short human sentence naming the field; [] when valid. */
export function sendWindowProblems(window: SendWindow): string[] {
  const problems: string[] = [];
  const { weekdays, startTime, endTime } = window;
  if (weekdays.length === 0) problems.push('weekdays must contain at least one day');
  if (weekdays.some((day) => !Number.isInteger(day) || day < 1 || day > 7)) {
    problems.push('weekdays must be whole numbers from 1 (Monday) to 7 (Sunday)');
  }
  if (new Set(weekdays).size !== weekdays.length) problems.push('weekdays must not contain duplicates');
  const start = parseTimeOfDay(startTime);
  const end = parseTimeOfDay(endTime);
  if (start === null) problems.push('startTime must be a 24-hour time "HH:MM" from 00:00 to 23:59');
  if (end === null) problems.push('endTime must be a 24-hour time "HH:MM" from 00:00 to 23:59');
  if (start !== null && end !== null && end <= start) problems.push('endTime must be later than startTime');
  return problems;
}

/**
 * Zone names Intl accepted. Asking Intl builds a DateTimeFormat (tens of microseconds): at import scale that was
 * most of the time. Only valid names are kept, so the set is bounded by the IANA database whatever the input.
 */
const validZones = new Set<string>();

/** True for IANA zone names that luxon/Intl accept (e.g. "Europe/Berlin", "UTC"); false for offsets like "+02:00". */
export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string') return false;
  if (validZones.has(timeZone)) return true;
  const valid = NAMED_ZONE.test(timeZone) && IANAZone.isValidZone(timeZone);
  if (valid) validZones.add(timeZone);
  return valid;
}

/** Names of UTC itself: no transitions ever, so no need to ask Intl for offsets (the default company zone). */
const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT']);

function zoneOrThrow(timeZone: string): Zone {
  if (UTC_NAMES.has(timeZone)) return FixedOffsetZone.utcInstance;
  if (!isValidTimeZone(timeZone)) throw new RangeError(`Invalid time zone ${JSON.stringify(timeZone)}: expected an IANA name such as "Europe/Berlin"`);
  return IANAZone.create(timeZone);
}

function assertValidDate(date: Date, name: string): void {
  if (Number.isNaN(date.getTime())) throw new RangeError(`${name} must be a valid Date`);
}

function assertValidDelay({ delayDays, delayHours }: StepDelay): void {
  if (!Number.isSafeInteger(delayDays) || delayDays < 0) throw new RangeError('delayDays must be a whole number >= 0');
  if (!Number.isFinite(delayHours)) throw new RangeError('delayHours must be a finite number');
  if (delayDays * 24 + delayHours < 0) throw new RangeError('total delay (delayDays * 24 + delayHours) must be >= 0');
}

function assertValidWindow(window: SendWindow): void {
  const problems = sendWindowProblems(window);
  if (problems.length > 0) throw new RangeError(`Invalid send window: ${problems.join('; ')}`);
}

/** Minutes after midnight, or null when not a strict "HH:MM". */
function parseTimeOfDay(text: string): number | null {
  const match = TIME_OF_DAY.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : null;
}

/** Window bounds in milliseconds of the local day; callers have validated the window. */
function windowBounds(window: SendWindow): WindowBounds {
  return {
    open: (parseTimeOfDay(window.startTime) ?? 0) * MS_PER_MINUTE,
    close: (parseTimeOfDay(window.endTime) ?? 0) * MS_PER_MINUTE,
  };
}

function addDelay(startMillis: number, { delayDays, delayHours }: StepDelay, zone: Zone): number {
  // Skipping local resolution for 0 days keeps `start` exact, even for the second pass through a fall-back hour.
  const afterDays = delayDays === 0 ? startMillis : localToInstant(shiftDays(toLocal(startMillis, zone), delayDays), zone);
  // A negative delayHours across a 23-hour DST day could otherwise land before the enrollment itself.
  return Math.max(startMillis, afterDays + Math.round(delayHours * MS_PER_HOUR));
}

function nextOpeningMillis(at: number, window: SendWindow, zone: Zone): number {
  const bounds = windowBounds(window);
  const isInside = (instant: number): boolean => insideWindow(toLocal(instant, zone), window, bounds);
  if (isInside(at)) return at;
  const today = toLocal(at, zone);
  for (let offset = 0; offset <= MAX_DAYS_TO_NEXT_OPENING; offset++) {
    const day = shiftDays(today, offset);
    if (!window.weekdays.includes(isoWeekday(day))) continue;
    const opening = openingOn(day, bounds.open, zone, at);
    // Falling back can carry the wall clock from after closing back into the window: that re-entry is an opening too.
    const transition = transitionOn(day, zone);
    const reentry = transition !== null && transition >= at && isInside(transition) ? transition : null;
    const entries = [opening, reentry].filter((entry): entry is number => entry !== null);
    if (entries.length > 0) return Math.min(...entries);
  }
  throw new RangeError(`No send window opening within ${MAX_DAYS_TO_NEXT_OPENING} days`);
}

function insideWindow(local: LocalDateTime, window: SendWindow, { open, close }: WindowBounds): boolean {
  return window.weekdays.includes(isoWeekday(local)) && local.millisOfDay >= open && local.millisOfDay < close;
}

/** The day's opening instant not before `at`, or null when it is past or a gap pushes it off the day. */
function openingOn(day: LocalDateTime, open: number, zone: Zone, at: number): number | null {
  const target = { ...day, millisOfDay: open };
  const opening = localToInstant(target, zone, at);
  return opening >= at && sameLocalDate(toLocal(opening, zone), target) ? opening : null;
}

/** The instant the zone's offset changes during this local day, or null when it does not. */
function transitionOn(day: LocalDateTime, zone: Zone): number | null {
  const from = localToInstant({ ...day, millisOfDay: 0 }, zone);
  const to = localToInstant({ ...shiftDays(day, 1), millisOfDay: 0 }, zone);
  const before = offsetMillis(zone, from);
  if (offsetMillis(zone, to) === before) return null;
  return firstInstantWhere(from, to, (instant) => offsetMillis(zone, instant) !== before);
}

function toLocal(millis: number, zone: Zone): LocalDateTime {
  const wall = DateTime.fromMillis(millis, { zone });
  const millisOfDay = ((wall.hour * 60 + wall.minute) * 60 + wall.second) * 1000 + wall.millisecond;
  return { year: wall.year, month: wall.month, day: wall.day, millisOfDay };
}

function shiftDays(local: LocalDateTime, days: number): LocalDateTime {
  const date = calendarDate(local).plus({ days });
  return { year: date.year, month: date.month, day: date.day, millisOfDay: local.millisOfDay };
}

function isoWeekday(local: LocalDateTime): number {
  return calendarDate(local).weekday;
}

function sameLocalDate(a: LocalDateTime, b: LocalDateTime): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day;
}

/** The date as midnight UTC, so calendar arithmetic is free of any zone's transitions. */
function calendarDate({ year, month, day }: LocalDateTime): DateTime {
  return DateTime.fromObject({ year, month, day }, { zone: 'utc' });
}

/** Wall-clock fields read as if they were UTC; subtracting the zone offset turns this into the instant. */
function wallMillis(local: LocalDateTime): number {
  return calendarDate(local).toMillis() + local.millisOfDay;
}

function offsetMillis(zone: Zone, instant: number): number {
  return Math.round(zone.offset(instant) * MS_PER_MINUTE);
}

/**
 * The instant showing this wall-clock time: the earliest one not before `notBefore` when the time occurs twice,
 * and the end of the gap (first existing instant) when it does not occur at all.
 */
function localToInstant(local: LocalDateTime, zone: Zone, notBefore = Number.NEGATIVE_INFINITY): number {
  const wall = wallMillis(local);
  // Real offsets stay within ±14 h, so the offsets a day either side bracket every instant that can show `wall`.
  const before = offsetMillis(zone, wall - MS_PER_DAY);
  const after = offsetMillis(zone, wall + MS_PER_DAY);
  const candidates = [...new Set([before, after, offsetMillis(zone, wall - before), offsetMillis(zone, wall - after)])]
    .map((offset) => wall - offset)
    .filter((instant) => instant + offsetMillis(zone, instant) === wall)
    .sort((a, b) => a - b);
  const chosen = candidates.find((instant) => instant >= notBefore) ?? candidates.at(-1);
  return chosen ?? gapEnd(wall, zone, wall - Math.max(before, after), wall - Math.min(before, after));
}

/** First instant whose wall clock reads at least `wall`, searched in (low, high] across a spring-forward gap. */
function gapEnd(wall: number, zone: Zone, low: number, high: number): number {
  return firstInstantWhere(low, high, (instant) => instant + offsetMillis(zone, instant) >= wall);
}

/** Binary search for the first instant in (low, high] where `reached` turns true; it must stay true once it does. */
function firstInstantWhere(low: number, high: number, reached: (instant: number) => boolean): number {
  let lo = low;
  let hi = high;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (reached(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
