import { Field, InputType } from 'type-graphql';
import { EmailAddressResolver, TimeZoneResolver } from 'graphql-scalars';

/** Checked by `companyProblems` (company.validation.ts) before any resolver runs. */
@InputType({ description: 'A new company (tenant).' })
export class CreateCompanyInput {
  @Field(() => String, { description: 'Display name, 1 to 200 characters.' })
  name!: string;

  @Field(() => EmailAddressResolver, { description: 'Default From address of its sequence emails (must be verified in SES).' })
  fromAddress!: string;

  @Field(() => String, { nullable: true, description: 'Display name shown with the From address.' })
  fromName?: string | null;

  @Field(() => EmailAddressResolver, { nullable: true, description: 'Reply-To address, if different from From.' })
  replyTo?: string | null;

  @Field(() => TimeZoneResolver, { nullable: true, description: 'IANA time zone, default UTC.' })
  timezone?: string | null;
}
