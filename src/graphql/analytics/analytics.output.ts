import { Field, Float, Int, ObjectType } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { EmailSequence } from '../../model/email-sequence.entity.js';
import { listCost } from '../../model/query-cost.js';
import { MAX_STEPS } from '../../model/sequence-step.js';
import { MAX_SUMMARY_SEQUENCES } from '../../analytics/analytics.service.js';

/*
 * The analytics answers. Counting is by cohort of send time: every outcome of an email counts in the period its
 * email was sent in, whenever the outcome happened (README, Analytics).
 */

@ObjectType({
  description:
    'Counts of emails, by cohort of send time: each outcome of an email (delivered, bounced, opened, …) counts in the period the email was sent in, whenever it happened. An email counts at most once in each counter ("unique"). Emails that never left (failed before SES took them, canceled) count when they were scheduled; enrollments when they were made.',
})
export class EmailCounts {
  @Field(() => Int, { description: 'Leads enrolled in the period (per sequence; 0 on steps).' })
  enrolled!: number;

  @Field(() => Int, { description: 'Emails SES accepted.' })
  sent!: number;

  @Field(() => Int, {
    description:
      'Sent emails known to have arrived: SES reported the delivery, or the email shows it (an open or click, even by a machine, a complaint, an unsubscribe through its link, a reply).',
  })
  delivered!: number;

  @Field(() => Int, { description: 'Sent emails that bounced permanently (the address is bad; it is suppressed). What SES counts as bounces.' })
  bouncedPermanent!: number;

  @Field(() => Int, { description: 'Sent emails that bounced transiently at least once (mailbox full, throttled, undetermined). Not in `bounceRate`.' })
  bouncedTransient!: number;

  @Field(() => Int, { description: 'Sent emails their recipient reported as spam.' })
  complained!: number;

  @Field(() => Int, { description: 'Emails that failed: SES refused them, or rejected them after accepting (those are also in `sent`).' })
  failed!: number;

  @Field(() => Int, { description: 'Emails whose hand-over to SES has an unknown outcome (status UNKNOWN).' })
  unknown!: number;

  @Field(() => Int, { description: 'Emails canceled before sending (enrollment stopped, unsubscribed, …).' })
  canceled!: number;

  @Field(() => Int, { description: 'Sent emails whose unsubscribe link (or one-click header) unsubscribed their recipient.' })
  unsubscribed!: number;

  @Field(() => Int, {
    description: 'Sent emails a person opened (the pixel, or a click, which proves an open when images are off). Machine opens are not in it.',
  })
  uniqueHumanOpens!: number;

  @Field(() => Int, {
    description:
      'Sent emails opened by a machine: privacy proxies (Apple Mail Privacy Protection, Gmail and Yahoo image proxies), scanners, bots, HEAD requests, and opens within seconds of sending. An email may be in both.',
  })
  uniqueMachineOpens!: number;

  @Field(() => Int, { description: 'Sent emails a person clicked a link of.' })
  uniqueHumanClicks!: number;

  @Field(() => Int, {
    description: 'Sent emails whose links a machine followed: security scanners, bots, clicks seconds after sending, several links within seconds.',
  })
  uniqueMachineClicks!: number;

  @Field(() => Int, { description: 'Sent emails the lead answered (a person, not an auto-reply).' })
  replied!: number;
}

@ObjectType({ description: 'Rates of an `EmailCounts`, as fractions from 0 to 1; null when the denominator is 0. Each numerator is part of its denominator.' })
export class EmailRates {
  @Field(() => Float, { nullable: true, description: 'delivered ÷ sent.' })
  deliveryRate!: number | null;

  @Field(() => Float, { nullable: true, description: 'uniqueHumanOpens ÷ delivered. Machine opens are never in it (see machineOpenRate).' })
  openRate!: number | null;

  @Field(() => Float, { nullable: true, description: 'uniqueMachineOpens ÷ delivered, reported beside the open rate.' })
  machineOpenRate!: number | null;

  @Field(() => Float, { nullable: true, description: 'uniqueHumanClicks ÷ delivered.' })
  clickRate!: number | null;

  @Field(() => Float, { nullable: true, description: 'uniqueHumanClicks ÷ uniqueHumanOpens (click-to-open).' })
  clickToOpenRate!: number | null;

  @Field(() => Float, { nullable: true, description: 'bouncedPermanent ÷ sent, as SES counts bounces (transient bounces are not in it).' })
  bounceRate!: number | null;

  @Field(() => Float, { nullable: true, description: 'complained ÷ delivered.' })
  complaintRate!: number | null;

  @Field(() => Float, { nullable: true, description: 'unsubscribed ÷ delivered.' })
  unsubscribeRate!: number | null;

  @Field(() => Float, { nullable: true, description: 'replied ÷ delivered.' })
  replyRate!: number | null;
}

@ObjectType({ description: 'One step (email) of a sequence over a period.' })
export class StepAnalytics {
  @Field(() => Int, { description: 'The step, from 1.' })
  emailNumber!: number;

  @Field(() => EmailCounts, { description: 'Its counts (enrolled is 0: enrollments belong to the sequence).' })
  counts!: EmailCounts;

  @Field(() => EmailRates, { description: 'Its rates.' })
  rates!: EmailRates;
}

@ObjectType({ description: 'How a sequence did over a period, in total and step by step.' })
export class SequenceAnalytics {
  @Field(() => EmailSequence, { description: 'The sequence.' })
  sequence!: EmailSequence;

  @Field(() => DateTimeResolver, { description: 'Start of the period, inclusive.' })
  from!: Date;

  @Field(() => DateTimeResolver, { description: 'End of the period, exclusive.' })
  to!: Date;

  @Field(() => EmailCounts, { description: 'All its steps together, and its enrollments.' })
  counts!: EmailCounts;

  @Field(() => EmailRates, { description: 'The rates of `counts`.' })
  rates!: EmailRates;

  @Field(() => [StepAnalytics], { description: 'Each step, in order (with zeros for a step without emails in the period).', complexity: listCost(MAX_STEPS) })
  steps!: StepAnalytics[];
}

@ObjectType({ description: 'One point of a time series: a local hour, day or week (clipped to the period at its ends).' })
export class AnalyticsPoint {
  @Field(() => DateTimeResolver, {
    description:
      'Where the point starts: the local hour, midnight or Monday, or `from` for a first point that starts before the period. It ends where the next one starts (or at `to`).',
  })
  start!: Date;

  @Field(() => EmailCounts, { description: 'Its counts.' })
  counts!: EmailCounts;

  @Field(() => EmailRates, { description: 'Its rates.' })
  rates!: EmailRates;
}

@ObjectType({ description: 'One sequence in a company summary.' })
export class SequenceSummary {
  @Field(() => EmailSequence, { description: 'The sequence.' })
  sequence!: EmailSequence;

  @Field(() => EmailCounts, { description: 'Its counts over the period.' })
  counts!: EmailCounts;

  @Field(() => EmailRates, { description: 'Its rates.' })
  rates!: EmailRates;
}

@ObjectType({ description: "How the company's email did over a period, across its sequences." })
export class CompanyAnalytics {
  @Field(() => DateTimeResolver, { description: 'Start of the period, inclusive.' })
  from!: Date;

  @Field(() => DateTimeResolver, { description: 'End of the period, exclusive.' })
  to!: Date;

  @Field(() => EmailCounts, { description: 'Every sequence together.' })
  counts!: EmailCounts;

  @Field(() => EmailRates, { description: 'The rates of `counts`.' })
  rates!: EmailRates;

  @Field(() => [SequenceSummary], {
    description: `The sequences with emails or enrollments in the period, most emails sent first; at most ${MAX_SUMMARY_SEQUENCES} (the totals count every one).`,
    complexity: listCost(MAX_SUMMARY_SEQUENCES),
  })
  sequences!: SequenceSummary[];
}
