import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Ctx, FieldResolver, ID, Info, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Authorized } from '../authorization.js';
import { companyScope, type Context } from '../context.js';
import { PageArgs, pageCost, selectsTotalCount } from '../connection.js';
import { AdjustLeadScoreArgs, ImportLeadsArgs, LeadFilter, LeadInput, LeadOrder, UpdateLeadInput } from '../../leads/dto/lead.input.js';
import { ActivityConnection, DeleteLeadResult, ImportLeadsResult, LeadConnection, ScoreChangeResult } from './lead.output.js';
import { Lead } from '../../model/lead.entity.js';
import { createLead, deleteLead, getLead, importLeads, listActivities, listLeads, updateLead, type ImportSummary } from '../../leads/lead.service.js';
import { adjustLeadScore, type ScoreAdjustment } from '../../leads/score.service.js';

@Resolver(() => Lead)
export class LeadResolver {
  @Authorized()
  @Query(() => LeadConnection, { description: "The company's leads, newest first by default.", complexity: pageCost })
  leads(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('filter', () => LeadFilter, { nullable: true }) filter: LeadFilter | null,
    @Arg('orderBy', () => LeadOrder, { defaultValue: LeadOrder.CREATED_AT_DESC }) orderBy: LeadOrder,
    @Ctx() context: Context,
    @Info() info: GraphQLResolveInfo,
  ) {
    return listLeads(companyScope(context), { ...page, countWithPage: selectsTotalCount(info) }, filter, orderBy);
  }

  @Authorized()
  @Query(() => Lead, { description: 'One lead.' })
  lead(@Arg('id', () => ID) id: string, @Ctx() context: Context): Promise<Lead> {
    return getLead(companyScope(context), id);
  }

  @FieldResolver(() => ActivityConnection, {
    description: 'The timeline: sends, opens, clicks, score and enrollment changes, newest first.',
    complexity: pageCost,
  })
  activities(@Root() lead: Lead, @Args(() => PageArgs) page: PageArgs, @Ctx() context: Context) {
    return listActivities(companyScope(context), lead, page);
  }

  @Authorized()
  @Mutation(() => Lead, {
    description: 'Creates a lead. With an email, it is enrolled in every active LEAD_CREATED sequence in the same transaction. A duplicate email is CONFLICT.',
  })
  createLead(@Arg('input', () => LeadInput) input: LeadInput, @Ctx() context: Context): Promise<Lead> {
    return createLead(companyScope(context), input);
  }

  @Authorized()
  @Mutation(() => ImportLeadsResult, { description: 'Creates up to 10,000 leads at once, with a result per row; auto-enrollment as for `createLead`.' })
  importLeads(@Args(() => ImportLeadsArgs) { inputs }: ImportLeadsArgs, @Ctx() context: Context): Promise<ImportSummary> {
    return importLeads(companyScope(context), inputs);
  }

  @Authorized()
  @Mutation(() => Lead, { description: 'Changes a lead; omitted fields stay, null clears.' })
  updateLead(@Arg('id', () => ID) id: string, @Arg('input', () => UpdateLeadInput) input: UpdateLeadInput, @Ctx() context: Context): Promise<Lead> {
    return updateLead(companyScope(context), id, input);
  }

  @Authorized()
  @Mutation(() => DeleteLeadResult, { description: 'Deletes a lead: its enrollments stop and its pending emails are canceled.' })
  deleteLead(@Arg('id', () => ID) id: string, @Ctx() context: Context): Promise<DeleteLeadResult> {
    return deleteLead(companyScope(context), id);
  }

  @Authorized()
  @Mutation(() => ScoreChangeResult, {
    description:
      'Changes a lead score by hand (e.g. after a sales call), capped at 0 and 100, with the reason on the timeline. Crossing a SCORE_THRESHOLD upward starts that sequence.',
  })
  adjustLeadScore(@Args(() => AdjustLeadScoreArgs) args: AdjustLeadScoreArgs, @Ctx() context: Context): Promise<ScoreAdjustment> {
    return adjustLeadScore(companyScope(context), args);
  }
}
