import { OptionalProps, type Ref } from '@mikro-orm/core';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ID, ObjectType } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { Company } from './company.entity.js';
import { uuidv7 } from '../core/ids.js';
import { Lead } from './lead.entity.js';
import { EmailSequence } from './email-sequence.entity.js';
import { EnrollmentStatus, StopReason } from './sequence.enums.js';

/** One lead in one sequence; at most one per (lead, sequence), which also makes threshold starts once-only. */
@ObjectType({ description: 'One lead in one sequence.' })
@Entity({ tableName: 'enrollment' })
@Unique({ properties: ['lead', 'sequence'] })
@Index({ properties: ['sequence', 'status'] })
// The claim skips the emails of paused enrollments: without this index, every claim scans every enrollment to find
// the few paused ones.
@Index({
  name: 'enrollment_paused_index',
  expression: `create index "enrollment_paused_index" on "enrollment" ("id") where "status" = '${EnrollmentStatus.PAUSED}'`,
})
export class Enrollment {
  [OptionalProps]?: 'status' | 'stopReason' | 'pausedAt' | 'resumeAt' | 'endedAt' | 'createdAt' | 'updatedAt';

  @Field(() => ID, { description: 'Enrollment id.' })
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  /** The lead's company; the lead's foreign key guards it (see SequenceEmail). */
  @ManyToOne(() => Company, { ref: true, createForeignKeyConstraint: false })
  company!: Ref<Company>;

  @ManyToOne(() => Lead, { ref: true, deleteRule: 'cascade' })
  lead!: Ref<Lead>;

  @ManyToOne(() => EmailSequence, { ref: true, deleteRule: 'cascade' })
  sequence!: Ref<EmailSequence>;

  @Field(() => EnrollmentStatus, { description: 'Current status.' })
  @Enum({ items: () => EnrollmentStatus, default: EnrollmentStatus.ACTIVE })
  status: EnrollmentStatus = EnrollmentStatus.ACTIVE;

  @Field(() => StopReason, { nullable: true, description: 'Why it was stopped, when STOPPED.' })
  @Enum({ items: () => StopReason, nullable: true })
  stopReason: StopReason | null = null;

  @Field(() => DateTimeResolver, { description: 'When the lead was enrolled (or last resumed: the base of the schedule).' })
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  startedAt!: Date;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When it was paused, while PAUSED.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  pausedAt: Date | null = null;

  /** Set by an out-of-office reply (replies/), cleared by any other pause or resume: the auto-resume job resumes it then. */
  @Field(() => DateTimeResolver, {
    nullable: true,
    description: 'While PAUSED by an out-of-office reply: when it resumes by itself (the return date found in the reply, else 7 days later).',
  })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  resumeAt: Date | null = null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When it completed or stopped.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  endedAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', columnType: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
