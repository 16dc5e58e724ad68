import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { isValidTimeZone, nextWindowOpening, sendWindowProblems, stepSendDate, type SendWindow, type StepDelay } from '../src/sequences/schedule.js';

const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';
const KOLKATA = 'Asia/Kolkata';
const HOUR = 3_600_000;
const OFFICE_HOURS: SendWindow = { weekdays: [1, 2, 3, 4, 5], startTime: '09:00', endTime: '17:00' };
const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7];

function days(delayDays: number, delayHours = 0): StepDelay {
  return { delayDays, delayHours };
}

/** The wall-clock reading with offset, e.g. "2026-03-30T10:00:00.000+02:00", so both halves of an assertion are visible. */
function wallClock(date: Date, timeZone: string): string | null {
  return DateTime.fromJSDate(date, { zone: timeZone }).toISO();
}

function hoursBetween(from: Date, to: Date): number {
  return (to.getTime() - from.getTime()) / HOUR;
}

describe('stepSendDate without a window', () => {
  const start = new Date('2026-01-05T10:00:00.000Z');

  it.each([
    [0, '2026-01-05T10:00:00.000Z'],
    [3, '2026-01-08T10:00:00.000Z'],
    [7, '2026-01-12T10:00:00.000Z'],
    [10, '2026-01-15T10:00:00.000Z'],
    [14, '2026-01-19T10:00:00.000Z'],
  ])('default delay of %i days from a UTC start', (delayDays, expected) => {
    expect(stepSendDate(start, days(delayDays), null, 'UTC').toISOString()).toBe(expected);
  });

  it('a zero delay returns start to the millisecond, as a fresh Date', () => {
    const precise = new Date('2026-03-29T00:30:12.345Z');
    const result = stepSendDate(precise, days(0), null, BERLIN);
    expect(result.getTime()).toBe(precise.getTime());
    expect(result).not.toBe(precise);
  });

  it('a zero delay keeps a start in the repeated fall-back hour, not its earlier twin', () => {
    const secondPass = new Date('2026-10-25T01:30:00.000Z');
    expect(wallClock(secondPass, BERLIN)).toBe('2026-10-25T02:30:00.000+01:00');
    expect(stepSendDate(secondPass, days(0), null, BERLIN).toISOString()).toBe('2026-10-25T01:30:00.000Z');
  });

  it('days keep seconds and milliseconds of the start', () => {
    const result = stepSendDate(new Date('2026-01-05T10:11:12.345Z'), days(1), null, 'UTC');
    expect(result.toISOString()).toBe('2026-01-06T10:11:12.345Z');
  });
});

describe('UTC by any of its names', () => {
  it("schedules exactly as Intl's own UTC zone does, with and without a window", () => {
    // "Etc/Universal" is UTC resolved through Intl; the names below take the fast path that never asks Intl.
    const window: SendWindow = { weekdays: [2, 4, 6], startTime: '08:30', endTime: '11:15' };
    for (let i = 0; i < 200; i++) {
      const start = new Date(Date.UTC(2026, 0, 1) + i * 37 * HOUR + i * 61_001);
      const delay = days(i % 15, i % 15 === 0 ? i % 7 : (i % 7) - 3);
      for (const name of ['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT']) {
        expect(stepSendDate(start, delay, null, name).getTime()).toBe(stepSendDate(start, delay, null, 'Etc/Universal').getTime());
        expect(stepSendDate(start, delay, window, name).getTime()).toBe(stepSendDate(start, delay, window, 'Etc/Universal').getTime());
      }
    }
  });
});

describe('stepSendDate counts local calendar days across DST', () => {
  it('Berlin spring-forward: Monday 10:00 + 7 days is next Monday 10:00, 167 hours later', () => {
    const start = new Date('2026-03-23T10:00:00+01:00');
    const result = stepSendDate(start, days(7), null, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-03-30T10:00:00.000+02:00');
    expect(result.toISOString()).toBe('2026-03-30T08:00:00.000Z');
    expect(hoursBetween(start, result)).toBe(167);
  });

  it('Berlin fall-back: Monday 10:00 + 7 days is next Monday 10:00, 169 hours later', () => {
    const start = new Date('2026-10-19T10:00:00+02:00');
    const result = stepSendDate(start, days(7), null, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-10-26T10:00:00.000+01:00');
    expect(result.toISOString()).toBe('2026-10-26T09:00:00.000Z');
    expect(hoursBetween(start, result)).toBe(169);
  });

  it('New York spring-forward: Friday 09:00 + 3 days is Monday 09:00, 71 hours later', () => {
    const start = new Date('2026-03-06T09:00:00-05:00');
    const result = stepSendDate(start, days(3), null, NEW_YORK);
    expect(wallClock(result, NEW_YORK)).toBe('2026-03-09T09:00:00.000-04:00');
    expect(result.toISOString()).toBe('2026-03-09T13:00:00.000Z');
    expect(hoursBetween(start, result)).toBe(71);
  });

  it('New York fall-back: Friday 09:00 + 3 days is Monday 09:00, 73 hours later', () => {
    const start = new Date('2026-10-30T09:00:00-04:00');
    const result = stepSendDate(start, days(3), null, NEW_YORK);
    expect(wallClock(result, NEW_YORK)).toBe('2026-11-02T09:00:00.000-05:00');
    expect(result.toISOString()).toBe('2026-11-02T14:00:00.000Z');
    expect(hoursBetween(start, result)).toBe(73);
  });

  it('the same day in another zone is a different instant', () => {
    const start = new Date('2026-03-27T23:30:00.000Z');
    expect(stepSendDate(start, days(3), null, 'UTC').toISOString()).toBe('2026-03-30T23:30:00.000Z');
    expect(stepSendDate(start, days(3), null, BERLIN).toISOString()).toBe('2026-03-30T22:30:00.000Z');
  });

  it('a wall-clock time in the Berlin spring-forward gap moves to the first existing instant, 03:00', () => {
    // luxon alone would answer 03:30 here, shifting by the gap's length instead.
    const result = stepSendDate(new Date('2026-03-28T02:30:00+01:00'), days(1), null, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-03-29T03:00:00.000+02:00');
    expect(result.toISOString()).toBe('2026-03-29T01:00:00.000Z');
  });

  it('a wall-clock time in the New York spring-forward gap moves to 03:00 EDT', () => {
    const result = stepSendDate(new Date('2026-03-07T02:30:00-05:00'), days(1), null, NEW_YORK);
    expect(wallClock(result, NEW_YORK)).toBe('2026-03-08T03:00:00.000-04:00');
    expect(result.toISOString()).toBe('2026-03-08T07:00:00.000Z');
  });

  it('an ambiguous Berlin fall-back time takes the earlier instant (CEST)', () => {
    // luxon alone would pick the later instant, +01:00.
    const result = stepSendDate(new Date('2026-10-24T02:30:00+02:00'), days(1), null, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-10-25T02:30:00.000+02:00');
    expect(result.toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });

  it('an ambiguous New York fall-back time takes the earlier instant (EDT)', () => {
    const result = stepSendDate(new Date('2026-10-31T01:30:00-04:00'), days(1), null, NEW_YORK);
    expect(result.toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });
});

describe('stepSendDate adds hours as elapsed time', () => {
  it('delayDays 0, delayHours 5 from a UTC start', () => {
    const result = stepSendDate(new Date('2026-01-05T10:00:00.000Z'), days(0, 5), null, 'UTC');
    expect(result.toISOString()).toBe('2026-01-05T15:00:00.000Z');
  });

  it('5 hours across the Berlin spring-forward move the wall clock by 6', () => {
    const start = new Date('2026-03-28T22:00:00+01:00');
    const result = stepSendDate(start, days(0, 5), null, BERLIN);
    expect(hoursBetween(start, result)).toBe(5);
    expect(wallClock(result, BERLIN)).toBe('2026-03-29T04:00:00.000+02:00');
  });

  it('hours are added after the local days', () => {
    const result = stepSendDate(new Date('2026-03-28T10:00:00+01:00'), days(1, 5), null, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-03-29T15:00:00.000+02:00');
    expect(result.toISOString()).toBe('2026-03-29T13:00:00.000Z');
  });

  it('fractional hours are allowed', () => {
    const result = stepSendDate(new Date('2026-01-05T10:00:00.000Z'), days(0, 1.5), null, 'UTC');
    expect(result.toISOString()).toBe('2026-01-05T11:30:00.000Z');
  });

  it('negative delayHours with positive days pull the send earlier', () => {
    const result = stepSendDate(new Date('2026-01-05T10:00:00.000Z'), days(3, -2), null, 'UTC');
    expect(result.toISOString()).toBe('2026-01-08T08:00:00.000Z');
  });

  it('negative delayHours across a DST change count elapsed hours from the local day', () => {
    const result = stepSendDate(new Date('2026-03-23T10:00:00+01:00'), days(7, -3), null, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-03-30T07:00:00.000+02:00');
  });

  it('a non-negative total that a 23-hour day would make negative is clamped to start', () => {
    const start = new Date('2026-03-28T10:00:00+01:00');
    expect(stepSendDate(start, days(1, -24), null, BERLIN).toISOString()).toBe(start.toISOString());
  });

  it.each([
    ['a negative total delay', days(0, -1)],
    ['negative days', days(-1, 48)],
    ['fractional days', days(1.5)],
    ['non-finite hours', days(1, Number.NaN)],
  ])('rejects %s with a RangeError', (_label, delay) => {
    expect(() => stepSendDate(new Date('2026-01-05T10:00:00.000Z'), delay, null, 'UTC')).toThrow(RangeError);
  });
});

describe('stepSendDate with a send window', () => {
  it('a candidate on Saturday moves to Monday 09:00 local', () => {
    const result = stepSendDate(new Date('2026-01-08T12:00:00+01:00'), days(2), OFFICE_HOURS, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-01-12T09:00:00.000+01:00');
    expect(result.toISOString()).toBe('2026-01-12T08:00:00.000Z');
  });

  it('a candidate inside the window is kept', () => {
    const result = stepSendDate(new Date('2026-01-05T10:00:00+01:00'), days(3), OFFICE_HOURS, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-01-08T10:00:00.000+01:00');
  });

  it('hours that push past 17:00 roll to the next allowed day', () => {
    const result = stepSendDate(new Date('2026-01-05T14:00:00+01:00'), days(1, 4), OFFICE_HOURS, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-01-07T09:00:00.000+01:00');
  });

  it('the window is read in the given zone, not in UTC', () => {
    // 08:30 UTC on Monday is 09:30 in Berlin but 03:30 in New York.
    const start = new Date('2026-01-12T08:30:00.000Z');
    expect(stepSendDate(start, days(0), OFFICE_HOURS, BERLIN).toISOString()).toBe('2026-01-12T08:30:00.000Z');
    expect(stepSendDate(start, days(0), OFFICE_HOURS, NEW_YORK).toISOString()).toBe('2026-01-12T14:00:00.000Z');
  });

  it('rejects an invalid window with a RangeError naming the field', () => {
    const broken = { ...OFFICE_HOURS, weekdays: [] };
    expect(() => stepSendDate(new Date('2026-01-05T10:00:00.000Z'), days(1), broken, BERLIN)).toThrow(/weekdays/);
    expect(() => stepSendDate(new Date('2026-01-05T10:00:00.000Z'), days(1), broken, BERLIN)).toThrow(RangeError);
  });
});

describe('nextWindowOpening', () => {
  it.each([
    ['Saturday noon → Monday 09:00', '2026-01-10T12:00:00+01:00', '2026-01-12T09:00:00.000+01:00'],
    ['Sunday night → Monday 09:00', '2026-01-11T23:59:00+01:00', '2026-01-12T09:00:00.000+01:00'],
    ['Tuesday 18:30 → Wednesday 09:00', '2026-01-13T18:30:00+01:00', '2026-01-14T09:00:00.000+01:00'],
    ['Friday 17:30 → Monday 09:00', '2026-01-16T17:30:00+01:00', '2026-01-19T09:00:00.000+01:00'],
    ['Wednesday 07:15 → same day 09:00', '2026-01-14T07:15:00+01:00', '2026-01-14T09:00:00.000+01:00'],
    ['Wednesday 00:00 → same day 09:00', '2026-01-14T00:00:00+01:00', '2026-01-14T09:00:00.000+01:00'],
    ['exactly 17:00 is outside → next day 09:00', '2026-01-14T17:00:00+01:00', '2026-01-15T09:00:00.000+01:00'],
  ])('%s (Berlin, Mon–Fri 09:00–17:00)', (_label, at, expected) => {
    expect(wallClock(nextWindowOpening(new Date(at), OFFICE_HOURS, BERLIN), BERLIN)).toBe(expected);
  });

  it.each([
    ['exactly 09:00 (inclusive start)', '2026-01-14T09:00:00.000+01:00'],
    ['the last millisecond before 17:00', '2026-01-14T16:59:59.999+01:00'],
    ['midday', '2026-01-14T12:34:56.789+01:00'],
  ])('keeps %s unchanged', (_label, at) => {
    const inside = new Date(at);
    expect(nextWindowOpening(inside, OFFICE_HOURS, BERLIN).getTime()).toBe(inside.getTime());
  });

  it('the end of the week wraps to the next allowed weekday', () => {
    const mondaysOnly: SendWindow = { weekdays: [1], startTime: '08:00', endTime: '12:00' };
    const result = nextWindowOpening(new Date('2026-01-12T12:00:00+01:00'), mondaysOnly, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-01-19T08:00:00.000+01:00');
  });

  it('an opening inside the Berlin spring-forward gap moves to 03:00 local', () => {
    const window: SendWindow = { weekdays: [7], startTime: '02:30', endTime: '17:00' };
    const result = nextWindowOpening(new Date('2026-03-28T20:00:00+01:00'), window, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-03-29T03:00:00.000+02:00');
    expect(result.toISOString()).toBe('2026-03-29T01:00:00.000Z');
  });

  it('an opening inside the gap on the same day moves to 03:00 local', () => {
    const window: SendWindow = { weekdays: EVERY_DAY, startTime: '02:30', endTime: '17:00' };
    const result = nextWindowOpening(new Date('2026-03-29T00:30:00+01:00'), window, BERLIN);
    expect(result.toISOString()).toBe('2026-03-29T01:00:00.000Z');
  });

  it('a window lying wholly inside the gap still opens at the first existing instant of that day', () => {
    const window: SendWindow = { weekdays: EVERY_DAY, startTime: '02:00', endTime: '02:45' };
    const result = nextWindowOpening(new Date('2026-03-29T01:00:00+01:00'), window, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-03-29T03:00:00.000+02:00');
  });

  it('an opening inside the New York spring-forward gap moves to 03:00 EDT', () => {
    const window: SendWindow = { weekdays: [7], startTime: '02:15', endTime: '10:00' };
    const result = nextWindowOpening(new Date('2026-03-07T12:00:00-05:00'), window, NEW_YORK);
    expect(wallClock(result, NEW_YORK)).toBe('2026-03-08T03:00:00.000-04:00');
    expect(result.toISOString()).toBe('2026-03-08T07:00:00.000Z');
  });

  it('a repeated fall-back opening takes the earlier instant when both are still ahead', () => {
    const window: SendWindow = { weekdays: EVERY_DAY, startTime: '02:30', endTime: '17:00' };
    const result = nextWindowOpening(new Date('2026-10-25T02:15:00+02:00'), window, BERLIN);
    expect(result.toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });

  it('falling back from after closing re-enters the window at the transition', () => {
    // 02:50 CEST is past a 02:30 close, but at 03:00 CEST the clock reads 02:00 CET, inside 01:30–02:30 again.
    const window: SendWindow = { weekdays: [7], startTime: '01:30', endTime: '02:30' };
    const result = nextWindowOpening(new Date('2026-10-25T02:50:00+02:00'), window, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-10-25T02:00:00.000+01:00');
    expect(result.toISOString()).toBe('2026-10-25T01:00:00.000Z');
  });

  it('a repeated fall-back opening never goes back before `at`', () => {
    const window: SendWindow = { weekdays: EVERY_DAY, startTime: '02:30', endTime: '17:00' };
    const secondPass = new Date('2026-10-25T02:15:00+01:00');
    const result = nextWindowOpening(secondPass, window, BERLIN);
    expect(wallClock(result, BERLIN)).toBe('2026-10-25T02:30:00.000+01:00');
    expect(result.toISOString()).toBe('2026-10-25T01:30:00.000Z');
  });

  describe('in Asia/Kolkata (UTC+05:30)', () => {
    it('08:30 local opens at 09:00 local, 03:30 UTC', () => {
      const result = nextWindowOpening(new Date('2026-01-12T03:00:00.000Z'), OFFICE_HOURS, KOLKATA);
      expect(wallClock(result, KOLKATA)).toBe('2026-01-12T09:00:00.000+05:30');
      expect(result.toISOString()).toBe('2026-01-12T03:30:00.000Z');
    });

    it('16:59 local is inside', () => {
      const at = new Date('2026-01-12T11:29:00.000Z');
      expect(nextWindowOpening(at, OFFICE_HOURS, KOLKATA).getTime()).toBe(at.getTime());
    });

    it('17:00 local is outside and rolls to the next day 09:00', () => {
      const result = nextWindowOpening(new Date('2026-01-12T11:30:00.000Z'), OFFICE_HOURS, KOLKATA);
      expect(result.toISOString()).toBe('2026-01-13T03:30:00.000Z');
    });

    it('the local weekday decides, not the UTC weekday', () => {
      // Friday 20:00 UTC is already Saturday 01:30 in Kolkata.
      const result = nextWindowOpening(new Date('2026-01-16T20:00:00.000Z'), OFFICE_HOURS, KOLKATA);
      expect(wallClock(result, KOLKATA)).toBe('2026-01-19T09:00:00.000+05:30');
    });
  });

  describe('agrees with a minute-by-minute scan through DST weeks', () => {
    const windows: SendWindow[] = [
      OFFICE_HOURS,
      { weekdays: [1, 3, 6, 7], startTime: '02:30', endTime: '17:00' },
      { weekdays: [7], startTime: '01:30', endTime: '02:30' },
    ];
    const weeks = [
      [BERLIN, '2026-03-25T00:00:00.000Z'],
      [BERLIN, '2026-10-21T00:00:00.000Z'],
      [NEW_YORK, '2026-03-05T00:00:00.000Z'],
      [NEW_YORK, '2026-10-29T00:00:00.000Z'],
    ] as const;

    /**
     * The first instant at or after `at` whose local weekday and time fall inside the window. Every window bound and DST
     * change in these zones lies on a half-hour, so after `at` itself only half-hours need checking.
     */
    function scanForOpening(at: number, window: SendWindow, timeZone: string): number {
      const minutesOf = (time: string): number => Number(time.slice(0, 2)) * 60 + Number(time.slice(3));
      const isInside = (t: number): boolean => {
        const local = DateTime.fromMillis(t, { zone: timeZone });
        const minutes = local.hour * 60 + local.minute;
        return window.weekdays.includes(local.weekday) && minutes >= minutesOf(window.startTime) && minutes < minutesOf(window.endTime);
      };
      if (isInside(at)) return at;
      const halfHour = 30 * 60_000;
      for (let t = Math.floor(at / halfHour) * halfHour + halfHour; ; t += halfHour) {
        if (isInside(t)) return t;
      }
    }

    it.each(weeks)('%s from %s', (timeZone, from) => {
      const first = Date.parse(from);
      for (const window of windows) {
        for (let at = first; at < first + 7 * 24 * HOUR; at += 25 * 60_000) {
          expect(nextWindowOpening(new Date(at), window, timeZone).getTime(), new Date(at).toISOString()).toBe(scanForOpening(at, window, timeZone));
        }
      }
    });
  });

  it.each(['Mars/Base', '', '+02:00'])('rejects the time zone %j with a RangeError', (timeZone) => {
    expect(() => nextWindowOpening(new Date('2026-01-12T08:00:00.000Z'), OFFICE_HOURS, timeZone)).toThrow(RangeError);
    expect(() => stepSendDate(new Date('2026-01-12T08:00:00.000Z'), days(1), null, timeZone)).toThrow(/time zone/);
  });

  it('rejects an invalid Date with a RangeError', () => {
    expect(() => nextWindowOpening(new Date('nonsense'), OFFICE_HOURS, BERLIN)).toThrow(RangeError);
    expect(() => stepSendDate(new Date('nonsense'), days(1), null, BERLIN)).toThrow(RangeError);
  });
});

describe('sendWindowProblems', () => {
  it('a valid window has no problems', () => {
    expect(sendWindowProblems(OFFICE_HOURS)).toEqual([]);
    expect(sendWindowProblems({ weekdays: EVERY_DAY, startTime: '00:00', endTime: '23:59' })).toEqual([]);
  });

  it.each([
    ['empty weekdays', { weekdays: [] }, /^weekdays must/],
    ['weekday 0', { weekdays: [0, 1] }, /^weekdays must/],
    ['weekday 8', { weekdays: [8] }, /^weekdays must/],
    ['a fractional weekday', { weekdays: [1.5] }, /^weekdays must/],
    ['duplicate weekdays', { weekdays: [1, 2, 2] }, /^weekdays must not contain duplicates/],
    ['startTime "9:00"', { startTime: '9:00' }, /^startTime must/],
    ['startTime "24:00"', { startTime: '24:00' }, /^startTime must/],
    ['startTime "ab:cd"', { startTime: 'ab:cd' }, /^startTime must/],
    ['endTime "24:00"', { endTime: '24:00' }, /^endTime must/],
    ['endTime "17:60"', { endTime: '17:60' }, /^endTime must/],
    ['endTime "17:00:00"', { endTime: '17:00:00' }, /^endTime must/],
    ['end equal to start', { startTime: '09:00', endTime: '09:00' }, /^endTime must be later than startTime/],
    ['end before start', { startTime: '17:00', endTime: '09:00' }, /^endTime must be later than startTime/],
  ] satisfies [string, Partial<SendWindow>, RegExp][])('reports %s', (_label, change, problem) => {
    const problems = sendWindowProblems({ ...OFFICE_HOURS, ...change });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });

  it('reports every problem at once', () => {
    const problems = sendWindowProblems({ weekdays: [9, 9], startTime: '7', endTime: 'x' });
    expect(problems).toHaveLength(4);
  });
});

describe('isValidTimeZone', () => {
  it.each(['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Etc/GMT+2'])('accepts %j', (timeZone) => {
    expect(isValidTimeZone(timeZone)).toBe(true);
  });

  it.each(['', 'Mars/Base', '+02:00', '-05:00', 'UTC+2', 'Europe/Berlin ', 'Not a zone'])('rejects %j', (timeZone) => {
    expect(isValidTimeZone(timeZone)).toBe(false);
  });
});
