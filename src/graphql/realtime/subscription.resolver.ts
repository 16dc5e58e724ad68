import { Args, Ctx, FieldResolver, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { Authorized } from '../authorization.js';
import { companyIdOf, type Context } from '../context.js';
import { NotFoundError } from '../../core/errors.js';
import { LeadErrorReason } from '../../core/error-reasons.js';
import { findEmail, findEnrollment } from '../../model/lookups.js';
import { Lead } from '../../model/lead.entity.js';
import { Enrollment } from '../../model/enrollment.entity.js';
import { SequenceEmail } from '../../model/sequence-email.entity.js';
import { LeadScoreChange } from './lead-score-change.output.js';
import { EmailStatusChangedArgs, EnrollmentChangedArgs, LeadScoreChangedArgs } from './subscription.args.js';
import { Topic, type EmailStatusChangedEvent, type EnrollmentChangedEvent, type LeadScoreChangedEvent, type RealtimeEvent } from '../../state/events.js';
import type { SubscriptionScope } from './pubsub.js';

/*
 * Each subscription is routed to its company's events (the company comes from the connection's API key), and
 * only then narrowed by its arguments: another company's event never reaches a subscriber, whatever lead id it
 * guesses. The narrowing runs when events are delivered, so unwanted events never fill a subscriber's queue.
 * Roots are resolved per event with the event's own EntityManager fork (per-event-context.ts), and load only what
 * the selection needs: a score change loads nothing unless `lead` is selected.
 */

type SubscribeData<A> = SubscribeResolverData<unknown, A, Context>;

/** The subscriber's company first, then what its arguments accept. */
function scope<E extends RealtimeEvent>(context: Context, accept: (event: E) => boolean): SubscriptionScope {
  const companyId = companyIdOf(context);
  return { companyId, accept: (event) => event.companyId === companyId && accept(event as E) };
}

/** An optional argument matches when it is absent or equal. */
function matches(wanted: string | null | undefined, actual: string): boolean {
  return wanted === null || wanted === undefined || wanted === actual;
}

@Resolver()
export class SubscriptionResolver {
  @Authorized()
  @Subscription(() => LeadScoreChange, {
    description: "A lead's score changed (opens, clicks, manual adjustments). Without arguments: every lead of the company.",
    topics: Topic.LeadScoreChanged,
    topicId: ({ args, context }: SubscribeData<LeadScoreChangedArgs>) =>
      scope<LeadScoreChangedEvent>(
        context,
        (event) => matches(args.leadId, event.leadId) && (args.minScore === null || args.minScore === undefined || event.score >= args.minScore),
      ),
  })
  leadScoreChanged(@Root() event: LeadScoreChangedEvent, @Args(() => LeadScoreChangedArgs) _args: LeadScoreChangedArgs): LeadScoreChange {
    return LeadScoreChange.fromEvent(event);
  }

  @Authorized()
  @Subscription(() => SequenceEmail, {
    description:
      "An email's status changed (sent, opened, clicked, bounced, canceled, …): the email as it is now. Without arguments: every email of the company.",
    topics: Topic.EmailStatusChanged,
    topicId: ({ args, context }: SubscribeData<EmailStatusChangedArgs>) =>
      scope<EmailStatusChangedEvent>(context, (event) => matches(args.leadId, event.leadId) && matches(args.sequenceId, event.sequenceId)),
  })
  async emailStatusChanged(
    @Root() event: EmailStatusChangedEvent,
    @Args(() => EmailStatusChangedArgs) _args: EmailStatusChangedArgs,
    @Ctx() context: Context,
  ): Promise<SequenceEmail> {
    return findEmail(context.em, event.companyId, event.emailId);
  }

  @Authorized()
  @Subscription(() => Enrollment, {
    description:
      'An enrollment started, paused, resumed, completed or stopped: the enrollment as it is now, with its status and stop reason. Without arguments: every enrollment of the company.',
    topics: Topic.EnrollmentChanged,
    topicId: ({ args, context }: SubscribeData<EnrollmentChangedArgs>) => scope<EnrollmentChangedEvent>(context, (event) => matches(args.leadId, event.leadId)),
  })
  async enrollmentChanged(
    @Root() event: EnrollmentChangedEvent,
    @Args(() => EnrollmentChangedArgs) _args: EnrollmentChangedArgs,
    @Ctx() context: Context,
  ): Promise<Enrollment> {
    return findEnrollment(context.em, event.companyId, event.enrollmentId);
  }
}

@Resolver(() => LeadScoreChange)
export class LeadScoreChangeResolver {
  @FieldResolver(() => Lead, { description: 'The lead, as it is when the event is delivered (loaded only when selected).' })
  async lead(@Root() change: LeadScoreChange, @Ctx() context: Context): Promise<Lead> {
    const lead = await context.em.findOne(Lead, { id: change.leadId, company: change.companyId });
    if (!lead) throw new NotFoundError(LeadErrorReason.LEAD_NOT_FOUND, change.leadId);
    return lead;
  }
}
