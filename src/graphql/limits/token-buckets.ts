import type { Clock } from '../../core/clock.js';

export interface TokenBucketOptions {
  /** Tokens each key gets back per second. */
  readonly perSecond: number;
  /** Most tokens a key can hold: what it may take at once after being idle. */
  readonly burst: number;
  readonly clock: Clock;
  /** Most keys remembered; the least recently used is forgotten first. */
  readonly maxKeys: number;
}

/**
 * A token bucket per key, in this process's memory (several processes each keep their own). A forgotten key
 * starts with a full bucket again: keys are forgotten least recently used first, by when they have usually
 * refilled anyway.
 */
export class TokenBuckets {
  // Insertion order is recency order: a key is moved to the end whenever it is used.
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly options: TokenBucketOptions) {}

  /**
   * Takes `count` tokens (at most `burst`) from `key`'s bucket. Returns 0 when they were taken; otherwise nothing
   * is taken and the result is the seconds until the bucket holds `count`.
   */
  take(key: string, count: number): number {
    const { perSecond, burst, clock, maxKeys } = this.options;
    const now = clock.now().getTime();
    const bucket = this.#buckets.get(key);
    // A clock moved backwards refills nothing (and never drains).
    const tokens = bucket ? Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * perSecond) : burst;
    this.#buckets.delete(key);
    // The epsilon absorbs floating-point error: a bucket refilled to exactly `count` must not be a hair short.
    const taken = tokens + 1e-9 >= count;
    this.#buckets.set(key, { tokens: taken ? Math.max(0, tokens - count) : tokens, at: now });
    if (this.#buckets.size > maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (taken) return 0;
    return (count - tokens) / perSecond;
  }
}
