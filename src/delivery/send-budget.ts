import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';

/** Reserved send slots: the first one starts after `waitMs`; the rest follow every `spacingMs`. */
export interface SlotReservation {
  waitMs: number;
  spacingMs: number;
  count: number;
}

// A little slower than the rate, so network jitter between workers and SES cannot fit rate+1 sends in a second.
const SAFETY = 1.02;

/**
 * Reserves up to `count` consecutive send slots from the account-wide budget (GCRA: the row holds the next free
 * slot). One atomic UPDATE per reservation, timed by the database clock, so every worker process on any machine
 * shares one budget and no 1-second window carries more than `ratePerSecond` sends.
 */
export async function reserveSlots(em: EntityManager, ratePerSecond: number, count: number): Promise<SlotReservation> {
  const spacingMs = (1000 / ratePerSecond) * SAFETY;
  const [row] = await query<{ first_slot_ms: string; now_ms: string }>(
    em,
    sql`update send_budget
        set next_slot_at = greatest(next_slot_at, clock_timestamp()) + make_interval(secs => ${(count * spacingMs) / 1000}::double precision)
        where id = 1
        returning extract(epoch from next_slot_at) * 1000 - ${count * spacingMs}::double precision as first_slot_ms,
                  extract(epoch from clock_timestamp()) * 1000 as now_ms`,
  );
  if (!row) throw new Error('send_budget row missing: migrations not applied');
  return { waitMs: Math.max(0, Number(row.first_slot_ms) - Number(row.now_ms)), spacingMs, count };
}

/**
 * Hands out reserved slots one at a time (as local epoch-ms send times), reserving about 100 ms of slots at a
 * time from the shared budget. A slot already in the past is dropped, never used late: two late sends would sit
 * closer than the budget allows. (A dropped slot is a little lost throughput, never an excess.)
 */
export class SlotQueue {
  #slots: number[] = [];
  #refill: Promise<void> | undefined;
  readonly #chunk: number;

  constructor(
    private readonly orm: MikroORM,
    private readonly rate: number,
  ) {
    this.#chunk = Math.max(1, Math.ceil(rate / 10));
  }

  /** The next send time; call it right before sending. */
  async next(): Promise<number> {
    for (;;) {
      const tooLate = Date.now() - (1000 / this.rate) * 0.5;
      while (this.#slots.length > 0 && this.#slots[0]! < tooLate) this.#slots.shift();
      if (this.#slots.length > 0) return this.#slots.shift()!;
      this.#refill ??= this.reserve().finally(() => (this.#refill = undefined));
      await this.#refill;
    }
  }

  private async reserve(): Promise<void> {
    const reservation = await reserveSlots(this.orm.em.fork(), this.rate, this.#chunk);
    const start = Date.now() + reservation.waitMs;
    for (let i = 0; i < reservation.count; i++) this.#slots.push(start + i * reservation.spacingMs);
  }
}
