import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * The account-wide SES send budget, one row shared by every worker process: the next free send slot.
 * Workers reserve slots 1/rate apart with one atomic UPDATE, so no second ever carries more than the rate.
 */
@Entity({ tableName: 'send_budget' })
export class SendBudget {
  @PrimaryKey({ type: 'integer', autoincrement: false })
  id: number = 1;

  @Property({ type: 'datetime', columnType: 'timestamptz' })
  nextSlotAt!: Date;

  /** The account's send rate as last read from SES (or configured), shared so every process reports the same. */
  @Property({ type: 'double', nullable: true })
  maxSendRate: number | null = null;

  /** Why sending is paused (account paused or suspended), or null when SES accepts mail. */
  @Property({ type: 'text', nullable: true })
  pausedReason: string | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  checkedAt: Date | null = null;
}
