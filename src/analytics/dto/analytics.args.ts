import { ArgsType, Field, ID } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { AnalyticsInterval } from '../analytics.enums.js';

const FROM = 'Start of the period, inclusive: on a quarter hour (…:00, :15, :30, :45, no seconds). Emails count by when they were sent.';
const TO = 'End of the period, exclusive: on a quarter hour, after `from`, at most 366 days after it.';

@ArgsType()
export class CompanyAnalyticsArgs {
  @Field(() => DateTimeResolver, { description: FROM })
  from!: Date;

  @Field(() => DateTimeResolver, { description: TO })
  to!: Date;
}

@ArgsType()
export class SequenceAnalyticsArgs extends CompanyAnalyticsArgs {
  @Field(() => ID, { description: 'The sequence (of the calling company).' })
  sequenceId!: string;
}

@ArgsType()
export class SequenceTimeSeriesArgs extends SequenceAnalyticsArgs {
  @Field(() => AnalyticsInterval, { description: 'The length of each point, in the company’s time zone; at most 400 of them in the period.' })
  interval!: AnalyticsInterval;
}
