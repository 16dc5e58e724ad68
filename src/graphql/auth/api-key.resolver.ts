import { Arg, Args, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { requestScope, type Context } from '../context.js';
import { ApiKey } from '../../model/api-key.entity.js';
import { createApiKey, revokeApiKey } from '../../auth/api-key.service.js';
import { CreateApiKeyArgs } from '../../auth/dto/create-api-key.args.js';
import { Authorized, Role } from '../authorization.js';
import { CreatedApiKey } from './created-api-key.output.js';

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Authorized(Role.Operator)
  @Mutation(() => CreatedApiKey, { description: 'Operator only: create an API key for a company. The secret is returned once.' })
  createApiKey(@Args(() => CreateApiKeyArgs) args: CreateApiKeyArgs, @Ctx() context: Context): Promise<CreatedApiKey> {
    return createApiKey(requestScope(context), args);
  }

  @Authorized(Role.Operator)
  @Mutation(() => ApiKey, { description: 'Operator only: revoke an API key. Requests with it fail from now on.' })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() context: Context): Promise<ApiKey> {
    return revokeApiKey(requestScope(context), id);
  }
}
