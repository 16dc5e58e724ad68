import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import { ApiKey } from '../../model/api-key.entity.js';
import { createApiKey, revokeApiKey } from '../../auth/api-key.service.js';
import { Role } from '../auth-checker.js';
import { CreatedApiKey } from './created-api-key.output.js';

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Authorized(Role.Operator)
  @Mutation(() => CreatedApiKey, { description: 'Operator only: create an API key for a company. The secret is returned once.' })
  async createApiKey(
    @Arg('companyId', () => ID) companyId: string,
    @Arg('name', () => String) name: string,
    @Ctx() context: Context,
  ): Promise<CreatedApiKey> {
    return createApiKey(context.em, companyId, name);
  }

  @Authorized(Role.Operator)
  @Mutation(() => ApiKey, { description: 'Operator only: revoke an API key. Requests with it fail from now on.' })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() context: Context): Promise<ApiKey> {
    return revokeApiKey(context.em, id);
  }
}
