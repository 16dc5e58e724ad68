import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../../core/clock.js';
import { prepared, query, sql } from '../../db/sql.js';

export interface TokenBucketOptions {
  /** Tokens each key gets back per second. */
  readonly perSecond: number;
  /** Most tokens a key can hold: what it may take at once after being idle. */
  readonly burst: number;
  readonly orm: MikroORM;
  /**
   * The system clock means the database's, the one clock every process shares; a test's manual clock stands in
   * for it (its time is sent with each statement), so tests move time instead of sleeping.
   */
  readonly clock: Clock;
  readonly logger: Logger;
}

/** How often each process deletes buckets that are full again (rows whose time is past: they change no answer). */
const FORGET_FULL_INTERVAL_MS = 5 * 60_000;
/** Absorbs the microsecond rounding of timestamps: a bucket refilled to exactly `count` must not be a hair short. */
const TOLERANCE_SECONDS = 1e-6;

/**
 * A token bucket per key, shared by every API process through one `mutation_rate` row per key: N processes
 * enforce one limit. GCRA: the row holds the key's theoretical arrival time `tat` (when its bucket is full again);
 * taking `count` tokens moves it `count / perSecond` later (from now, if it is past), and is allowed while it stays
 * within `burst / perSecond` of now. One single-row UPSERT per take (one round trip, the primary key's index, no scan), timed by
 * the database clock so processes on different hosts agree, and atomic under concurrent takes (the row lock).
 */
export class TokenBuckets {
  readonly #timer: NodeJS.Timeout;

  constructor(private readonly options: TokenBucketOptions) {
    this.#timer = setInterval(() => void this.forgetFull(), FORGET_FULL_INTERVAL_MS).unref();
  }

  /**
   * Takes `count` tokens (at most `burst`) from `key`'s bucket. Resolves to 0 when they were taken; otherwise
   * nothing is taken and the result is the seconds until the bucket holds `count`. Rejects when the database cannot
   * be asked: the caller refuses the operation (it would need the database anyway), so a limit is never skipped.
   */
  async take(key: string, count: number): Promise<number> {
    const { perSecond, burst, orm } = this.options;
    const cost = count / perSecond;
    // The bucket's now never runs before a time it was already used at: a clock stepped back (or one process's test
    // clock behind another's) neither refills nor drains it. `excluded` holds this take's now and its new bucket.
    const now = sql`greatest(excluded.used_at, r.used_at)`;
    const moved = sql`greatest(r.tat, ${now}) + make_interval(secs => ${cost}::double precision)`;
    const fits = sql`${moved} <= ${now} + make_interval(secs => ${burst / perSecond + TOLERANCE_SECONDS}::double precision)`;
    // A new key's bucket is full and count <= burst (the caller checks), so the insert always takes.
    const [row] = await query<{ taken: boolean; ahead: number }>(
      orm.em.fork(),
      prepared(sql`
        with clock as materialized (select coalesce(${this.at()}::timestamptz, clock_timestamp()) as now)
        insert into mutation_rate as r (key, tat, used_at, taken)
        select ${key}::text, now + make_interval(secs => ${cost}::double precision), now, true from clock
        on conflict (key) do update set taken = ${fits}, tat = case when ${fits} then ${moved} else r.tat end, used_at = ${now}
        returning taken, extract(epoch from tat - used_at)::double precision as ahead`),
    );
    if (!row) throw new Error('mutation_rate upsert returned no row');
    if (row.taken) return 0;
    // Refused: `tat` is unchanged, so the bucket holds burst - ahead * perSecond tokens.
    return Math.max(0, row.ahead) + cost - burst / perSecond;
  }

  dispose(): void {
    clearInterval(this.#timer);
  }

  /** The time a statement computes with: null for the database's own clock. */
  private at(): Date | null {
    return this.options.clock === systemClock ? null : this.options.clock.now();
  }

  /** A bucket whose time is past is full: deleting its row changes no answer and keeps the table to active keys. */
  private async forgetFull(): Promise<void> {
    try {
      await query(this.options.orm.em.fork(), sql`delete from mutation_rate where tat < coalesce(${this.at()}::timestamptz, clock_timestamp())`);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'could not delete full mutation rate buckets; will try again');
    }
  }
}
