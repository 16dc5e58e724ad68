import type { EntityManager } from '@mikro-orm/postgresql';
import type { RawBuilder } from 'kysely';
import { query, sql } from '../db/sql.js';
import type { DeliverabilityState, EmailStatus, EnrollmentStatus, StopReason } from '../model/sequence.enums.js';

/** What subscribers can listen to. Values are the routing keys of the PubSub. */
export enum Topic {
  LeadScoreChanged = 'LEAD_SCORE_CHANGED',
  EmailStatusChanged = 'EMAIL_STATUS_CHANGED',
  EnrollmentChanged = 'ENROLLMENT_CHANGED',
  /** A company's deliverability state moved (src/delivery/guard/): a company event, with no lead. */
  DeliverabilityChanged = 'DELIVERABILITY_CHANGED',
}

/*
 * Events cross processes as JSON through PostgreSQL NOTIFY, so they hold ids and the changed fields only;
 * subscribers load whatever else their selection asks for when the event reaches them.
 */

export interface LeadScoreChangedEvent {
  topic: Topic.LeadScoreChanged;
  companyId: string;
  leadId: string;
  previousScore: number;
  score: number;
  delta: number;
  reason: string;
  /** ISO 8601. */
  at: string;
}

export interface EmailStatusChangedEvent {
  topic: Topic.EmailStatusChanged;
  companyId: string;
  leadId: string;
  sequenceId: string;
  enrollmentId: string;
  emailId: string;
  status: EmailStatus;
  at: string;
}

export interface EnrollmentChangedEvent {
  topic: Topic.EnrollmentChanged;
  companyId: string;
  leadId: string;
  sequenceId: string;
  enrollmentId: string;
  status: EnrollmentStatus;
  stopReason: StopReason | null;
  at: string;
}

/** One rolling window as the guard measured it when the state moved (sends counted since the last resume at most). */
export interface DeliverabilityWindowSnapshot {
  days: number;
  sent: number;
  bounced: number;
  complained: number;
  bounceRate: number | null;
  complaintRate: number | null;
  enoughVolume: boolean;
}

export interface DeliverabilityChangedEvent {
  topic: Topic.DeliverabilityChanged;
  companyId: string;
  /** A company event concerns no lead (declared so code reading any event's `leadId` still type-checks). */
  leadId?: undefined;
  state: DeliverabilityState;
  previousState: DeliverabilityState;
  reason: string | null;
  at: string;
  windows: DeliverabilityWindowSnapshot[];
}

export type RealtimeEvent = LeadScoreChangedEvent | EmailStatusChangedEvent | EnrollmentChangedEvent | DeliverabilityChangedEvent;

/** Notices on the same channel that no subscription hears: they tell every process about access that ended. */
export enum AccessTopic {
  /** An API key stopped authenticating: revoked, or deleted (with its company, say). */
  ApiKeyRevoked = 'API_KEY_REVOKED',
  /** A company's row changed, or one of its keys moved or changed its secret: what processes remember of it is stale. */
  CompanyChanged = 'COMPANY_CHANGED',
}

/**
 * Sent by a database trigger on `api_key` (migration api_key_revocation_notify), whatever revoked or deleted the key,
 * and delivered on commit only: processes close the key's open WebSockets.
 */
export interface ApiKeyRevokedEvent {
  topic: AccessTopic.ApiKeyRevoked;
  companyId: string;
  apiKeyId: string;
}

/**
 * Sent by database triggers (migration auth_cache_notify) when a company's row changes, and for both companies when
 * an API key's company or secret changes, delivered on commit only: processes forget the keys they remember for it.
 */
export interface CompanyChangedEvent {
  topic: AccessTopic.CompanyChanged;
  companyId: string;
}

/** The one NOTIFY channel of the app. NOTIFY is per database, so apps on other databases never hear it. */
export const CHANNEL = 'lead_nurture_realtime';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; the margin keeps us clear of it. */
export const MAX_PAYLOAD_BYTES = 7_900;

/** Longest `reason` carried by an event: it is for display, and keeps every event far below the payload limit. */
export const MAX_REASON_LENGTH = 200;

/**
 * Queues events with pg_notify in em's current transaction: PostgreSQL delivers them only if it commits
 * (publish-after-commit for free), to every process. Outside a transaction they go at once. Batches many events
 * per NOTIFY (payload limit ~8000 bytes) so a 10,000-lead import is a few statements, not 10,000.
 */
export async function publish(em: EntityManager, events: RealtimeEvent | RealtimeEvent[]): Promise<void> {
  const payloads = encodeEvents(Array.isArray(events) ? events : [events]);
  if (payloads.length === 0) return;
  // One statement for all batches; a function scan of unnest yields (and so notifies) in array order.
  await query(em, sql`select pg_notify(${CHANNEL}, payload) from unnest(${payloads}::text[]) as payload`);
}

/** Packs events into as few JSON-array payloads as the NOTIFY size limit allows, keeping their order. */
export function encodeEvents(events: RealtimeEvent[]): string[] {
  const batches: string[][] = [];
  for (const { json, batch } of packEvents(events)) (batches[batch] ??= []).push(json);
  return batches.map((batch) => `[${batch.join(',')}]`);
}

/** Each event's JSON and the payload it goes in: consecutive events share one while it stays under the limit. */
function packEvents(events: RealtimeEvent[]): Array<{ json: string; batch: number }> {
  const packed: Array<{ json: string; batch: number }> = [];
  let batch = 0;
  let bytes = 2; // the brackets
  for (const event of events) {
    const json = JSON.stringify(event.topic === Topic.LeadScoreChanged ? { ...event, reason: shorten(event.reason) } : event);
    const size = Buffer.byteLength(json) + 1; // and its comma
    if (bytes > 2 && bytes + size > MAX_PAYLOAD_BYTES) {
      batch++;
      bytes = 2;
    }
    packed.push({ json, batch });
    bytes += size;
  }
  return packed;
}

/**
 * For statements that publish only what they actually wrote: a query yielding one pg_notify per payload of the
 * events whose key (e.g. the enrollment id) is in `keys` (a subquery of the statement, such as the ids an
 * `insert … on conflict do nothing` returned). The events are packed up front, so a payload can only shrink.
 * Use it as a CTE and reference it from the statement's final select: PostgreSQL runs a plain CTE only then.
 */
export function publishWritten(events: Array<{ key: string; event: RealtimeEvent }>, keys: RawBuilder<unknown>): RawBuilder<unknown> {
  const packed = packEvents(events.map((e) => e.event));
  return sql`select pg_notify(${CHANNEL}, '[' || string_agg(e.json, ',' order by e.ord) || ']')
             from unnest(${events.map((e) => e.key)}::uuid[], ${packed.map((p) => p.json)}::text[], ${packed.map((p) => p.batch)}::int[])
               with ordinality as e(key, json, batch, ord)
             where e.key in (${keys})
             group by e.batch`;
}

/** The events of one NOTIFY payload; anything that is not a well-formed event is left out. */
export function decodeEvents(payload: string): RealtimeEvent[] {
  return decodeNotification(payload).events;
}

/** One NOTIFY payload, parsed once: its events for subscribers and its access notices. Malformed entries are left out. */
export function decodeNotification(payload: string): { events: RealtimeEvent[]; revoked: ApiKeyRevokedEvent[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return { events: [], revoked: [] };
  }
  if (!Array.isArray(parsed)) return { events: [], revoked: [] };
  return { events: parsed.filter(isEvent), revoked: parsed.filter(isApiKeyRevoked) };
}

/** decodeNotification, with the company changes too: one parse of the payload for all its readers. */
export function decodeAccessNotices(payload: string): { events: RealtimeEvent[]; revoked: ApiKeyRevokedEvent[]; companies: CompanyChangedEvent[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return { events: [], revoked: [], companies: [] };
  }
  if (!Array.isArray(parsed)) return { events: [], revoked: [], companies: [] };
  return { events: parsed.filter(isEvent), revoked: parsed.filter(isApiKeyRevoked), companies: parsed.filter(isCompanyChanged) };
}

function isCompanyChanged(value: unknown): value is CompanyChangedEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { topic, companyId } = value as Record<string, unknown>;
  return topic === AccessTopic.CompanyChanged && typeof companyId === 'string';
}

function isApiKeyRevoked(value: unknown): value is ApiKeyRevokedEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { topic, companyId, apiKeyId } = value as Record<string, unknown>;
  return topic === AccessTopic.ApiKeyRevoked && typeof companyId === 'string' && typeof apiKeyId === 'string';
}

const TOPICS = new Set<string>(Object.values(Topic));

function isEvent(value: unknown): value is RealtimeEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { topic, companyId, leadId } = value as Record<string, unknown>;
  // Company events (deliverability) concern no lead; every other event names one.
  const leadOk = topic === Topic.DeliverabilityChanged || typeof leadId === 'string';
  return typeof topic === 'string' && TOPICS.has(topic) && typeof companyId === 'string' && leadOk;
}

function shorten(reason: string): string {
  return reason.length <= MAX_REASON_LENGTH ? reason : `${reason.slice(0, MAX_REASON_LENGTH - 1)}…`;
}
