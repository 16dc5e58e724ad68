import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { EmailKeys } from '../model/email-keys.js';
import { Company } from '../model/company.entity.js';
import { uuidv7 } from '../core/ids.js';
import { json, query, sql } from '../db/sql.js';
import { ActivityType } from '../model/activity.entity.js';
import { applyScoreSteps, type ScoreStep } from '../leads/score.service.js';
import { EmailStatus } from '../model/sequence.enums.js';
import { recordActivities, type ActivityRecord } from '../state/timeline.js';
import { publish } from '../state/events.js';
import { emailChanged, engagedStatus, writeEngagement } from '../state/email-state.js';
import { ENGAGEABLE_EMAIL } from '../state/transitions.js';
import { BURST_SECONDS, classifyClick, classifyOpen, type Verdict } from './machine.js';

export interface EngagementEvent {
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

interface Pending {
  event: EngagementEvent;
  resolve: (outcome: EngagementOutcome) => void;
  reject: (error: unknown) => void;
}

/*
 * Engagement counts for ENGAGEABLE_EMAIL, SENDING included: SES may have delivered an email whose SENT outcome is
 * not written yet (outcomes are settled in groups), and engagement then is still real. It is judged as 0 s after
 * sending, so it is a prefetch and changes nothing but the counts: the settle, which expects SENDING, is not disturbed.
 */

/**
 * Records opens and clicks write-behind, in group commits: the pixel and the redirect answer at once, and every
 * 20 ms (or 1,000 events) one transaction applies a whole batch with a handful of set-based statements (lock the emails,
 * insert the events and timeline rows, update counts and statuses, change scores per lead). Within a batch,
 * events apply in arrival order, so "first open" and "first click" are decided exactly once and counts never lose
 * an increment, however many requests arrive at once. `record` resolves when its batch has committed; shutdown
 * flushes what is buffered.
 */
export class EngagementRecorder {
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Links never change once an email is sent: clicks find their target without a query. */
  readonly #links = new Map<string, string[]>();

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    private readonly options = { maxBatch: 1000, maxDelayMs: 20 },
  ) {}

  record(event: EngagementEvent): Promise<EngagementOutcome> {
    if (this.#closed) return Promise.reject(new Error('the engagement recorder is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ event, resolve, reject });
      if (this.#queue.length >= this.options.maxBatch) void this.flush();
      else this.#timer ??= setTimeout(() => void this.flush(), this.options.maxDelayMs);
    });
  }

  /** Where link `index` of a sent email leads, or undefined (unknown email, not sent, no such link). */
  async linkOf(emailId: string, index: number): Promise<string | undefined> {
    let links = this.#links.get(emailId);
    if (!links) {
      const [row] = await query<{ links: string[] | null; status: EmailStatus }>(
        this.orm.em.fork(),
        sql`select links, status from sequence_email where id = ${emailId}::uuid`,
      );
      if (!row?.links) return undefined;
      links = row.links;
      // While SENDING they are the links of an attempt that may yet fail and be rendered again: not remembered.
      if (row.status !== EmailStatus.SENDING) {
        if (this.#links.size > 50_000) this.#links.delete(this.#links.keys().next().value!);
        this.#links.set(emailId, links);
      }
    }
    return links[index];
  }

  /** Applies everything buffered so far (one batch after another). */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.options.maxBatch);
    this.#flushing = this.apply(batch).finally(() => (this.#flushing = undefined));
    await this.#flushing;
    if (this.#queue.length > 0) await this.flush();
  }

  async dispose(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  private async apply(batch: Pending[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const outcomes = await this.orm.em.fork().transactional((tx) =>
          applyBatch(
            tx,
            batch.map((p) => p.event),
          ),
        );
        batch.forEach((pending, i) => pending.resolve(outcomes[i]!));
        return;
      } catch (error) {
        if (attempt >= 3) {
          this.logger.error({ err: error, events: batch.length }, 'could not record engagement events');
          batch.forEach((pending) => pending.reject(error));
          return;
        }
        // Deadlock or a lost connection: the whole batch rolled back, so trying again cannot count twice.
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }
}

interface BatchEmail extends EmailState {
  openDelta: number;
  clickDelta: number;
  /** Its status as this batch's events so far leave it (`status` is what was read). */
  current: EmailStatus;
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

async function applyBatch(em: EntityManager, events: EngagementEvent[]): Promise<EngagementOutcome[]> {
  const batch = await loadBatch(em, events);
  const outcomes = events.map((event) => applyEvent(batch, event));
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
    emails: new Map(rows.map((row) => [row.id, { ...row, openDelta: 0, clickDelta: 0, current: row.status }])),
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
  }
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
  }
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
    touched.map((e) => ({ id: e.id, opens: e.openDelta, clicks: e.clickDelta, status: e.current, opened_at: e.opened_at, clicked_at: e.clicked_at })),
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
    id: uuidv7(event.at.getTime()),
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
