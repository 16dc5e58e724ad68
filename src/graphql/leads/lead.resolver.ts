import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { companyIdOf, serviceDeps, type Context } from '../context.js';
import { InvalidInputError } from '../../core/errors.js';
import { PageArgs } from '../connection.js';
import { findLead } from '../../model/lookups.js';
import { LeadFilter, LeadInput, LeadOrder, UpdateLeadInput } from '../../leads/dto/lead.input.js';
import { ActivityConnection, DeleteLeadResult, ImportLeadsResult, ImportRowStatus, LeadConnection, ScoreChangeResult } from './lead.output.js';
import { Lead } from '../../model/lead.entity.js';
import { createLead, deleteLead, importLeads, listActivities, listLeads, updateLead } from '../../leads/lead.service.js';
import { changeScore } from '../../leads/score.service.js';

@Resolver(() => Lead)
export class LeadResolver {
  @Authorized()
  @Query(() => LeadConnection, { description: "The company's leads, newest first by default." })
  leads(
    @Args(() => PageArgs) page: PageArgs,
    @Arg('filter', () => LeadFilter, { nullable: true }) filter: LeadFilter | null,
    @Arg('orderBy', () => LeadOrder, { defaultValue: LeadOrder.CREATED_AT_DESC }) orderBy: LeadOrder,
    @Ctx() context: Context,
  ) {
    return listLeads(context.em, companyIdOf(context), page, filter, orderBy);
  }

  @Authorized()
  @Query(() => Lead, { description: 'One lead.' })
  lead(@Arg('id', () => ID) id: string, @Ctx() context: Context): Promise<Lead> {
    return findLead(context.em, companyIdOf(context), id);
  }

  @FieldResolver(() => ActivityConnection, { description: 'The timeline: sends, opens, clicks, score and enrollment changes, newest first.' })
  activities(@Root() lead: Lead, @Args(() => PageArgs) page: PageArgs, @Ctx() context: Context) {
    return listActivities(context.em, lead, page);
  }

  @Authorized()
  @Mutation(() => Lead, {
    description: 'Creates a lead. With an email, it is enrolled in every active LEAD_CREATED sequence in the same transaction. A duplicate email is CONFLICT.',
  })
  async createLead(@Arg('input', () => LeadInput) input: LeadInput, @Ctx() context: Context): Promise<Lead> {
    return createLead(await serviceDeps(context), input);
  }

  @Authorized()
  @Mutation(() => ImportLeadsResult, { description: 'Creates up to 10,000 leads at once, with a result per row; auto-enrollment as for `createLead`.' })
  async importLeads(@Arg('inputs', () => [LeadInput]) inputs: LeadInput[], @Ctx() context: Context): Promise<ImportLeadsResult> {
    const outcomes = await importLeads(await serviceDeps(context), inputs);
    const rows = outcomes.map((o) => ({
      index: o.index,
      status: o.status as ImportRowStatus,
      leadId: o.status === 'CREATED' ? o.leadId : null,
      email: o.status === 'INVALID' ? null : o.email,
      errors: o.status === 'INVALID' ? o.problems : [],
    }));
    const count = (status: ImportRowStatus) => rows.filter((r) => r.status === status).length;
    return { created: count(ImportRowStatus.CREATED), duplicates: count(ImportRowStatus.DUPLICATE), invalid: count(ImportRowStatus.INVALID), rows };
  }

  @Authorized()
  @Mutation(() => Lead, { description: 'Changes a lead; omitted fields stay, null clears.' })
  async updateLead(@Arg('id', () => ID) id: string, @Arg('input', () => UpdateLeadInput) input: UpdateLeadInput, @Ctx() context: Context): Promise<Lead> {
    return updateLead(await serviceDeps(context), id, input);
  }

  @Authorized()
  @Mutation(() => DeleteLeadResult, { description: 'Deletes a lead: its enrollments stop and its pending emails are canceled.' })
  async deleteLead(@Arg('id', () => ID) id: string, @Ctx() context: Context): Promise<DeleteLeadResult> {
    return deleteLead(await serviceDeps(context), id);
  }

  @Authorized()
  @Mutation(() => ScoreChangeResult, {
    description: 'Changes a lead score by hand (e.g. after a sales call), capped at 0 and 100, with the reason on the timeline. Crossing a SCORE_THRESHOLD upward starts that sequence.',
  })
  async adjustLeadScore(
    @Arg('leadId', () => ID) leadId: string,
    @Arg('delta', () => Int, { description: '-100 to 100.' }) delta: number,
    @Arg('reason', () => String, { description: 'Why, 1 to 500 characters; shown on the timeline.' }) reason: string,
    @Ctx() context: Context,
  ): Promise<ScoreChangeResult> {
    const problems = [
      ...(delta < -100 || delta > 100 ? [{ field: 'delta', message: 'must be -100 to 100' }] : []),
      ...(reason.trim().length < 1 || reason.length > 500 ? [{ field: 'reason', message: 'must be 1 to 500 characters' }] : []),
    ];
    if (problems.length > 0) throw new InvalidInputError(problems);
    const { em, company, now } = await serviceDeps(context);
    const lead = await findLead(em, company.id, leadId);
    const change = await changeScore(em, { company, leadId: lead.id, delta, reason: reason.trim(), now });
    await em.refresh(lead);
    return { lead, previousScore: change.previous, score: change.score, delta: change.delta };
  }
}
