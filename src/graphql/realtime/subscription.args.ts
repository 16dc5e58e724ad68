import { ArgsType, Field, ID, Int } from 'type-graphql';

/** Arguments narrow a subscription within the subscriber's company; without any, it gets all its events. */
@ArgsType()
export class LeadScoreChangedArgs {
  @Field(() => ID, { nullable: true, description: 'Only changes of this lead.' })
  leadId?: string | null;

  @Field(() => Int, { nullable: true, description: 'Only changes that leave the score at or above this.' })
  minScore?: number | null;
}

@ArgsType()
export class EmailStatusChangedArgs {
  @Field(() => ID, { nullable: true, description: 'Only emails to this lead.' })
  leadId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only emails of this sequence.' })
  sequenceId?: string | null;
}

@ArgsType()
export class EnrollmentChangedArgs {
  @Field(() => ID, { nullable: true, description: 'Only enrollments of this lead.' })
  leadId?: string | null;
}
