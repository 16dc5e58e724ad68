import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized, Role } from '../authorization.js';
import { companyScope, requestScope, type Context } from '../context.js';
import { getDeliverability, resumeCompanySending, type DeliverabilityView } from '../../delivery/guard/guard.service.js';
import { Deliverability } from './deliverability.output.js';

@Resolver()
export class DeliverabilityResolver {
  @Authorized()
  @Query(() => Deliverability, {
    description:
      "The calling company's deliverability: bounce and complaint rates over the last 7 and 30 days (with the sends they rest on), the guard's levels and SES's beside them, and whether the guard warned or paused the company.",
  })
  deliverability(@Ctx() context: Context): Promise<DeliverabilityView> {
    return getDeliverability(companyScope(context), context.config.deliverability);
  }

  @Authorized(Role.Operator)
  @Mutation(() => Deliverability, {
    description:
      'Operator only, after review: a company the guard paused sends again (its waiting emails leave at once), its windows counting only sends from now on. A company that is not paused is left as it is. Records who and when.',
  })
  resumeCompanySending(@Arg('companyId', () => ID) companyId: string, @Ctx() context: Context): Promise<DeliverabilityView> {
    return resumeCompanySending(requestScope(context), companyId, context.config.deliverability);
  }
}
