import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { query, sql } from '../db/sql.js';
import type { EmailProvider } from './email-provider.js';

/** What dispatch may do right now, shared by every process through the send_budget row. */
export interface AccountState {
  /** Emails per second for the account; null: unlimited. */
  maxSendRate: number | null;
  /** Why sending is paused, or null. */
  pausedReason: string | null;
  checkedAt: Date;
}

/** Re-reads the account from SES (GetAccount), applies the configured rate override, and records it for all processes. */
export async function refreshAccountState(em: EntityManager, provider: EmailProvider, config: Config, logger: Logger): Promise<AccountState> {
  const previous = await readAccountState(em);
  let rate: number | null = previous.maxSendRate ?? 1;
  let pausedReason: string | null = null;
  try {
    const account = await provider.account();
    rate = account.maxSendRate;
    pausedReason = account.sendingEnabled ? null : account.reason;
  } catch (error) {
    // Not knowing the account is not a reason to stop: keep the last known rate (1/s before any was known).
    logger.warn({ err: error }, 'could not read the SES account; keeping the last known send rate');
  }
  if (config.ses.maxSendRate !== undefined) rate = config.ses.maxSendRate === 0 ? null : config.ses.maxSendRate;
  const state: AccountState = { maxSendRate: rate, pausedReason, checkedAt: new Date() };
  await query(em, sql`update send_budget set max_send_rate = ${rate ?? 0}, paused_reason = ${pausedReason}, checked_at = ${state.checkedAt} where id = 1`);
  if (pausedReason && !previous.pausedReason) logger.error({ reason: pausedReason }, 'SES sending is paused: dispatch stopped');
  if (!pausedReason && previous.pausedReason) logger.info('SES sending is enabled again: dispatch resumed');
  return state;
}

/** Records that SES refused to send for the account (paused or suspended), so every worker stops. */
export async function markAccountPaused(em: EntityManager, reason: string): Promise<void> {
  await query(em, sql`update send_budget set paused_reason = ${reason}, checked_at = clock_timestamp() where id = 1`);
}

/** The last recorded state (for `deliveryStatus` in any process). */
export async function readAccountState(em: EntityManager): Promise<AccountState & { known: boolean }> {
  const [row] = await query<{ max_send_rate: number | null; paused_reason: string | null; checked_at: Date | null }>(
    em,
    sql`select max_send_rate, paused_reason, checked_at from send_budget where id = 1`,
  );
  return {
    maxSendRate: row?.max_send_rate === 0 ? null : (row?.max_send_rate ?? null),
    pausedReason: row?.paused_reason ?? null,
    checkedAt: row?.checked_at ? new Date(row.checked_at) : new Date(0),
    known: Boolean(row?.checked_at),
  };
}
