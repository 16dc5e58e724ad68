import { Field, Int, ObjectType } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import type { LeadScoreChangedEvent } from '../../state/events.js';

/** One change of a lead's score, as pushed to `leadScoreChanged` subscribers; its `lead` field is a field resolver. */
@ObjectType({ description: "A change of a lead's score." })
export class LeadScoreChange {
  @Field(() => Int, { description: 'Score before the change.' })
  previousScore!: number;

  @Field(() => Int, { description: 'Score after the change (0 to 100).' })
  score!: number;

  @Field(() => Int, { description: 'Change applied (capped at 0 and 100); never 0.' })
  delta!: number;

  @Field(() => String, { description: 'Why the score changed (up to 200 characters; the timeline has it in full).' })
  reason!: string;

  @Field(() => DateTimeResolver, { description: 'When it changed.' })
  at!: Date;

  /** Not exposed: what the `lead` field resolver loads, within this company only. */
  leadId!: string;
  companyId!: string;

  static fromEvent(event: LeadScoreChangedEvent): LeadScoreChange {
    return Object.assign(new LeadScoreChange(), {
      leadId: event.leadId,
      companyId: event.companyId,
      previousScore: event.previousScore,
      score: event.score,
      delta: event.delta,
      reason: event.reason,
      at: new Date(event.at),
    });
  }
}
