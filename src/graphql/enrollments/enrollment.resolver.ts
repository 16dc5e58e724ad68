import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { companyIdOf, companyOf, type Context } from '../context.js';
import { PageArgs } from '../connection.js';
import { Lead } from '../../model/lead.entity.js';
import { leadSequenceStatus, listPendingEmails } from '../../enrollments/enrollment-queries.js';
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

  @FieldResolver(() => [SequenceEmail], { description: 'Its emails, in sequence order.' })
  emails(@Root() enrollment: Enrollment, @Ctx() context: Context): Promise<SequenceEmail[]> {
    return context.em.find(SequenceEmail, { enrollment: enrollment.id }, { orderBy: { emailNumber: 'asc' } });
  }

  @Authorized()
  @Query(() => LeadSequenceStatus, { description: 'Each enrollment of a lead with its emails, and the next scheduled email.' })
  leadSequenceStatus(@Arg('leadId', () => ID) leadId: string, @Ctx() context: Context) {
    return leadSequenceStatus(context.em, companyIdOf(context), leadId);
  }

  @Authorized()
  @Query(() => SequenceEmailConnection, { description: 'Pending emails of active enrollments due by `dueBefore`, oldest first.' })
  pendingEmails(
    @Arg('dueBefore', () => DateTimeResolver, { nullable: true, description: 'Defaults to now.' }) dueBefore: Date | null,
    @Args(() => PageArgs) page: PageArgs,
    @Ctx() context: Context,
  ) {
    return listPendingEmails(context.em, companyIdOf(context), dueBefore ?? context.clock.now(), page);
  }

  @Authorized()
  @Mutation(() => Enrollment, {
    description: 'Enrolls a lead in a sequence. Idempotent: an active enrollment is returned and nothing is created. A suppressed lead is CONFLICT.',
  })
  async startSequence(@Arg('leadId', () => ID) leadId: string, @Arg('sequenceId', () => ID, SEQUENCE_ARG) sequenceId: string | null, @Ctx() context: Context) {
    return startSequence(context.em, await companyOf(context), leadId, sequenceId, context.clock.now());
  }

  @Authorized()
  @Mutation(() => Enrollment, { description: 'Stops an enrollment for good; its pending emails are canceled.' })
  stopSequence(@Arg('leadId', () => ID) leadId: string, @Arg('sequenceId', () => ID, SEQUENCE_ARG) sequenceId: string | null, @Ctx() context: Context) {
    return stopSequence(context.em, companyIdOf(context), leadId, sequenceId, context.clock.now());
  }

  @Authorized()
  @Mutation(() => Enrollment, { description: 'Pauses an enrollment: nothing is sent until it is resumed.' })
  pauseSequence(@Arg('leadId', () => ID) leadId: string, @Arg('sequenceId', () => ID, SEQUENCE_ARG) sequenceId: string | null, @Ctx() context: Context) {
    return pauseSequence(context.em, companyIdOf(context), leadId, sequenceId, context.clock.now());
  }

  @Authorized()
  @Mutation(() => Enrollment, { description: 'Resumes a paused enrollment: the remaining emails are rescheduled from now, keeping their spacing.' })
  async resumeSequence(@Arg('leadId', () => ID) leadId: string, @Arg('sequenceId', () => ID, SEQUENCE_ARG) sequenceId: string | null, @Ctx() context: Context) {
    return resumeSequence(context.em, await companyOf(context), leadId, sequenceId, context.clock.now());
  }
}
