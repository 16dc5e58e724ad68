import { Field, InputType } from 'type-graphql';
import { EmailAddressResolver, TimeZoneResolver } from 'graphql-scalars';
import { Length, MaxLength } from 'class-validator';

@InputType({ description: 'A new company (tenant).' })
export class CreateCompanyInput {
  @Field(() => String, { description: 'Display name, 1 to 200 characters.' })
  @Length(1, 200)
  name!: string;

  @Field(() => EmailAddressResolver, { description: 'Default From address of its sequence emails (must be verified in SES).' })
  @MaxLength(320)
  fromAddress!: string;

  @Field(() => String, { nullable: true, description: 'Display name shown with the From address.' })
  @MaxLength(200)
  fromName?: string | null;

  @Field(() => EmailAddressResolver, { nullable: true, description: 'Reply-To address, if different from From.' })
  @MaxLength(320)
  replyTo?: string | null;

  @Field(() => TimeZoneResolver, { nullable: true, description: 'IANA time zone, default UTC.' })
  timezone?: string | null;
}
