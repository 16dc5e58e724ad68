import type { EntityManager } from '@mikro-orm/postgresql';
import type { EmailKeys } from '../model/email-keys.js';
import { Company } from '../model/company.entity.js';
import { json, query, sql } from '../db/sql.js';
import { ActivityType } from '../model/activity.entity.js';
import { applyScoreSteps, type ScoreStep } from '../leads/score.service.js';
import { EmailStatus } from '../model/sequence.enums.js';
import { recordActivities, type ActivityRecord } from '../state/timeline.js';
import { publish } from '../state/events.js';
import { emailChanged, engagedStatus, writeEngagement } from '../state/email-state.js';
import { ENGAGEABLE_EMAIL } from '../state/transitions.js';
import { BURST_SECONDS, classifyClick, classifyOpen, type Verdict } from './machine.js';

/**
 * One open or click, as the tracking routes and the API report it. Its id, given when it arrives, becomes its
 * email_event row's: an event applied again (replayed from the spool after a crash that followed the commit) finds
 * its id stored and changes nothing.
 */
export interface EngagementEvent {
  id: string;
  kind: 'OPEN' | 'CLICK';
  emailId: string;
  /** For clicks: the link, by index (tracking URLs) … */
  linkIndex?: number;
  /** … or by URL (API clients). */
  url?: string;
  method: string;
  userAgent: string | null;
  at: Date;
  /** Restricts the email to one company (GraphQL callers); tracking URLs carry signed ids and need none. */
  companyId?: string;
}

export interface EngagementOutcome {
  /** False when the email does not exist (for this company), was never sent, or has no such link. */
  recorded: boolean;
  verdict?: Verdict;
  url?: string;
}

interface EmailState extends EmailKeys {
  status: EmailStatus;
  sent_at: Date | null;
  links: string[] | null;
  /** Set only by human engagement: null means no person opened (or clicked) it yet. */
  opened_at: Date | null;
  clicked_at: Date | null;
}

/*
 * Engagement counts for ENGAGEABLE_EMAIL, SENDING included: SES may have delivered an email whose SENT outcome is
 * not written yet (outcomes are settled in groups), and engagement then is still real. It is judged as 0 s after
 * sending, so it is a prefetch and changes nothing but the counts: the settle, which expects SENDING, is not disturbed.
 */

interface BatchEmail extends EmailState {
  openDelta: number;
  clickDelta: number;
  /** Its status as this batch's events so far leave it (`status` is what was read). */
  current: EmailStatus;
  /** The first machine open and click of this batch (analytics facts; the first ever stays, see writeEngagement). */
  machineOpenedAt: Date | null;
  machineClickedAt: Date | null;
}

/** What a batch reads up front and what its events add up to, written at the end in a few statements. */
interface Batch {
  emails: Map<string, BatchEmail>;
  /** Recent clicks per email and link (ms), for the link-scanner burst rule; grows as the batch applies. */
  clicks: { emailId: string; link: number; at: number }[];
  companies: Map<string, Company>;
  eventRows: Record<string, unknown>[];
  activities: ActivityRecord[];
  scores: ScoreStep[];
}

type Judged = { method: string; userAgent: string | null; secondsSinceSent: number | null };

/**
 * Applies a batch of events in one transaction (`em` is inside it), in arrival order, and answers each one's outcome.
 * Events whose id is stored already were applied by an earlier commit: they are skipped (outcome `recorded`).
 */
export async function applyBatch(em: EntityManager, events: EngagementEvent[]): Promise<EngagementOutcome[]> {
  const batch = await loadBatch(em, events);
  // Read after the emails are locked: an event is stored together with its email's counts, under that lock.
  const applied = new Set(
    (await query<{ id: string }>(em, sql`select id from email_event where id = any(${events.map((e) => e.id)}::uuid[])`)).map((row) => row.id),
  );
  const outcomes = events.map((event) => (applied.has(event.id) ? { recorded: true } : applyEvent(batch, event)));
  if (batch.eventRows.length > 0) await writeBatch(em, batch, events.at(-1)!.at);
  return outcomes;
}

async function loadBatch(em: EntityManager, events: EngagementEvent[]): Promise<Batch> {
  const ids = [...new Set(events.map((e) => e.emailId))].sort();
  // Locked in id order: concurrent batches (other processes) wait for each other instead of deadlocking. NO KEY
  // UPDATE, not UPDATE: rows that only reference the email (an unsubscribe's event, which has locked the lead this
  // batch scores next) must not wait for it, or the two deadlock.
  const rows = await query<EmailState>(
    em,
    sql`select id, company_id, lead_id, sequence_id, enrollment_id, email_number, status, sent_at, links, opened_at, clicked_at
        from sequence_email where id = any(${ids}::uuid[]) order by id for no key update`,
  );
  const since = new Date(Math.min(...events.map((e) => e.at.getTime())) - BURST_SECONDS * 1000);
  const recentClicks = await query<{ email_id: string; link_index: number; occurred_at: Date }>(
    em,
    sql`select email_id, link_index, occurred_at from email_event where email_id = any(${ids}::uuid[]) and kind = 'CLICK' and occurred_at > ${since}`,
  );
  return {
    emails: new Map(rows.map((row) => [row.id, { ...row, openDelta: 0, clickDelta: 0, current: row.status, machineOpenedAt: null, machineClickedAt: null }])),
    clicks: recentClicks.map((c) => ({ emailId: c.email_id, link: c.link_index, at: new Date(c.occurred_at).getTime() })),
    companies: new Map((await em.find(Company, { id: { $in: [...new Set(rows.map((r) => r.company_id))] } })).map((c) => [c.id, c])),
    eventRows: [],
    activities: [],
    scores: [],
  };
}

/** Applies one event to the batch's state, in arrival order. */
function applyEvent(batch: Batch, event: EngagementEvent): EngagementOutcome {
  const email = batch.emails.get(event.emailId);
  if (!email || !ENGAGEABLE_EMAIL.includes(email.current) || (event.companyId && email.company_id !== event.companyId)) return { recorded: false };
  const secondsSinceSent = email.current === EmailStatus.SENDING ? 0 : email.sent_at ? (event.at.getTime() - new Date(email.sent_at).getTime()) / 1000 : null;
  const judged = { method: event.method, userAgent: event.userAgent, secondsSinceSent };
  return event.kind === 'OPEN' ? applyOpen(batch, email, event, judged) : applyClick(batch, email, event, judged);
}

function applyOpen(batch: Batch, email: BatchEmail, event: EngagementEvent, judged: Judged): EngagementOutcome {
  const rules = batch.companies.get(email.company_id)!.scoringRules;
  const verdict = classifyOpen(judged);
  email.openDelta++;
  if (verdict.human) {
    if (email.opened_at === null) batch.scores.push(scoreStep(email, rules.openPoints, `First open of email ${email.email_number}`));
    email.opened_at ??= event.at;
    email.current = engagedStatus(email.current, 'OPEN');
  } else email.machineOpenedAt ??= event.at;
  batch.eventRows.push(eventRow(email, event, 'OPEN', verdict, null, null));
  batch.activities.push(activity(email, ActivityType.EMAIL_OPENED, note(verdict, `Email ${email.email_number} opened`), event.at, !verdict.human, {}));
  return { recorded: true, verdict };
}

function applyClick(batch: Batch, email: BatchEmail, event: EngagementEvent, judged: Judged): EngagementOutcome {
  const links = email.links ?? [];
  const linkIndex = event.linkIndex ?? (event.url !== undefined ? links.indexOf(event.url) : -1);
  const url = links[linkIndex];
  if (url === undefined) return { recorded: false };
  const rules = batch.companies.get(email.company_id)!.scoringRules;
  const windowStart = event.at.getTime() - BURST_SECONDS * 1000;
  const otherLinks = new Set(batch.clicks.filter((c) => c.emailId === email.id && c.link !== linkIndex && c.at > windowStart).map((c) => c.link)).size;
  const verdict = classifyClick({ ...judged, otherLinksClickedRecently: otherLinks });
  batch.clicks.push({ emailId: email.id, link: linkIndex, at: event.at.getTime() });
  email.clickDelta++;
  if (verdict.human) {
    // A click means the email was opened, even if the pixel never loaded (images off).
    if (email.opened_at === null) {
      email.openDelta++;
      email.opened_at = event.at;
      batch.scores.push(scoreStep(email, rules.openPoints, `First open of email ${email.email_number} (seen through a click)`));
    }
    if (email.clicked_at === null) {
      email.clicked_at = event.at;
      batch.scores.push(scoreStep(email, rules.clickPoints, `First click in email ${email.email_number}`));
    }
    email.current = engagedStatus(email.current, 'CLICK');
  } else email.machineClickedAt ??= event.at;
  batch.eventRows.push(eventRow(email, event, 'CLICK', verdict, linkIndex, url));
  batch.activities.push(
    activity(email, ActivityType.EMAIL_CLICKED, note(verdict, `Link ${linkIndex + 1} of email ${email.email_number} clicked`), event.at, !verdict.human, {
      url,
    }),
  );
  return { recorded: true, verdict, url };
}

/** Writes what the batch added up to: the events, the counts and statuses, the timeline, realtime events and scores. */
async function writeBatch(em: EntityManager, batch: Batch, now: Date): Promise<void> {
  await query(
    em,
    sql`insert into email_event (id, company_id, email_id, kind, link_index, url, verdict, verdict_reason, user_agent, occurred_at)
        select id, company_id, email_id, kind, link_index, url, verdict, verdict_reason, user_agent, occurred_at
        from jsonb_to_recordset(${json(batch.eventRows)}) as t(id uuid, company_id uuid, email_id uuid, kind text, link_index int, url text,
             verdict text, verdict_reason text, user_agent text, occurred_at timestamptz)`,
  );
  const touched = [...batch.emails.values()].filter((e) => e.openDelta > 0 || e.clickDelta > 0);
  await writeEngagement(
    em,
    touched.map((e) => ({
      id: e.id,
      opens: e.openDelta,
      clicks: e.clickDelta,
      status: e.current,
      opened_at: e.opened_at,
      clicked_at: e.clicked_at,
      machine_opened_at: e.machineOpenedAt,
      machine_clicked_at: e.machineClickedAt,
    })),
    now,
  );
  await recordActivities(em, batch.activities);
  await publish(
    em,
    touched.filter((e) => e.current !== e.status).map((e) => emailChanged(e, e.current, now)),
  );
  await applyScoreSteps(
    em,
    batch.scores.filter((step) => step.delta !== 0),
    batch.companies,
    now,
  );
}

function note(verdict: Verdict, what: string): string {
  return verdict.human ? what : `${what} by a machine (${verdict.reason}); not scored`;
}

function eventRow(email: EmailState, event: EngagementEvent, kind: 'OPEN' | 'CLICK', verdict: Verdict, linkIndex: number | null, url: string | null) {
  return {
    id: event.id,
    company_id: email.company_id,
    email_id: email.id,
    kind,
    link_index: linkIndex,
    url,
    verdict: verdict.human ? 'HUMAN' : 'MACHINE',
    verdict_reason: verdict.human ? null : verdict.reason,
    user_agent: event.userAgent?.slice(0, 512) ?? null,
    occurred_at: event.at.toISOString(),
  };
}

/** A score step for the email's lead, its SCORE_CHANGED activity naming the email that earned it. */
function scoreStep(email: EmailState, delta: number, reason: string): ScoreStep {
  return { leadId: email.lead_id, companyId: email.company_id, delta, reason, data: { emailId: email.id } };
}

function activity(email: EmailState, type: ActivityType, reason: string, at: Date, machine: boolean, data: Record<string, unknown>): ActivityRecord {
  return {
    companyId: email.company_id,
    leadId: email.lead_id,
    type,
    reason,
    data: { emailId: email.id, sequenceId: email.sequence_id, machine, ...data },
    occurredAt: at,
  };
}
