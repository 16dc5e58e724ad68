import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized } from '../authorization.js';
import { Company } from '../../model/company.entity.js';
import { companyScope, type Context } from '../context.js';
import type { ConnectionResult } from '../../db/pagination.js';
import { Connection, PageArgs, pageCost } from '../connection.js';
import { Lead } from '../../model/lead.entity.js';
import { SequenceEmail } from '../../model/sequence-email.entity.js';
import { EmailEvent } from '../../model/email-event.entity.js';
import { ScoringRulesInput } from '../../companies/dto/scoring-rules.input.js';
import { updateScoringRules } from '../../companies/company.service.js';
import { resubscribeLead, unsubscribeLead } from '../../suppression/lead-subscription.service.js';
import { listEmailEvents, trackClick, trackOpen } from '../../tracking/api-tracking.service.js';

const EmailEventConnection = Connection(EmailEvent, 'EmailEvent', "A page of an email's events, oldest first.");

@Resolver()
export class TrackingResolver {
  @Authorized()
  @Mutation(() => SequenceEmail, { description: 'Records an open of a sent email for an API client (its own pixel, say): same rules as the tracking pixel.' })
  trackOpen(@Arg('emailId', () => ID) emailId: string, @Ctx() context: Context): Promise<SequenceEmail> {
    return trackOpen(companyScope(context), context.recorder, emailId);
  }

  @Authorized()
  @Mutation(() => SequenceEmail, { description: 'Records a click on one of the links of a sent email (the original URL): same rules as the redirect.' })
  trackClick(@Arg('emailId', () => ID) emailId: string, @Arg('url', () => String) url: string, @Ctx() context: Context): Promise<SequenceEmail> {
    return trackClick(companyScope(context), context.recorder, emailId, url);
  }

  @Authorized()
  @Query(() => EmailEventConnection, {
    description: 'Opens, clicks and SES events of an email, oldest first, each with its human/machine verdict. Paginated: a scanned email can have thousands.',
    complexity: pageCost,
  })
  emailEvents(@Arg('emailId', () => ID) emailId: string, @Args(() => PageArgs) page: PageArgs, @Ctx() context: Context): Promise<ConnectionResult<EmailEvent>> {
    return listEmailEvents(companyScope(context), emailId, page);
  }

  @Authorized()
  @Mutation(() => Lead, { description: 'Unsubscribes a lead: its address is suppressed for the company, its enrollments stop, pending emails are canceled.' })
  unsubscribeLead(@Arg('leadId', () => ID) leadId: string, @Ctx() context: Context): Promise<Lead> {
    return unsubscribeLead(companyScope(context), leadId);
  }

  @Authorized()
  @Mutation(() => Lead, { description: 'Lifts an unsubscribe (the lead asked to hear from you again). A bounced or complaining address stays suppressed.' })
  resubscribeLead(@Arg('leadId', () => ID) leadId: string, @Ctx() context: Context): Promise<Lead> {
    return resubscribeLead(companyScope(context), leadId);
  }

  @Authorized()
  @Mutation(() => Company, { description: "Sets how engagement raises this company's lead scores (applies to events from now on)." })
  updateScoringRules(@Arg('input', () => ScoringRulesInput) input: ScoringRulesInput, @Ctx() context: Context): Promise<Company> {
    return updateScoringRules(companyScope(context), input);
  }
}
