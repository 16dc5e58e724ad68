import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Authorized } from '../authorization.js';
import { DateTimeResolver } from 'graphql-scalars';
import { companyScope, requestScope, type Context } from '../context.js';
import { PageArgs, pageCost } from '../connection.js';
import { listCost } from '../../model/query-cost.js';
import { MAX_STEPS } from '../../model/sequence-step.js';
import { Lead } from '../../model/lead.entity.js';
import { leadSequenceStatus, listEnrollmentEmails, listPendingEmails } from '../../enrollments/enrollment-queries.js';
import { LeadSequenceStatus, SequenceEmailConnection } from '../sequences/sequence.output.js';
import { EmailSequence } from '../../model/email-sequence.entity.js';
import { Enrollment } from '../../model/enrollment.entity.js';
import { pauseSequence, resumeSequence, startSequence, stopSequence } from '../../enrollments/enrollment-lifecycle.js';
import { SequenceEmail } from '../../model/sequence-email.entity.js';

const SEQUENCE_ARG = { nullable: true, description: "The sequence; the company's default sequence when omitted." } as const;

@Resolver(() => Enrollment)
export class EnrollmentResolver {
  @FieldResolver(() => EmailSequence, { description: 'The sequence.' })
  sequence(@Root() enrollment: Enrollment): Promise<EmailSequence> {
    return enrollment.sequence.loadOrFail();
  }

  @FieldResolver(() => Lead, { description: 'The lead.' })
  lead(@Root() enrollment: Enrollment): Promise<Lead> {
    return enrollment.lead.loadOrFail();
  }

  @FieldResolver(() => [SequenceEmail], { description: 'Its emails, in sequence order.', complexity: listCost(MAX_STEPS) }) // one per step
  emails(@Root() enrollment: Enrollment, @Ctx() context: Context): Promise<SequenceEmail[]> {
    return listEnrollmentEmails(requestScope(context), enrollment.id);
  }

  @Authorized()
  @Query(() => LeadSequenceStatus, { description: 'Each enrollment of a lead with its emails, and the next scheduled email.' })
  leadSequenceStatus(@Arg('leadId', () => ID) leadId: string, @Ctx() context: Context) {
    return leadSequenceStatus(companyScope(context), leadId);
  }

  @Authorized()
  @Query(() => SequenceEmailConnection, { description: 'Pending emails of active enrollments due by `dueBefore`, oldest first.', complexity: pageCost })
  pendingEmails(
    @Arg('dueBefore', () => DateTimeResolver, { nullable: true, description: 'Defaults to now.' }) dueBefore: Date | null,
    @Args(() => PageArgs) page: PageArgs,
    @Ctx() context: Context,
  ) {
    return listPendingEmails(companyScope(context), dueBefore, page);
  }

  @Authorized()
  @Mutation(() => Enrollment, {
    description: 'Enrolls a lead in a sequence. Idempotent: an active enrollment is returned and nothing is created. A suppressed lead is CONFLICT.',
  })
  startSequence(@Arg('leadId', () => ID) leadId: string, @Arg('sequenceId', () => ID, SEQUENCE_ARG) sequenceId: string | null, @Ctx() context: Context) {
    return startSequence(companyScope(context), leadId, sequenceId);
  }

  @Authorized()
  @Mutation(() => Enrollment, { description: 'Stops an enrollment for good; its pending emails are canceled.' })
  stopSequence(@Arg('leadId', () => ID) leadId: string, @Arg('sequenceId', () => ID, SEQUENCE_ARG) sequenceId: string | null, @Ctx() context: Context) {
    return stopSequence(companyScope(context), leadId, sequenceId);
  }

  @Authorized()
  @Mutation(() => Enrollment, { description: 'Pauses an enrollment: nothing is sent until it is resumed.' })
  pauseSequence(@Arg('leadId', () => ID) leadId: string, @Arg('sequenceId', () => ID, SEQUENCE_ARG) sequenceId: string | null, @Ctx() context: Context) {
    return pauseSequence(companyScope(context), leadId, sequenceId);
  }

  @Authorized()
  @Mutation(() => Enrollment, { description: 'Resumes a paused enrollment: the remaining emails are rescheduled from now, keeping their spacing.' })
  resumeSequence(@Arg('leadId', () => ID) leadId: string, @Arg('sequenceId', () => ID, SEQUENCE_ARG) sequenceId: string | null, @Ctx() context: Context) {
    return resumeSequence(companyScope(context), leadId, sequenceId);
  }
}
