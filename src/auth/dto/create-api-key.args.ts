import { ArgsType, Field, ID } from 'type-graphql';

/** Checked by `apiKeyProblems` (api-key.validation.ts) before any resolver runs. */
@ArgsType()
export class CreateApiKeyArgs {
  @Field(() => ID)
  companyId!: string;

  // 1 to 200 characters.
  @Field(() => String)
  name!: string;
}
