import { ArgsType, Field, ID, InputType, Int, registerEnumType } from 'type-graphql';
import { JSONObjectResolver } from 'graphql-scalars';

/**
 * Lead fields as sent by clients. Email and time zone are plain strings here (checked by `validateLead`) so a
 * bad row in `importLeads` is reported for that row instead of failing the whole request.
 */
@InputType({ description: 'A lead to create.' })
export class LeadInput {
  @Field(() => String, { nullable: true, description: 'Email address; stored lower-cased, unique in the company. Without one the lead is never enrolled.' })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'First name, up to 200 characters.' })
  firstName?: string | null;

  @Field(() => String, { nullable: true, description: 'Last name, up to 200 characters.' })
  lastName?: string | null;

  @Field(() => String, { nullable: true, description: "The lead's own company, up to 200 characters." })
  companyName?: string | null;

  @Field(() => String, { nullable: true, description: 'IANA time zone, e.g. "Europe/Berlin".' })
  timezone?: string | null;

  @Field(() => JSONObjectResolver, { nullable: true, description: 'Custom attributes: keys are identifiers (letters, digits, _), at most 16 KB as JSON.' })
  attributes?: Record<string, unknown> | null;
}

@InputType({ description: 'Changes to a lead: omitted fields stay as they are; null clears a field.' })
export class UpdateLeadInput extends LeadInput {}

@InputType({ description: 'Which leads to list.' })
export class LeadFilter {
  @Field(() => String, { nullable: true, description: 'Case-insensitive substring of email, first, last or company name.' })
  search?: string | null;

  @Field(() => Int, { nullable: true, description: 'Lowest score, inclusive.' })
  minScore?: number | null;

  @Field(() => Int, { nullable: true, description: 'Highest score, inclusive.' })
  maxScore?: number | null;
}

export enum LeadOrder {
  CREATED_AT_DESC = 'CREATED_AT_DESC',
  CREATED_AT_ASC = 'CREATED_AT_ASC',
  SCORE_DESC = 'SCORE_DESC',
  SCORE_ASC = 'SCORE_ASC',
}
registerEnumType(LeadOrder, { name: 'LeadOrder', description: 'Order of `leads`; ties are broken by id.' });

/** `importLeads`: the rows are checked one by one by the intake (a bad row is INVALID, not a failed request). */
@ArgsType()
export class ImportLeadsArgs {
  @Field(() => [LeadInput])
  inputs!: LeadInput[];
}

@ArgsType()
export class AdjustLeadScoreArgs {
  @Field(() => ID)
  leadId!: string;

  @Field(() => Int, { description: '-100 to 100.' })
  delta!: number;

  @Field(() => String, { description: 'Why, 1 to 500 characters; shown on the timeline.' })
  reason!: string;
}
