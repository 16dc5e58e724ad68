import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Authorized } from '../authorization.js';
import { companyScope, requestScope, type Context } from '../context.js';
import { PageArgs, pageCost } from '../connection.js';
import { listCost } from '../../model/query-cost.js';
import { CreateSequenceInput, UpdateSequenceInput } from '../../sequences/dto/sequence.input.js';
import { EmailPreview, EmailStatusCounts, SequenceConnection, TemplateVariable } from './sequence.output.js';
import { EmailSequence } from '../../model/email-sequence.entity.js';
import { updateSequence } from '../../enrollments/reschedule.js';
import { createSequence, durationDays, emailCounts, getSequence, listSequences, previewEmail } from '../../sequences/sequence.service.js';
import { TEMPLATE_VARIABLES } from '../../templates/template-variables.js';

@Resolver(() => EmailSequence)
export class SequenceResolver {
  @Authorized()
  @Query(() => SequenceConnection, { description: "The company's sequences, oldest first.", complexity: pageCost })
  sequences(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('active', () => Boolean, { nullable: true, description: 'Only active (true) or inactive (false) ones.' }) active: boolean | null,
    @Ctx() context: Context,
  ) {
    return listSequences(companyScope(context), page, active);
  }

  @Authorized()
  @Query(() => EmailSequence, { description: 'One sequence.' })
  sequence(@Arg('id', () => ID) id: string, @Ctx() context: Context): Promise<EmailSequence> {
    return getSequence(companyScope(context), id);
  }

  @FieldResolver(() => Int, { description: 'Number of emails (steps).' })
  totalEmails(@Root() sequence: EmailSequence): number {
    return sequence.steps.length;
  }

  @FieldResolver(() => Int, { description: 'Days from enrollment to the last email (rounded up), before send-window adjustments.' })
  durationDays(@Root() sequence: EmailSequence): number {
    return durationDays(sequence);
  }

  @FieldResolver(() => EmailStatusCounts, { description: 'How many of its emails are in each status.' })
  emailCounts(@Root() sequence: EmailSequence, @Ctx() context: Context) {
    return emailCounts(requestScope(context), sequence.id);
  }

  @Authorized()
  @Mutation(() => EmailSequence, {
    description: 'Creates a sequence. Templates are checked: a syntax error or unknown variable is BAD_USER_INPUT naming the step.',
  })
  createSequence(@Arg('input', () => CreateSequenceInput) input: CreateSequenceInput, @Ctx() context: Context): Promise<EmailSequence> {
    return createSequence(companyScope(context), input);
  }

  @Authorized()
  @Mutation(() => EmailSequence, {
    description:
      'Changes a sequence. Edits apply to emails not yet sent: pending emails are rescheduled, emails of removed steps ' +
      'canceled, new steps scheduled for active and paused enrollments; sent emails keep what was sent.',
  })
  updateSequence(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateSequenceInput) input: UpdateSequenceInput,
    @Ctx() context: Context,
  ): Promise<EmailSequence> {
    return updateSequence(companyScope(context), id, input);
  }

  @Authorized()
  @Query(() => EmailPreview, { description: 'Renders a step (1-based) of a sequence for a lead, as it would be sent (tracking excluded).' })
  previewEmail(
    @Arg('sequenceId', () => ID) sequenceId: string,
    @Arg('step', () => Int) step: number,
    @Arg('leadId', () => ID) leadId: string,
    @Ctx() context: Context,
  ): Promise<EmailPreview> {
    return previewEmail(companyScope(context), sequenceId, step, leadId, context.config.publicUrl);
  }

  @Query(() => [TemplateVariable], {
    description: 'Variables available in subject and body templates (Liquid).',
    complexity: listCost(TEMPLATE_VARIABLES.length),
  })
  templateVariables(): TemplateVariable[] {
    return [...TEMPLATE_VARIABLES];
  }
}
