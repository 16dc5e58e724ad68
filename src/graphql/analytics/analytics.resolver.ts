import { Args, Ctx, Query, Resolver } from 'type-graphql';
import { Authorized } from '../authorization.js';
import { companyScope, type Context } from '../context.js';
import { listCost } from '../../model/query-cost.js';
import { companyAnalytics, sequenceAnalytics, sequenceTimeSeries } from '../../analytics/analytics.service.js';
import { CompanyAnalyticsArgs, SequenceAnalyticsArgs, SequenceTimeSeriesArgs } from '../../analytics/dto/analytics.args.js';
import { MAX_SERIES_LENGTH } from '../../analytics/period.js';
import { AnalyticsPoint, CompanyAnalytics, SequenceAnalytics } from './analytics.output.js';

@Resolver()
export class AnalyticsResolver {
  @Authorized()
  @Query(() => SequenceAnalytics, {
    description:
      'How a sequence did over a period, in total and per step: counts by cohort of send time and their rates. The period ends are quarter hours (counts are kept per 15 minutes), at most 366 days apart.',
  })
  sequenceAnalytics(@Args(() => SequenceAnalyticsArgs) args: SequenceAnalyticsArgs, @Ctx() context: Context) {
    return sequenceAnalytics(companyScope(context), args);
  }

  @Authorized()
  @Query(() => [AnalyticsPoint], {
    description:
      "A sequence's counts and rates per local hour, day or ISO week (Monday) in the company's time zone, daylight-saving changes included: every interval of the period, empty ones too, oldest first.",
    complexity: listCost(MAX_SERIES_LENGTH),
  })
  sequenceTimeSeries(@Args(() => SequenceTimeSeriesArgs) args: SequenceTimeSeriesArgs, @Ctx() context: Context) {
    return sequenceTimeSeries(companyScope(context), args);
  }

  @Authorized()
  @Query(() => CompanyAnalytics, { description: "The company's counts and rates over a period, across its sequences and per sequence." })
  companyAnalytics(@Args(() => CompanyAnalyticsArgs) args: CompanyAnalyticsArgs, @Ctx() context: Context) {
    return companyAnalytics(companyScope(context), args);
  }
}
