import { OptionalProps, type Ref } from '@mikro-orm/core';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { Company } from './company.entity.js';
import { uuidv7 } from '../core/ids.js';
import { Lead } from './lead.entity.js';
import { EmailSequence } from './email-sequence.entity.js';
import { Enrollment } from './enrollment.entity.js';
import { EmailStatus } from './sequence.enums.js';

/**
 * One email of an enrollment: its schedule, delivery state and engagement. Postgres is the source of truth
 * for email state.
 */
@ObjectType({ description: 'One email of an enrollment: when it is due, what happened to it, and what was sent.' })
@Entity({ tableName: 'sequence_email' })
@Unique({ properties: ['enrollment', 'emailNumber'] })
// The dispatcher's claim: due PENDING emails oldest first. Partial, so it stays small however many were sent, and
// without the emails of paused enrollments: a forgotten pause would otherwise sit, oldest, in front of every claim.
@Index({
  name: 'sequence_email_due_unpaused_index',
  expression: `create index "sequence_email_due_unpaused_index" on "sequence_email" ("scheduled_send_date", "id") where "status" = '${EmailStatus.PENDING}' and not "paused"`,
})
// `pendingEmails`: the same, per company.
@Index({
  name: 'sequence_email_company_due_unpaused_index',
  expression: `create index "sequence_email_company_due_unpaused_index" on "sequence_email" ("company_id", "scheduled_send_date", "id") where "status" = '${EmailStatus.PENDING}' and not "paused"`,
})
@Index({ properties: ['sequence', 'status'] })
// A lead's emails, a handful (`leadSequenceStatus`'s next email): without it, a scan of the company's pending queue.
@Index({ properties: ['lead'] })
// The sweeper's scan for emails whose claim outlived its lease.
@Index({
  name: 'sequence_email_sending_index',
  expression: `create index "sequence_email_sending_index" on "sequence_email" ("claimed_at") where "status" = '${EmailStatus.SENDING}'`,
})
// `stuckEmails` and `deliveryStatus`: a company's emails whose hand-over has an unknown outcome, newest first.
@Index({
  name: 'sequence_email_company_unknown_index',
  expression: `create index "sequence_email_company_unknown_index" on "sequence_email" ("company_id", "updated_at", "id") where "status" = '${EmailStatus.UNKNOWN}'`,
})
// SES events (bounces, deliveries) find their email by SES message id.
@Index({
  name: 'sequence_email_provider_message_id_index',
  expression: `create index "sequence_email_provider_message_id_index" on "sequence_email" ("provider_message_id") where "provider_message_id" is not null`,
})
export class SequenceEmail {
  [OptionalProps]?:
    | 'status'
    | 'sentAt'
    | 'deliveredAt'
    | 'openedAt'
    | 'clickedAt'
    | 'openCount'
    | 'clickCount'
    | 'providerMessageId'
    | 'failureReason'
    | 'attempts'
    | 'subject'
    | 'bodyHtml'
    | 'bodyText'
    | 'links'
    | 'claimedAt'
    | 'claimedBy'
    | 'toAddress'
    | 'paused'
    | 'firstHumanOpenAt'
    | 'firstMachineOpenAt'
    | 'firstHumanClickAt'
    | 'firstMachineClickAt'
    | 'permanentBounceAt'
    | 'transientBounceAt'
    | 'complainedAt'
    | 'unsubscribedAt'
    | 'repliedAt'
    | 'createdAt'
    | 'updatedAt';

  @Field(() => ID, { description: 'Email id.' })
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  /*
   * company, lead and sequence copy the enrollment's, for tenant filters and indexes. Only the enrollment has a
   * foreign key: it already guards the others (they are written from it, and deletes cascade through it), and
   * each key is an index probe per inserted row — four of them were a third of a 10,000-lead import.
   */
  @ManyToOne(() => Company, { ref: true, createForeignKeyConstraint: false })
  company!: Ref<Company>;

  @ManyToOne(() => Enrollment, { ref: true, deleteRule: 'cascade' })
  enrollment!: Ref<Enrollment>;

  @ManyToOne(() => Lead, { ref: true, createForeignKeyConstraint: false })
  lead!: Ref<Lead>;

  @ManyToOne(() => EmailSequence, { ref: true, createForeignKeyConstraint: false })
  sequence!: Ref<EmailSequence>;

  @Field(() => Int, { description: 'Position in the sequence, from 1.' })
  @Property({ type: 'integer' })
  emailNumber!: number;

  @Field(() => DateTimeResolver, { description: 'When it is (or was) due.' })
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  scheduledSendDate!: Date;

  @Field(() => EmailStatus, { description: 'Current status.' })
  @Enum({ items: () => EmailStatus, default: EmailStatus.PENDING })
  status: EmailStatus = EmailStatus.PENDING;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When SES accepted it.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  sentAt: Date | null = null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When SES reported delivery.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  deliveredAt: Date | null = null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'First open.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  openedAt: Date | null = null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'First click.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  clickedAt: Date | null = null;

  @Field(() => Int, { description: 'Opens recorded (machine opens included).' })
  @Property({ type: 'integer', default: 0 })
  openCount: number = 0;

  @Field(() => Int, { description: 'Clicks recorded (machine clicks included).' })
  @Property({ type: 'integer', default: 0 })
  clickCount: number = 0;

  @Field(() => String, { nullable: true, description: 'SES message id.' })
  @Property({ type: 'string', length: 200, nullable: true })
  providerMessageId: string | null = null;

  @Field(() => String, { nullable: true, description: 'Why it failed, when FAILED.' })
  @Property({ type: 'text', nullable: true })
  failureReason: string | null = null;

  @Field(() => Int, { description: 'Hand-over attempts to SES.' })
  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  @Field(() => String, { nullable: true, description: 'Subject as sent; null until sent (the template may still change).' })
  @Property({ type: 'text', nullable: true })
  subject: string | null = null;

  @Property({ type: 'text', nullable: true, lazy: true })
  bodyHtml: string | null = null;

  @Property({ type: 'text', nullable: true, lazy: true })
  bodyText: string | null = null;

  /** The original URL of each tracked link, by index: a click redirects only to one of these. */
  @Property({ type: 'json', columnType: 'jsonb', nullable: true, lazy: true })
  links: string[] | null = null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When a dispatcher last claimed it for sending.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  claimedAt: Date | null = null;

  @Property({ type: 'string', length: 100, nullable: true })
  claimedBy: string | null = null;

  /** Written by the claim (state/email-state.ts); a retry's claim writes the lead's address of that moment. */
  @Field(() => String, {
    nullable: true,
    description:
      "The address it was sent (or is being sent) to, recorded when a dispatcher claimed it. An unsubscribe, bounce or complaint of this email suppresses this address, even if the lead's address changed since. Null until claimed (and for emails claimed before this was recorded).",
  })
  @Property({ type: 'string', length: 320, nullable: true })
  toAddress: string | null = null;

  /**
   * True while its enrollment is paused: set by pause on the emails that may still go out, cleared by resume,
   * and given to emails added meanwhile. They stay PENDING, but out of the due indexes.
   */
  @Property({ type: 'boolean', default: false, hidden: true })
  paused: boolean = false;

  /*
   * Analytics facts (src/analytics): when each first happened, null until then, set once. Written by the statements
   * that record them (state/email-state.ts, state/email-facts.ts); the email_stats rollups count from them.
   */
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  firstHumanOpenAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  firstMachineOpenAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  firstHumanClickAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  firstMachineClickAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  permanentBounceAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  transientBounceAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  complainedAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  unsubscribedAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  repliedAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', columnType: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
