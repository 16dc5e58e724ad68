import { OptionalProps } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, ID, ObjectType } from 'type-graphql';
import { DateTimeResolver, EmailAddressResolver, TimeZoneResolver } from 'graphql-scalars';
import { uuidv7 } from '../core/ids.js';
import { DEFAULT_SCORING_RULES, ScoringRules } from './scoring-rules.js';

/** The tenant. Every row of tenant data carries its id, and every query filters on it. */
@ObjectType({ description: 'A company using the service: the tenant that owns leads, sequences and API keys.' })
@Entity({ tableName: 'company' })
export class Company {
  [OptionalProps]?: 'fromName' | 'replyTo' | 'timezone' | 'scoringRules' | 'createdAt' | 'updatedAt';

  @Field(() => ID, { description: 'Unguessable company id (UUID).' })
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @Field(() => String, { description: 'Display name, used as `{{ company.name }}` in templates.' })
  @Property({ type: 'string', length: 200 })
  name!: string;

  @Field(() => EmailAddressResolver, { description: 'Default From address of sequence emails.' })
  @Property({ type: 'string', length: 320 })
  fromAddress!: string;

  @Field(() => String, { nullable: true, description: 'Display name shown with the From address.' })
  @Property({ type: 'string', length: 200, nullable: true })
  fromName: string | null = null;

  @Field(() => EmailAddressResolver, { nullable: true, description: 'Reply-To address of sequence emails, if different from From.' })
  @Property({ type: 'string', length: 320, nullable: true })
  replyTo: string | null = null;

  @Field(() => TimeZoneResolver, { description: 'IANA time zone used for send windows of leads without their own.' })
  @Property({ type: 'string', length: 64 })
  timezone: string = 'UTC';

  @Field(() => ScoringRules, { description: 'How opens and clicks raise lead scores (`updateScoringRules`).' })
  @Property({ type: 'json', columnType: 'jsonb', default: JSON.stringify(DEFAULT_SCORING_RULES) })
  scoringRules: ScoringRules = { ...DEFAULT_SCORING_RULES };

  @Field(() => DateTimeResolver, { description: 'When the company was created.' })
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => DateTimeResolver, { description: 'When the company settings last changed.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
