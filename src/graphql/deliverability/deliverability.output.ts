import { Field, Float, Int, ObjectType } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { listCost } from '../../model/query-cost.js';
import { DeliverabilityState } from '../../model/sequence.enums.js';
import { WINDOW_DAYS } from '../../delivery/guard/levels.js';

/** The windows a `Deliverability` or a change lists (7 and 30 days): the most a `windows` list holds. */
export const windowsCost = listCost(WINDOW_DAYS.length);

@ObjectType({
  description:
    "One rolling window of the company's sends: the emails sent in it and, of those, the permanent bounces and the complaints so far (counted by send time, as SES counts, so bounced ≤ sent). After an operator's resume a window starts at the resume.",
})
export class DeliverabilityWindow {
  @Field(() => Int, { description: 'The window: the last this many days, up to now (edges on 15-minute UTC boundaries).' })
  days!: number;

  @Field(() => Int, { description: 'Emails sent (accepted by SES) in the window.' })
  sent!: number;

  @Field(() => Int, { description: 'Of those, emails that bounced permanently (transient bounces do not count, as for SES).' })
  bounced!: number;

  @Field(() => Int, { description: 'Of those, emails a recipient reported as spam.' })
  complained!: number;

  @Field(() => Float, { nullable: true, description: 'bounced ÷ sent (a fraction: 0.04 is 4%), as SES computes its bounce rate; null with no sends.' })
  bounceRate!: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'complained ÷ sent (a fraction), as SES computes its complaint rate for the guard; null with no sends.',
  })
  complaintRate!: number | null;

  @Field(() => Boolean, { description: 'Whether the window has at least `minimumSends` sends: only then can it raise a warning or pause.' })
  enoughVolume!: boolean;
}

@ObjectType({ description: "The deployment's guard levels, with SES's own account levels beside them. Rates are fractions of the sends (0.04 is 4%)." })
export class DeliverabilityLevels {
  @Field(() => Float, { description: 'A bounce rate at or above this (in a window with enough volume) sets WARNING.' })
  warningBounceRate!: number;

  @Field(() => Float, { description: 'A complaint rate at or above this sets WARNING.' })
  warningComplaintRate!: number;

  @Field(() => Float, { description: "A bounce rate at or above this pauses the company's sending (PAUSED)." })
  pauseBounceRate!: number;

  @Field(() => Float, { description: "A complaint rate at or above this pauses the company's sending (PAUSED)." })
  pauseComplaintRate!: number;

  @Field(() => Float, { description: 'SES puts the whole account under review at this bounce rate (5%).' })
  sesReviewBounceRate!: number;

  @Field(() => Float, { description: 'SES puts the whole account under review at this complaint rate (0.1%).' })
  sesReviewComplaintRate!: number;

  @Field(() => Float, { description: "SES may pause the whole account's sending at this bounce rate (10%)." })
  sesPauseBounceRate!: number;

  @Field(() => Float, { description: "SES may pause the whole account's sending at this complaint rate (0.5%)." })
  sesPauseComplaintRate!: number;

  @Field(() => Int, { description: 'A window with fewer sends than this never raises a warning or pauses (too few to judge).' })
  minimumSends!: number;
}

@ObjectType({
  description:
    "The calling company's deliverability: its bounce and complaint rates over rolling windows against the guard's levels. Crossing a warning level sets WARNING; crossing a pause level pauses this company's sending alone (its due emails wait) until the operator resumes it after review.",
})
export class Deliverability {
  @Field(() => DeliverabilityState, {
    description: 'OK, WARNING or PAUSED. WARNING returns to OK by itself when the rates fall back; PAUSED only by a resume.',
  })
  state!: DeliverabilityState;

  @Field(() => String, { nullable: true, description: 'Why the state last changed: the rate, window, volume and level reached, or the resume.' })
  reason!: string | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the state last changed; null if it never did.' })
  changedAt!: Date | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When sending was paused; null unless PAUSED.' })
  pausedAt!: Date | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the operator last resumed sending; the windows count only sends since then.' })
  resumedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Who last resumed sending (the operator).' })
  resumedBy!: string | null;

  @Field(() => [DeliverabilityWindow], { description: 'The last 7 and 30 days, measured now.', complexity: windowsCost })
  windows!: DeliverabilityWindow[];

  @Field(() => DeliverabilityLevels, { description: 'The levels the windows are judged against, and SES’s own.' })
  levels!: DeliverabilityLevels;
}

@ObjectType({ description: "The company's deliverability state moved: a warning, a pause, a return to OK, or the operator's resume." })
export class DeliverabilityChange {
  @Field(() => DeliverabilityState, { description: 'The state now.' })
  state!: DeliverabilityState;

  @Field(() => DeliverabilityState, { description: 'The state before.' })
  previousState!: DeliverabilityState;

  @Field(() => String, { nullable: true, description: 'Why: the rate, window, volume and level reached, or the resume.' })
  reason!: string | null;

  @Field(() => DateTimeResolver, { description: 'When it moved.' })
  at!: Date;

  @Field(() => [DeliverabilityWindow], { description: 'The windows the move was judged on.', complexity: windowsCost })
  windows!: DeliverabilityWindow[];
}
