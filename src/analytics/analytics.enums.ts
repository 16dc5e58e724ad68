import { registerEnumType } from 'type-graphql';

/** The length of one point of a time series, in the company's time zone. */
export enum AnalyticsInterval {
  HOUR = 'HOUR',
  DAY = 'DAY',
  WEEK = 'WEEK',
}
registerEnumType(AnalyticsInterval, {
  name: 'AnalyticsInterval',
  description: "The length of one point of a time series, on the calendar of the company's time zone.",
  valuesConfig: {
    HOUR: { description: 'Local hours (a day with a daylight-saving change has 23 or 25 of them).' },
    DAY: { description: 'Local days, midnight to midnight: 23 or 25 hours long on daylight-saving change days.' },
    WEEK: { description: 'ISO weeks, Monday 00:00 to Monday 00:00 local time.' },
  },
});
