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

  /** Consecutive periods SES throttled or could not be reached; the account-wide wait doubles with each (retry-policy.ts). */
  @Property({ type: 'integer', default: 0 })
  backoffLevel: number = 0;

  /** Until when dispatch waits before trying SES again; null when SES takes email. */
  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  backoffUntil: Date | null = null;

  /** A dispatcher is sending the one batch that probes SES after a wait. */
  @Property({ type: 'boolean', default: false })
  backoffProbe: boolean = false;

  /** Why SES last did not take an email, and when (shown by deliveryStatus). */
  @Property({ type: 'text', nullable: true })
  lastSendError: string | null = null;

  @Property({ type: 'datetime', columnType: 'timestamptz', nullable: true })
  lastSendErrorAt: Date | null = null;
}
