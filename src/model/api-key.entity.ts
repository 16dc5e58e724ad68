import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';
import { OptionalProps, type Ref } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { Company } from './company.entity.js';
import { uuidv7 } from '../core/ids.js';

/** A company's credential. Only a SHA-256 of the secret is stored; the secret is shown once, at creation. */
@ObjectType({ description: 'An API key of a company. The secret itself is only ever returned by `createApiKey`.' })
@Entity({ tableName: 'api_key' })
@Index({ properties: ['company'] })
export class ApiKey {
  [OptionalProps]?: 'createdAt' | 'revokedAt';

  @Field(() => ID, { description: 'API key id (UUID); pass it to `revokeApiKey`.' })
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Company, { ref: true, deleteRule: 'cascade' })
  company!: Ref<Company>;

  @Field(() => String, { description: 'What the key is for, e.g. "website signup form".' })
  @Property({ type: 'string', length: 200 })
  name!: string;

  @Field(() => String, { description: 'First characters of the secret, to recognise a key without revealing it.' })
  @Property({ type: 'string', length: 16 })
  prefix!: string;

  @Property({ type: 'string', length: 64, unique: true, hidden: true })
  secretHash!: string;

  @Field(() => DateTimeResolver, { description: 'When the key was created.' })
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the key was revoked; a revoked key authenticates nothing.' })
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  revokedAt: Date | null = null;
}
