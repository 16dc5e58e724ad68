import type { RawBuilder } from 'kysely';
import { sql } from '../db/sql.js';

/*
 * The counters of email_stats as the API names them, and the rates derived from them. Pure, apart from the select
 * list the queries share.
 */

export interface EmailCounts {
  enrolled: number;
  sent: number;
  delivered: number;
  bouncedPermanent: number;
  bouncedTransient: number;
  complained: number;
  failed: number;
  unknown: number;
  canceled: number;
  unsubscribed: number;
  uniqueHumanOpens: number;
  uniqueMachineOpens: number;
  uniqueHumanClicks: number;
  uniqueMachineClicks: number;
  replied: number;
}

/** Each API counter and its email_stats column. */
const COLUMNS: Record<keyof EmailCounts, string> = {
  enrolled: 'enrolled',
  sent: 'sent',
  delivered: 'delivered',
  bouncedPermanent: 'bounced_permanent',
  bouncedTransient: 'bounced_transient',
  complained: 'complained',
  failed: 'failed',
  unknown: 'unknown',
  canceled: 'canceled',
  unsubscribed: 'unsubscribed',
  uniqueHumanOpens: 'human_opens',
  uniqueMachineOpens: 'machine_opens',
  uniqueHumanClicks: 'human_clicks',
  uniqueMachineClicks: 'machine_clicks',
  replied: 'replied',
};
const KEYS = Object.keys(COLUMNS) as (keyof EmailCounts)[];

/** `coalesce(sum(s.col), 0)::int as "apiName", …` over email_stats rows aliased `alias`. */
export function sumColumns(alias: string): RawBuilder<unknown> {
  return sql.join(KEYS.map((key) => sql`coalesce(sum(${sql.ref(`${alias}.${COLUMNS[key]}`)}), 0)::int as ${sql.ref(key)}`));
}

export function zeroCounts(): EmailCounts {
  return Object.fromEntries(KEYS.map((key) => [key, 0])) as unknown as EmailCounts;
}

/** The counters of a row read with sumColumns (PostgreSQL integers arrive as numbers). */
export function countsOf(row: Partial<Record<keyof EmailCounts, number>> | undefined): EmailCounts {
  return Object.fromEntries(KEYS.map((key) => [key, Number(row?.[key] ?? 0)])) as unknown as EmailCounts;
}

export function addCounts(a: EmailCounts, b: EmailCounts): EmailCounts {
  return Object.fromEntries(KEYS.map((key) => [key, a[key] + b[key]])) as unknown as EmailCounts;
}

export interface EmailRates {
  deliveryRate: number | null;
  openRate: number | null;
  machineOpenRate: number | null;
  clickRate: number | null;
  clickToOpenRate: number | null;
  bounceRate: number | null;
  complaintRate: number | null;
  unsubscribeRate: number | null;
  replyRate: number | null;
}

/** part ÷ whole, or null when there is nothing to divide by. */
function rate(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

/** The rates of `counts`; each numerator is a subset of its denominator (see README, Analytics). */
export function ratesOf(c: EmailCounts): EmailRates {
  return {
    deliveryRate: rate(c.delivered, c.sent),
    openRate: rate(c.uniqueHumanOpens, c.delivered),
    machineOpenRate: rate(c.uniqueMachineOpens, c.delivered),
    clickRate: rate(c.uniqueHumanClicks, c.delivered),
    clickToOpenRate: rate(c.uniqueHumanClicks, c.uniqueHumanOpens),
    bounceRate: rate(c.bouncedPermanent, c.sent),
    complaintRate: rate(c.complained, c.delivered),
    unsubscribeRate: rate(c.unsubscribed, c.delivered),
    replyRate: rate(c.replied, c.delivered),
  };
}
