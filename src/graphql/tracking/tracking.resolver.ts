import { Arg, Args, Authorized, Ctx, Field, ID, InputType, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Company } from '../../model/company.entity.js';
import { companyIdOf, companyOf, type Context } from '../context.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { query, sql } from '../../db/sql.js';
import { keysetAfter, paginate, type ConnectionResult } from '../../db/pagination.js';
import { Connection, PageArgs } from '../connection.js';
import { Lead } from '../../model/lead.entity.js';
import { SuppressionReason } from '../../model/suppression.entity.js';
import { liftUnsubscribe, suppressAddress } from '../../suppression/suppression.service.js';
import { findLead } from '../../model/lookups.js';
import { SequenceEmail } from '../../model/sequence-email.entity.js';
import { EmailEvent } from '../../model/email-event.entity.js';

@InputType({ description: 'Points for engagement. Each applies to the first human open or click of each email.' })
class ScoringRulesInput {
  @Field(() => Int, { description: 'Points for the first human open of an email, 0 to 100.' })
  openPoints!: number;

  @Field(() => Int, { description: 'Points for the first human click in an email, 0 to 100.' })
  clickPoints!: number;

  @Field(() => Int, { defaultValue: 100, description: 'Cap on lead scores, 1 to 100.' })
  maxScore: number = 100;
}

const EmailEventConnection = Connection(EmailEvent, 'EmailEvent', "A page of an email's events, oldest first.");

@Resolver()
export class TrackingResolver {
  @Authorized()
  @Mutation(() => SequenceEmail, { description: 'Records an open of a sent email for an API client (its own pixel, say): same rules as the tracking pixel.' })
  async trackOpen(@Arg('emailId', () => ID) emailId: string, @Ctx() context: Context): Promise<SequenceEmail> {
    const email = await sentEmail(context, emailId);
    await context.recorder.record({ kind: 'OPEN', emailId: email.id, companyId: companyIdOf(context), method: 'POST', userAgent: null, at: context.clock.now() });
    return context.em.refresh(email) as Promise<SequenceEmail>;
  }

  @Authorized()
  @Mutation(() => SequenceEmail, { description: 'Records a click on one of the links of a sent email (the original URL): same rules as the redirect.' })
  async trackClick(@Arg('emailId', () => ID) emailId: string, @Arg('url', () => String) url: string, @Ctx() context: Context): Promise<SequenceEmail> {
    const email = await sentEmail(context, emailId);
    const result = await context.recorder.record({ kind: 'CLICK', emailId: email.id, companyId: companyIdOf(context), url, method: 'POST', userAgent: null, at: context.clock.now() });
    if (!result.recorded) throw InvalidInputError.field('url', 'is not a link of this email');
    return context.em.refresh(email) as Promise<SequenceEmail>;
  }

  @Authorized()
  @Query(() => EmailEventConnection, {
    description: 'Opens, clicks and SES events of an email, oldest first, each with its human/machine verdict. Paginated: a scanned email can have thousands.',
  })
  async emailEvents(@Arg('emailId', () => ID) emailId: string, @Args(() => PageArgs) page: PageArgs, @Ctx() context: Context): Promise<ConnectionResult<EmailEvent>> {
    const companyId = companyIdOf(context);
    if (!isUuid(emailId) || !(await context.em.count(SequenceEmail, { id: emailId, company: companyId }))) throw new NotFoundError('Email', emailId);
    const where = { email: emailId, company: companyId };
    return paginate({
      args: page,
      keys: ['date', 'uuid'],
      fetch: (limit, after) =>
        context.em.find(EmailEvent, after ? { $and: [where, keysetAfter('occurredAt', 'asc', new Date(after[0] as string), after[1])] } : where, {
          orderBy: [{ occurredAt: 'asc' }, { id: 'asc' }],
          limit,
        }),
      keyOf: (event) => [event.occurredAt.toISOString(), event.id],
      count: () => context.em.count(EmailEvent, where),
    });
  }

  @Authorized()
  @Mutation(() => Lead, { description: "Unsubscribes a lead: its address is suppressed for the company, its enrollments stop, pending emails are canceled." })
  async unsubscribeLead(@Arg('leadId', () => ID) leadId: string, @Ctx() context: Context): Promise<Lead> {
    const companyId = companyIdOf(context);
    const now = context.clock.now();
    return context.em.transactional(async (tx) => {
      const lead = await findLead(tx, companyId, leadId);
      if (!lead.email) throw new ConflictError('LEAD_HAS_NO_EMAIL', 'The lead has no email address');
      await suppressAddress(tx, { companyId, email: lead.email, reason: SuppressionReason.UNSUBSCRIBED, now, detail: 'Unsubscribed through the API' });
      await tx.refresh(lead);
      return lead;
    });
  }

  @Authorized()
  @Mutation(() => Lead, { description: 'Lifts an unsubscribe (the lead asked to hear from you again). A bounced or complaining address stays suppressed.' })
  async resubscribeLead(@Arg('leadId', () => ID) leadId: string, @Ctx() context: Context): Promise<Lead> {
    const companyId = companyIdOf(context);
    return context.em.transactional(async (tx) => {
      const lead = await findLead(tx, companyId, leadId);
      if (!lead.email) throw new ConflictError('LEAD_HAS_NO_EMAIL', 'The lead has no email address');
      const [other] = await query<{ reason: string }>(tx, sql`select reason from suppression where company_id = ${companyId}::uuid and email = ${lead.email} and reason <> 'UNSUBSCRIBED'`);
      if (other) throw new ConflictError('ADDRESS_SUPPRESSED', `The address stays suppressed (${other.reason.toLowerCase().replace('_', ' ')})`);
      await liftUnsubscribe(tx, { companyId, leadId: lead.id, email: lead.email, now: context.clock.now() });
      await tx.refresh(lead);
      return lead;
    });
  }

  @Authorized()
  @Mutation(() => Company, { description: "Sets how engagement raises this company's lead scores (applies to events from now on)." })
  async updateScoringRules(@Arg('input', () => ScoringRulesInput) input: ScoringRulesInput, @Ctx() context: Context): Promise<Company> {
    const problems = [
      ...(!Number.isInteger(input.openPoints) || input.openPoints < 0 || input.openPoints > 100 ? [{ field: 'input.openPoints', message: 'must be 0 to 100' }] : []),
      ...(!Number.isInteger(input.clickPoints) || input.clickPoints < 0 || input.clickPoints > 100 ? [{ field: 'input.clickPoints', message: 'must be 0 to 100' }] : []),
      ...(!Number.isInteger(input.maxScore) || input.maxScore < 1 || input.maxScore > 100 ? [{ field: 'input.maxScore', message: 'must be 1 to 100' }] : []),
    ];
    if (problems.length > 0) throw new InvalidInputError(problems);
    const company = await companyOf(context);
    company.scoringRules = { openPoints: input.openPoints, clickPoints: input.clickPoints, maxScore: input.maxScore };
    await context.em.flush();
    return company;
  }
}

async function sentEmail(context: Context, emailId: string): Promise<SequenceEmail> {
  const email = isUuid(emailId) ? await context.em.findOne(SequenceEmail, { id: emailId, company: companyIdOf(context) }) : null;
  if (!email) throw new NotFoundError('Email', emailId);
  if (!['SENT', 'OPENED', 'CLICKED', 'BOUNCED'].includes(email.status)) throw new ConflictError('EMAIL_NOT_SENT', `The email was not sent (it is ${email.status})`);
  return email;
}
