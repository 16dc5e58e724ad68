import { OptionalProps, type Ref } from '@mikro-orm/core';
import { Entity, Enum, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { registerEnumType } from 'type-graphql';
import { Company } from './company.entity.js';
import { uuidv7 } from '../core/ids.js';

export enum SuppressionReason {
  UNSUBSCRIBED = 'UNSUBSCRIBED',
  HARD_BOUNCE = 'HARD_BOUNCE',
  COMPLAINT = 'COMPLAINT',
  MANUAL = 'MANUAL',
}
registerEnumType(SuppressionReason, { name: 'SuppressionReason', description: 'Why an address must never be mailed again.' });

/** Addresses a company must never mail again. Checked at enrollment and again at send time. */
@Entity({ tableName: 'suppression' })
@Unique({ properties: ['company', 'email'] })
export class Suppression {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Company, { ref: true, deleteRule: 'cascade' })
  company!: Ref<Company>;

  @Property({ type: 'string', length: 320 })
  email!: string;

  @Enum({ items: () => SuppressionReason })
  reason!: SuppressionReason;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  createdAt: Date = new Date();
}
