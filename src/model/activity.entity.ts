import { OptionalProps, type Ref } from '@mikro-orm/core';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';
import { Company } from './company.entity.js';
import { uuidv7 } from '../core/ids.js';
import { Lead } from './lead.entity.js';

export enum ActivityType {
  LEAD_CREATED = 'LEAD_CREATED',
  LEAD_UPDATED = 'LEAD_UPDATED',
  LEAD_DELETED = 'LEAD_DELETED',
  ENROLLED = 'ENROLLED',
  ENROLLMENT_FAILED = 'ENROLLMENT_FAILED',
  ENROLLMENT_SKIPPED = 'ENROLLMENT_SKIPPED',
  ENROLLMENT_PAUSED = 'ENROLLMENT_PAUSED',
  ENROLLMENT_RESUMED = 'ENROLLMENT_RESUMED',
  ENROLLMENT_STOPPED = 'ENROLLMENT_STOPPED',
  ENROLLMENT_COMPLETED = 'ENROLLMENT_COMPLETED',
  EMAIL_SENT = 'EMAIL_SENT',
  EMAIL_FAILED = 'EMAIL_FAILED',
  EMAIL_OPENED = 'EMAIL_OPENED',
  EMAIL_CLICKED = 'EMAIL_CLICKED',
  EMAIL_BOUNCED = 'EMAIL_BOUNCED',
  EMAIL_DELIVERED = 'EMAIL_DELIVERED',
  EMAIL_COMPLAINED = 'EMAIL_COMPLAINED',
  EMAIL_REPLIED = 'EMAIL_REPLIED',
  EMAIL_AUTO_REPLIED = 'EMAIL_AUTO_REPLIED',
  REPLY_FORWARDED = 'REPLY_FORWARDED',
  SCORE_CHANGED = 'SCORE_CHANGED',
  UNSUBSCRIBED = 'UNSUBSCRIBED',
  RESUBSCRIBED = 'RESUBSCRIBED',
}
registerEnumType(ActivityType, { name: 'ActivityType', description: 'Kind of event on a lead timeline.' });

/** The lead's timeline. Append-only; scores are explainable from the SCORE_CHANGED rows. */
@ObjectType({ description: 'One event on a lead timeline.' })
@Entity({ tableName: 'activity' })
@Index({ properties: ['lead', 'occurredAt', 'id'] })
export class Activity {
  [OptionalProps]?: 'scoreDelta' | 'scoreAfter' | 'data' | 'occurredAt';

  @Field(() => ID, { description: 'Activity id.' })
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  /** The lead's company; the lead's foreign key guards it (see SequenceEmail). */
  @ManyToOne(() => Company, { ref: true, createForeignKeyConstraint: false })
  company!: Ref<Company>;

  @ManyToOne(() => Lead, { ref: true, deleteRule: 'cascade' })
  lead!: Ref<Lead>;

  @Field(() => ActivityType, { description: 'What happened.' })
  @Enum({ items: () => ActivityType })
  type!: ActivityType;

  @Field(() => String, { description: 'Why, in words (e.g. "first open of email 2 of Welcome sequence").' })
  @Property({ type: 'text' })
  reason!: string;

  @Field(() => Int, { nullable: true, description: 'Score change, for SCORE_CHANGED.' })
  @Property({ type: 'integer', nullable: true })
  scoreDelta: number | null = null;

  @Field(() => Int, { nullable: true, description: 'Score after the change, for SCORE_CHANGED.' })
  @Property({ type: 'integer', nullable: true })
  scoreAfter: number | null = null;

  @Field(() => JSONObjectResolver, { description: 'Related ids (sequenceId, enrollmentId, emailId, …).' })
  @Property({ type: 'json', columnType: 'jsonb', default: '{}' })
  data: Record<string, unknown> = {};

  @Field(() => DateTimeResolver, { description: 'When it happened.' })
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  occurredAt: Date = new Date();
}
