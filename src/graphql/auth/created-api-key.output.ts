import { Field, ObjectType } from 'type-graphql';
import { ApiKey } from '../../model/api-key.entity.js';

@ObjectType({ description: 'A freshly created API key with its secret. The secret is not stored and cannot be shown again.' })
export class CreatedApiKey {
  @Field(() => ApiKey, { description: 'The stored key: id, name and display prefix.' })
  apiKey!: ApiKey;

  @Field(() => String, { description: 'Send as "Authorization: Bearer <secret>". Store it now: it is shown only once.' })
  secret!: string;
}
