import { OptionalProps, type Ref } from '@mikro-orm/core';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { Company } from './company.entity.js';
import { uuidv7 } from '../core/ids.js';
import { SequenceTrigger } from './sequence.enums.js';
import { listCost } from './query-cost.js';
import { MAX_STEPS, SendWindow, SequenceStep } from './sequence-step.js';

/** A company's email sequence. Steps are edited as a whole; edits apply to emails not yet sent. */
@ObjectType({ description: 'An email sequence: ordered steps sent to enrolled leads. Edits apply to emails not yet sent.' })
@Entity({ tableName: 'email_sequence' })
@Index({ properties: ['company', 'trigger', 'active'] })
@Index({
  name: 'email_sequence_one_default',
  expression: 'create unique index "email_sequence_one_default" on "email_sequence" ("company_id") where "is_default"',
})
export class EmailSequence {
  [OptionalProps]?: 'description' | 'active' | 'scoreThreshold' | 'sendWindow' | 'isDefault' | 'stopOnReply' | 'createdAt' | 'updatedAt';

  @Field(() => ID, { description: 'Sequence id.' })
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Company, { ref: true, deleteRule: 'cascade' })
  company!: Ref<Company>;

  @Field(() => String, { description: 'Name, 1 to 200 characters.' })
  @Property({ type: 'string', length: 200 })
  name!: string;

  @Field(() => String, { nullable: true, description: 'What the sequence is for.' })
  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Field(() => Boolean, { description: 'Inactive sequences enroll nobody; existing enrollments go on.' })
  @Property({ type: 'boolean', default: true })
  active: boolean = true;

  @Field(() => SequenceTrigger, { description: 'What enrolls leads.' })
  @Enum({ items: () => SequenceTrigger })
  trigger!: SequenceTrigger;

  @Field(() => Int, { nullable: true, description: 'For SCORE_THRESHOLD: the score (1 to 100) whose upward crossing enrolls a lead.' })
  @Property({ type: 'integer', nullable: true })
  scoreThreshold: number | null = null;

  @Field(() => [SequenceStep], { description: 'The emails, in order: step 1 is email 1.', complexity: listCost(MAX_STEPS) })
  @Property({ type: 'json', columnType: 'jsonb' })
  steps!: SequenceStep[];

  @Field(() => SendWindow, { nullable: true, description: 'Local hours in which emails go out; any time when null.' })
  @Property({ type: 'json', columnType: 'jsonb', nullable: true })
  sendWindow: SendWindow | null = null;

  @Field(() => Boolean, { description: "The company's default sequence: `startSequence` uses it when no sequence is given." })
  @Property({ type: 'boolean', default: false })
  isDefault: boolean = false;

  @Field(() => Boolean, {
    description: "Whether a lead's reply (a person's, not an auto-reply) stops its enrollment with reason REPLIED (default true).",
  })
  @Property({ type: 'boolean', default: true })
  stopOnReply: boolean = true;

  @Field(() => DateTimeResolver, { description: 'When the sequence was created.' })
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => DateTimeResolver, { description: 'When the sequence last changed.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
