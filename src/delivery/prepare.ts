import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import { json, query, sql } from '../db/sql.js';
import { Company } from '../model/company.entity.js';
import { EmailSequence } from '../model/email-sequence.entity.js';
import { Lead } from '../model/lead.entity.js';
import { EmailStatus, EnrollmentStatus } from '../model/sequence.enums.js';
import { RenderBudget } from '../templates/render-budget.js';
import { RenderUnavailableError } from '../templates/render.js';
import { TemplateTooSlowError } from '../templates/template-engine.js';
import type { ClaimedEmail } from './claim.js';
import type { OutgoingEmail } from './email-provider.js';
import { buildEmail } from './message.js';
import { handedBack, type Outcome } from './settler.js';

export interface Prepared {
  claim: ClaimedEmail;
  email: OutgoingEmail;
  links: string[];
}

/** Emails of a batch being rendered at once: enough to keep the render workers busy while replies travel. */
const RENDER_CONCURRENCY = 8;
/** Render time each company's emails may take per batch, far below the claim lease (CLAIM_LEASE_SECONDS). */
const BATCH_RENDER_BUDGET_MS = 5000;

/**
 * Cancels what must not be sent, holds what its enrollment's pause holds, and renders the rest; a rendering error
 * fails that one email only.
 */
export async function prepareBatch(
  deps: { config: Config; clock: Clock },
  em: EntityManager,
  claimed: ClaimedEmail[],
): Promise<{ prepared: Prepared[]; outcomes: Outcome[] }> {
  const leads = new Map((await em.find(Lead, { id: { $in: unique(claimed.map((c) => c.lead_id)) } })).map((l) => [l.id, l]));
  const sequences = new Map((await em.find(EmailSequence, { id: { $in: unique(claimed.map((c) => c.sequence_id)) } })).map((s) => [s.id, s]));
  const companies = new Map((await em.find(Company, { id: { $in: unique(claimed.map((c) => c.company_id)) } })).map((c) => [c.id, c]));
  const enrollments = new Map(
    (
      await query<{ id: string; status: EnrollmentStatus }>(
        em,
        sql`select id, status from enrollment where id = any(${unique(claimed.map((c) => c.enrollment_id))}::uuid[])`,
      )
    ).map((r) => [r.id, r.status]),
  );
  const suppressed = new Set(
    (
      await query<{ key: string }>(
        em,
        sql`select company_id || ':' || email as key from suppression
            where (company_id, email) in (select (x->>'c')::uuid, x->>'e' from jsonb_array_elements(${json(
              claimed.map((c) => ({ c: c.company_id, e: leads.get(c.lead_id)?.email ?? '' })),
            )}) x)`,
      )
    ).map((r) => r.key),
  );

  const outcomes: Outcome[] = [];
  const toRender: ClaimedEmail[] = [];
  for (const claim of claimed) {
    const lead = leads.get(claim.lead_id);
    const enrollment = enrollments.get(claim.enrollment_id);
    if (lead && lead.email !== claim.to_address) {
      // updateLead changed the address since the claim recorded it: requeued, the next claim records the new one.
      outcomes.push(handedBack(claim.id));
    } else if (enrollment === EnrollmentStatus.PAUSED) {
      // Paused since the claim: back in the queue, held by the pause (it marked this email too), sent on resume.
      outcomes.push(handedBack(claim.id));
    } else if (
      !lead ||
      !lead.email ||
      lead.deletedAt ||
      lead.unsubscribedAt ||
      enrollment !== EnrollmentStatus.ACTIVE ||
      suppressed.has(`${claim.company_id}:${lead.email}`)
    ) {
      outcomes.push({ id: claim.id, status: EmailStatus.CANCELED });
    } else {
      toRender.push(claim);
    }
  }
  // Rendered in the render workers, a few at a time; each company's emails share a render budget per batch, so a
  // company with slow templates cannot hold the batch (and its claim lease) for long.
  const budgets = new Map<string, RenderBudget>();
  const built = await mapConcurrently(toRender, RENDER_CONCURRENCY, async (claim) => {
    const budget = budgets.get(claim.company_id) ?? new RenderBudget(claim.company_id, BATCH_RENDER_BUDGET_MS);
    budgets.set(claim.company_id, budget);
    const email = { id: claim.id, emailNumber: claim.email_number, company: companies.get(claim.company_id)!, lead: leads.get(claim.lead_id)! };
    try {
      return { claim, ...(await buildEmail(deps.config, { ...email, sequence: sequences.get(claim.sequence_id)! }, budget)) };
    } catch (error) {
      outcomes.push(renderFailure(deps.clock, claim, error));
      return undefined;
    }
  });
  const prepared = built.filter((item): item is Prepared => item !== undefined);
  return { prepared, outcomes };
}

/**
 * A slow template fails its email (TEMPLATE_TOO_SLOW); one left unrendered (budget spent, queue full, no render
 * worker able to run it) waits a minute: a fault of ours is never the email's failure.
 */
function renderFailure(clock: Clock, claim: ClaimedEmail, error: unknown): Outcome {
  if ((error instanceof TemplateTooSlowError && error.notRun) || error instanceof RenderUnavailableError) {
    return { id: claim.id, status: EmailStatus.PENDING, retryAt: new Date(clock.now().getTime() + 60_000).toISOString(), refund: 1 };
  }
  const reason = error instanceof TemplateTooSlowError ? `${error.reason}: ${error.message}` : `Rendering failed: ${(error as Error).message}`;
  return { id: claim.id, status: EmailStatus.FAILED, reason: reason.slice(0, 1000) };
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** `fn` over `items`, at most `limit` at a time; the results in the items' order. */
async function mapConcurrently<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    for (let index = next++; index < items.length; index = next++) results[index] = await fn(items[index]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return results;
}
