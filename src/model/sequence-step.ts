import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { listCost } from './query-cost.js';

/** The most steps (so emails) a sequence has. */
export const MAX_STEPS = 50;

/** Which time zone a send window is read in. */
export enum WindowTimeZone {
  LEAD = 'LEAD',
  COMPANY = 'COMPANY',
}
registerEnumType(WindowTimeZone, {
  name: 'WindowTimeZone',
  description: 'Time zone a send window is read in.',
  valuesConfig: {
    LEAD: { description: "The lead's time zone, else the company's." },
    COMPANY: { description: "Always the company's time zone." },
  },
});

/** One email of a sequence, stored in the sequence's `steps` jsonb (ordered; step n is email n). */
@ObjectType({ description: 'One email of a sequence: when it is sent after enrollment, and its templates.' })
export class SequenceStep {
  @Field(() => Int, { description: 'Whole days after enrollment (local calendar days in the lead time zone).' })
  delayDays!: number;

  @Field(() => Int, { description: 'Hours added after the days.' })
  delayHours!: number;

  @Field(() => String, { description: 'Subject template (Liquid).' })
  subject!: string;

  @Field(() => String, { description: 'Body template: MJML, or an HTML fragment wrapped in the default layout (Liquid).' })
  body!: string;
}

/** Local hours in which a sequence sends; the input (SendWindowInput) and the scheduler's hours take their shape from it. */
@ObjectType({ description: 'Local days and hours in which a sequence sends; due emails wait for the next opening.' })
export class SendWindow {
  /** Non-empty, no duplicates. */
  @Field(() => [Int], { description: 'ISO weekdays allowed: 1 = Monday … 7 = Sunday.', complexity: listCost(7) })
  weekdays!: number[];

  /** 24-hour clock. */
  @Field(() => String, { description: 'Local opening time, "HH:MM" (inclusive).' })
  startTime!: string;

  /** 24-hour clock; later than startTime on the same day. */
  @Field(() => String, { description: 'Local closing time, "HH:MM" (exclusive).' })
  endTime!: string;

  @Field(() => WindowTimeZone, { description: 'Whose time zone the hours are in.' })
  timeZone!: WindowTimeZone;
}
