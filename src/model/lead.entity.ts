import { OptionalProps, type Ref } from '@mikro-orm/core';
import { Check, Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeResolver, JSONObjectResolver, TimeZoneResolver } from 'graphql-scalars';
import { Company } from './company.entity.js';
import { uuidv7 } from '../core/ids.js';

/** A person a company nurtures. The email is stored lower-cased; it is unique per company among live leads. */
@ObjectType({ description: 'A lead: a person the company nurtures with email sequences.' })
@Entity({ tableName: 'lead' })
@Check({ name: 'lead_score_range', expression: '(score >= 0) AND (score <= 100)' })
// Partial indexes: deleted leads neither hold their address nor slow the pages of live ones.
@Index({
  name: 'lead_company_email_live_unique',
  expression: 'create unique index "lead_company_email_live_unique" on "lead" ("company_id", "email") where "deleted_at" is null and "email" is not null',
})
@Index({
  name: 'lead_company_created_live_index',
  expression: 'create index "lead_company_created_live_index" on "lead" ("company_id", "created_at", "id") where "deleted_at" is null',
})
@Index({
  name: 'lead_company_score_live_index',
  expression: 'create index "lead_company_score_live_index" on "lead" ("company_id", "score", "id") where "deleted_at" is null',
})
export class Lead {
  [OptionalProps]?:
    'firstName' | 'lastName' | 'companyName' | 'timezone' | 'score' | 'attributes' | 'unsubscribedAt' | 'deletedAt' | 'createdAt' | 'updatedAt' | 'email';

  @Field(() => ID, { description: 'Lead id (UUID).' })
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Company, { ref: true, deleteRule: 'cascade' })
  company!: Ref<Company>;

  @Field(() => String, { nullable: true, description: 'Email address, lower-cased. A lead without one is never enrolled.' })
  @Property({ type: 'string', length: 320, nullable: true })
  email: string | null = null;

  @Field(() => String, { nullable: true, description: 'First name (`{{ lead.first_name }}`).' })
  @Property({ type: 'string', length: 200, nullable: true })
  firstName: string | null = null;

  @Field(() => String, { nullable: true, description: 'Last name (`{{ lead.last_name }}`).' })
  @Property({ type: 'string', length: 200, nullable: true })
  lastName: string | null = null;

  @Field(() => String, { nullable: true, description: "The lead's own company (`{{ lead.company_name }}`, `{company_name}`)." })
  @Property({ type: 'string', length: 200, nullable: true })
  companyName: string | null = null;

  @Field(() => TimeZoneResolver, { nullable: true, description: "IANA time zone for send windows; the company's when unset." })
  @Property({ type: 'string', length: 64, nullable: true })
  timezone: string | null = null;

  @Field(() => Int, { description: 'Engagement score, 0 to 100. Every change is on the timeline (`activities`).' })
  @Property({ type: 'integer', default: 0 })
  score: number = 0;

  @Field(() => JSONObjectResolver, { description: 'Custom attributes (`{{ lead.attributes.<key> }}` in templates).' })
  @Property({ type: 'json', columnType: 'jsonb', default: '{}' })
  attributes: Record<string, unknown> = {};

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the lead unsubscribed; no email is sent after it.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  unsubscribedAt: Date | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true, hidden: true })
  deletedAt: Date | null = null;

  @Field(() => DateTimeResolver, { description: 'When the lead was created.' })
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => DateTimeResolver, { description: 'When the lead last changed.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
