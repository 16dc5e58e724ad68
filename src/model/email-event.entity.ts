import { OptionalProps, type Ref } from '@mikro-orm/core';
import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { Company } from './company.entity.js';
import { uuidv7 } from '../core/ids.js';
import { SequenceEmail } from './sequence-email.entity.js';

export enum EmailEventKind {
  OPEN = 'OPEN',
  CLICK = 'CLICK',
  DELIVERY = 'DELIVERY',
  BOUNCE = 'BOUNCE',
  COMPLAINT = 'COMPLAINT',
  REJECT = 'REJECT',
  UNSUBSCRIBE = 'UNSUBSCRIBE',
  /** A person answered the email (SES inbound mail). */
  REPLY = 'REPLY',
  /** An auto-reply or out-of-office answered it. */
  AUTO_REPLY = 'AUTO_REPLY',
}
registerEnumType(EmailEventKind, { name: 'EmailEventKind', description: 'What happened to a sent email.' });

export enum EventVerdict {
  HUMAN = 'HUMAN',
  MACHINE = 'MACHINE',
}
registerEnumType(EventVerdict, {
  name: 'EventVerdict',
  description: 'Whether an open or click looks like a person (it scores) or automation such as a privacy proxy or link scanner (recorded, never scored).',
});

/** Every open, click and provider event of an email, with its verdict. `dedupeKey` makes provider events idempotent. */
@ObjectType({ description: 'One event of a sent email: an open, a click, or an SES event.' })
@Entity({ tableName: 'email_event' })
@Index({ properties: ['email', 'occurredAt'] })
export class EmailEvent {
  [OptionalProps]?: 'linkIndex' | 'url' | 'verdict' | 'verdictReason' | 'userAgent' | 'detail' | 'dedupeKey' | 'occurredAt';

  @Field(() => ID, { description: 'Event id.' })
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Company, { ref: true, deleteRule: 'cascade' })
  company!: Ref<Company>;

  @ManyToOne(() => SequenceEmail, { ref: true, deleteRule: 'cascade' })
  email!: Ref<SequenceEmail>;

  @Field(() => EmailEventKind, { description: 'What happened.' })
  @Enum({ items: () => EmailEventKind })
  kind!: EmailEventKind;

  @Field(() => Int, { nullable: true, description: 'For clicks: which link of the email (0-based).' })
  @Property({ type: 'integer', nullable: true })
  linkIndex: number | null = null;

  @Field(() => String, { nullable: true, description: 'For clicks: where the link led.' })
  @Property({ type: 'text', nullable: true })
  url: string | null = null;

  @Field(() => EventVerdict, { nullable: true, description: 'For opens and clicks: person or machine.' })
  @Enum({ items: () => EventVerdict, nullable: true })
  verdict: EventVerdict | null = null;

  @Field(() => String, { nullable: true, description: 'Why it was judged a machine (or other detail of the verdict).' })
  @Property({ type: 'text', nullable: true })
  verdictReason: string | null = null;

  @Field(() => String, { nullable: true, description: 'User agent of the request, for opens and clicks.' })
  @Property({ type: 'string', length: 512, nullable: true })
  userAgent: string | null = null;

  @Field(() => String, { nullable: true, description: 'Provider detail (bounce type, diagnostic, complaint type…).' })
  @Property({ type: 'text', nullable: true })
  detail: string | null = null;

  /** Provider message id of the event (SNS MessageId): a repeated delivery of the same event is ignored. */
  @Property({ type: 'string', length: 200, nullable: true, unique: true })
  dedupeKey: string | null = null;

  @Field(() => DateTimeResolver, { description: 'When it happened.' })
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  occurredAt: Date = new Date();
}
