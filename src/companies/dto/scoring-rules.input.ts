import { Field, InputType, Int } from 'type-graphql';

/** Checked by `scoringRulesProblems` (company.validation.ts) before any resolver runs. */
@InputType({ description: 'Points for engagement. Each applies to the first human open or click of each email.' })
export class ScoringRulesInput {
  @Field(() => Int, { description: 'Points for the first human open of an email, 0 to 100.' })
  openPoints!: number;

  @Field(() => Int, { description: 'Points for the first human click in an email, 0 to 100.' })
  clickPoints!: number;

  @Field(() => Int, { defaultValue: 100, description: 'Cap on the scores engagement raises leads to, 1 to 100. Lowering it does not lower existing scores.' })
  maxScore: number = 100;

  @Field(() => Int, { defaultValue: 15, description: "Points for the lead's first reply to an email (not an auto-reply), 0 to 100." })
  replyPoints: number = 15;
}
