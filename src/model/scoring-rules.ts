import { Field, Int, ObjectType } from 'type-graphql';

/** Points a company gives for engagement. Each applies once per email, to human engagement only. */
@ObjectType({ description: 'How engagement raises lead scores; scores are capped at `maxScore`.' })
export class ScoringRules {
  @Field(() => Int, { description: 'Points for the first human open of each email (default 5).' })
  openPoints!: number;

  @Field(() => Int, { description: 'Points for the first human click of each email (default 10).' })
  clickPoints!: number;

  @Field(() => Int, {
    description: 'Highest score engagement raises a lead to (default 100). Lowering it leaves higher scores as they are; opens and clicks add nothing to them.',
  })
  maxScore!: number;

  @Field(() => Int, { description: "Points for the lead's first reply to each email, a person's and not an auto-reply (default 15)." })
  replyPoints!: number;
}

export const DEFAULT_SCORING_RULES: ScoringRules = Object.freeze({ openPoints: 5, clickPoints: 10, maxScore: 100, replyPoints: 15 });
