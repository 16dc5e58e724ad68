import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { query, sql } from '../db/sql.js';

/** Reserved send slots: the first one starts after `waitMs`; the rest follow every `spacingMs`. */
export interface SlotReservation {
  waitMs: number;
  spacingMs: number;
  count: number;
}

// A little slower than the rate: rate+1 consecutive slots then span 1.03 s, whatever the rate.
const SAFETY = 1.03;
/**
 * How late a send may leave after its slot. Since rate+1 consecutive slots span 1030 ms, sends each within 30 ms
 * of their slot never put rate+1 sends into one second. 10 ms late at most leaves 20 ms for the error in placing
 * the database's slot times on each worker's clock (a round trip).
 */
const LATE_MS = 10;

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
 * time from the shared budget. A slot already past is dropped, never used late: two late sends would sit closer
 * than the budget allows. (A dropped slot is a little lost throughput, never an excess.)
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

  /**
   * Waits for a slot and resolves true when it is time to send (never later than LATE_MS after the slot); false at
   * once when the next slot is more than `maxWaitMs` away (the slot stays for a caller that can wait).
   */
  async acquire(maxWaitMs = Infinity): Promise<boolean> {
    for (;;) {
      const at = await this.next();
      const wait = at - Date.now();
      if (wait > maxWaitMs) {
        this.#slots.unshift(at);
        return false;
      }
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // A busy event loop can wake us late; such a slot is given up rather than used squeezed against the next.
      if (Date.now() - at <= LATE_MS) return true;
    }
  }

  private async next(): Promise<number> {
    for (;;) {
      const tooLate = Date.now() - LATE_MS;
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
