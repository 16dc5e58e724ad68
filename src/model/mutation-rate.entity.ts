import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * One caller's mutation budget, shared by every API process (GCRA: src/graphql/limits/token-buckets.ts). Written
 * only by that module's single UPSERT; the entity exists so the schema diff knows the table.
 */
@Entity({ tableName: 'mutation_rate' })
export class MutationRate {
  /** `key:<api key id>`, or `operator`. */
  @PrimaryKey({ type: 'text' })
  key!: string;

  /** Theoretical arrival time: the bucket is full once it is past, so a past row may be deleted at any moment. */
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  tat!: Date;

  /** The latest time the bucket was used at: its time never runs backwards. */
  @Property({ type: 'datetime', columnType: 'timestamptz' })
  usedAt!: Date;

  /** Whether the last request was granted (what the UPSERT returns). */
  @Property({ type: 'boolean' })
  taken!: boolean;
}
