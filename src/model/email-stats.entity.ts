import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/*
 * The analytics rollups (src/analytics, migration Migration20261202150000_email_stats). Written only by the triggers and
 * functions of that migration, read only by src/analytics; the entities exist so the schema diff knows the tables.
 */

/** The counters both step tables hold (the quarter-hour rows and their folded days). */
abstract class StepCounters {
  @Property({ type: 'integer', default: 0 }) enrolled!: number;
  @Property({ type: 'integer', default: 0 }) sent!: number;
  @Property({ type: 'integer', default: 0 }) delivered!: number;
  @Property({ type: 'integer', default: 0 }) bouncedPermanent!: number;
  @Property({ type: 'integer', default: 0 }) bouncedTransient!: number;
  @Property({ type: 'integer', default: 0 }) complained!: number;
  @Property({ type: 'integer', default: 0 }) failed!: number;
  @Property({ type: 'integer', default: 0 }) unknown!: number;
  @Property({ type: 'integer', default: 0 }) canceled!: number;
  @Property({ type: 'integer', default: 0 }) unsubscribed!: number;
  @Property({ type: 'integer', default: 0 }) humanOpens!: number;
  @Property({ type: 'integer', default: 0 }) machineOpens!: number;
  @Property({ type: 'integer', default: 0 }) humanClicks!: number;
  @Property({ type: 'integer', default: 0 }) machineClicks!: number;
  @Property({ type: 'integer', default: 0 }) replied!: number;
}

/** The counters of the emails of one step of a sequence whose cohort falls in one 15-minute UTC bucket, per writer shard. */
@Entity({ tableName: 'email_stats' })
// The rows not folded yet (shard 0 is the folded one), for the middle of a long period.
@Index({
  name: 'email_stats_unfolded_index',
  expression: `create index "email_stats_unfolded_index" on "email_stats" ("company_id", "sequence_id", "bucket") where "shard" <> 0`,
})
export class EmailStats extends StepCounters {
  @PrimaryKey({ type: 'uuid' })
  companyId!: string;

  @PrimaryKey({ type: 'uuid' })
  sequenceId!: string;

  @PrimaryKey({ type: 'datetime', columnType: 'timestamptz' })
  bucket!: Date;

  /** The step (from 1); 0 holds the sequence's enrollments. */
  @PrimaryKey({ type: 'integer' })
  emailNumber!: number;

  /** The writer shard (0: folded). */
  @PrimaryKey({ type: 'smallint' })
  shard!: number;
}

/** A company's deliverability counters per 15-minute UTC bucket and writer shard: the guard's windows. */
@Entity({ tableName: 'company_send_stats' })
export class CompanySendStats {
  @PrimaryKey({ type: 'uuid' })
  companyId!: string;

  @PrimaryKey({ type: 'datetime', columnType: 'timestamptz' })
  bucket!: Date;

  @PrimaryKey({ type: 'smallint' })
  shard!: number;

  @Property({ type: 'integer', default: 0 }) sent!: number;
  @Property({ type: 'integer', default: 0 }) delivered!: number;
  @Property({ type: 'integer', default: 0 }) bouncedPermanent!: number;
  @Property({ type: 'integer', default: 0 }) bouncedTransient!: number;
  @Property({ type: 'integer', default: 0 }) complained!: number;
}

/** The folded counters of one step of a sequence per UTC day: the whole days of a long period (see src/analytics/period-rows.ts). */
@Entity({ tableName: 'email_stats_daily' })
export class EmailStatsDaily extends StepCounters {
  @PrimaryKey({ type: 'uuid' })
  companyId!: string;

  @PrimaryKey({ type: 'uuid' })
  sequenceId!: string;

  @PrimaryKey({ type: 'date' })
  day!: string;

  @PrimaryKey({ type: 'integer' })
  emailNumber!: number;
}
