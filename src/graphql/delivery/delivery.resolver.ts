import { Arg, Args, Ctx, Field, Float, ID, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { Authorized } from '../authorization.js';
import { DateTimeResolver } from 'graphql-scalars';
import { companyScope, type Context } from '../context.js';
import { Connection, PageArgs, pageCost } from '../connection.js';
import { SequenceEmail } from '../../model/sequence-email.entity.js';
import { deliveryStatus, listStuckEmails, retryEmail } from '../../delivery/delivery.service.js';

@ObjectType({ description: 'Whether email is going out, and the calling company’s queue.' })
class DeliveryStatus {
  @Field(() => Boolean, {
    description:
      "False while SES refuses to send for the account (paused or suspended), or while the deliverability guard paused this company's sending; its due emails wait.",
  })
  sendingEnabled!: boolean;

  @Field(() => String, { nullable: true, description: 'Why sending is paused (the account’s reason first, else the guard’s for this company).' })
  pausedReason!: string | null;

  @Field(() => DateTimeResolver, {
    nullable: true,
    description: 'When the deliverability guard paused this company’s sending (see `deliverability`); null while it may send. Only the operator resumes it.',
  })
  companyPausedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Why the guard paused this company: the rate, the window, the volume and the level it reached.' })
  companyPausedReason!: string | null;

  @Field(() => Float, { nullable: true, description: 'Emails per second for the whole account (shared by all companies); null: unlimited.' })
  maxSendRate!: number | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the SES account was last checked.' })
  checkedAt!: Date | null;

  @Field(() => Int, { description: 'Pending emails already due (waiting for the dispatcher or the send budget).' })
  dueEmails!: number;

  @Field(() => Int, { description: 'Emails being handed to SES right now.' })
  sendingEmails!: number;

  @Field(() => Int, { description: 'Emails whose hand-over has an unknown outcome (status UNKNOWN; see `stuckEmails`).' })
  stuckEmails!: number;

  @Field(() => Int, {
    description:
      'Pending emails that SES did not take yet (throttling, unreachable, server errors): they wait and are retried with backoff, never failed. Each says why in `failureReason`; it is not tried before its `scheduledSendDate` (nor before `backingOffUntil`).',
  })
  retryingEmails!: number;

  @Field(() => DateTimeResolver, {
    nullable: true,
    description: 'When the next of the retrying emails is tried (not before `backingOffUntil`); null when none waits.',
  })
  nextRetryAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'The last reason SES did not take an email (for the whole account), kept after it recovered.' })
  lastSendError!: string | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When `lastSendError` happened.' })
  lastSendErrorAt!: Date | null;

  @Field(() => DateTimeResolver, {
    nullable: true,
    description:
      'While SES throttles or cannot be reached, dispatch waits until then before trying SES again (account-wide, doubling up to an hour); null once SES takes email.',
  })
  backingOffUntil!: Date | null;
}

const StuckEmailConnection = Connection(SequenceEmail, 'StuckEmail', 'Emails whose hand-over to SES has an unknown outcome (status UNKNOWN), newest first.');

@Resolver()
export class DeliveryResolver {
  @Authorized()
  @Query(() => DeliveryStatus, { description: 'Whether dispatch is running (and why not), and the company’s delivery queue.' })
  deliveryStatus(@Ctx() context: Context) {
    return deliveryStatus(companyScope(context));
  }

  @Authorized()
  @Query(() => StuckEmailConnection, {
    description:
      'Emails in status UNKNOWN: their hand-over to SES has an unknown outcome (SES may or may not have them). They are never re-sent automatically.',
    complexity: pageCost,
  })
  stuckEmails(@Args(() => PageArgs) page: PageArgs, @Ctx() context: Context) {
    return listStuckEmails(companyScope(context), page);
  }

  @Authorized()
  @Mutation(() => SequenceEmail, {
    description: 'Re-queues a FAILED or UNKNOWN email on purpose: it is sent once more, now. For an UNKNOWN one, check first that it did not arrive.',
  })
  retryEmail(@Arg('id', () => ID) id: string, @Ctx() context: Context): Promise<SequenceEmail> {
    return retryEmail(companyScope(context), id);
  }
}
