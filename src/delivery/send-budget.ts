import type { EntityManager } from '@mikro-orm/postgresql';
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
