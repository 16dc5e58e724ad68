import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Authorized, Role } from '../authorization.js';
import { companyScope, requestScope, type Context } from '../context.js';
import { Company } from '../../model/company.entity.js';
import { createCompany, getCompany } from '../../companies/company.service.js';
import { CreateCompanyInput } from '../../companies/dto/create-company.input.js';

@Resolver(() => Company)
export class CompanyResolver {
  @Authorized()
  @Query(() => Company, { description: 'The company that owns the calling API key.' })
  viewer(@Ctx() context: Context): Readonly<Company> | Promise<Readonly<Company>> {
    return getCompany(companyScope(context));
  }

  @Authorized(Role.Operator)
  @Mutation(() => Company, { description: 'Operator only: create a company. It starts with the default email sequence.' })
  createCompany(@Arg('input', () => CreateCompanyInput) input: CreateCompanyInput, @Ctx() context: Context): Promise<Company> {
    return createCompany(requestScope(context), input);
  }
}
