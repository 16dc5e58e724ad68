import type { EntityManager } from '@mikro-orm/postgresql';
import type { DeliverabilityLevels } from '../../core/config.js';
import { NotFoundError } from '../../core/errors.js';
import { CompanyErrorReason } from '../../core/error-reasons.js';
import { isUuid } from '../../core/ids.js';
import type { CompanyScope, Scope } from '../../model/scope.js';
import { DeliverabilityState } from '../../model/sequence.enums.js';
import { signalEmailsDue } from '../../state/due-signal.js';
import type { DeliverabilityWindowSnapshot } from '../../state/events.js';
import { applyVerdict, measureWindows, readGuardRow, resumeGuard, type GuardRow } from './guard-state.js';
import { SES_LEVELS, verdictOf } from './levels.js';

/**
 * The per-company deliverability guard: judges a company's bounce and complaint rates over rolling windows against
 * the deployment's levels, records WARNING or PAUSED on the company and publishes `deliverabilityChanged`. A PAUSED
 * company's due emails wait (the claim skips it, src/delivery/claim.ts) until the operator resumes it.
 */

/** What `deliverability` answers. */
export interface DeliverabilityView {
  state: DeliverabilityState;
  reason: string | null;
  changedAt: Date | null;
  pausedAt: Date | null;
  resumedAt: Date | null;
  resumedBy: string | null;
  countingSince: Date | null;
  windows: DeliverabilityWindowSnapshot[];
  levels: DeliverabilityLevels & typeof SES_LEVELS;
}

/** Who `resumeCompanySending` records: only the operator token may call it, and it names no one further. */
const OPERATOR = 'operator';

/** A judgement retried after losing a race lands within a few rounds; more would mean a storm of resumes. */
const MAX_ROUNDS = 5;

/**
 * Judges the company now and moves its state if the windows call for it (OK ⇄ WARNING, either → PAUSED; PAUSED stays
 * until the operator resumes it). Returns the state and the windows it was judged on.
 */
export async function evaluateCompany(em: EntityManager, companyId: string, now: Date, levels: DeliverabilityLevels): Promise<DeliverabilityView> {
  for (let round = 0; ; round++) {
    const row = await readGuardRow(em, companyId);
    if (!row) throw new NotFoundError(CompanyErrorReason.COMPANY_NOT_FOUND, companyId);
    const windows = await measureWindows(em, companyId, now, row, levels);
    if (row.state === DeliverabilityState.PAUSED) return view(row, windows, levels);
    const verdict = verdictOf(windows, levels);
    if (verdict.state === row.state || round >= MAX_ROUNDS) return view(row, windows, levels);
    if (await applyVerdict(em, { companyId, from: row, verdict, windows, now })) {
      const moved = await readGuardRow(em, companyId);
      return view(moved ?? row, windows, levels);
    }
    // Another process (or a resume) moved it since the read: judge again from what it wrote.
  }
}

/** `deliverability`: the calling company's state, windows (judged now, so they are current) and levels. */
export function getDeliverability({ em, companyId, now }: CompanyScope, levels: DeliverabilityLevels): Promise<DeliverabilityView> {
  return evaluateCompany(em, companyId, now, levels);
}

/**
 * `resumeCompanySending` (operator): a PAUSED company sends again, its due emails at once; the windows count only
 * sends from now on. A company that is not paused is left as it is (resuming twice is harmless).
 */
export async function resumeCompanySending({ em, now }: Scope, companyId: string, levels: DeliverabilityLevels): Promise<DeliverabilityView> {
  if (!isUuid(companyId) || !(await readGuardRow(em, companyId))) throw new NotFoundError(CompanyErrorReason.COMPANY_NOT_FOUND, companyId);
  await em.transactional(async (tx) => {
    if (await resumeGuard(tx, { companyId, now, by: OPERATOR, levels })) await signalEmailsDue(tx);
  });
  return evaluateCompany(em, companyId, now, levels);
}

function view(row: GuardRow, windows: DeliverabilityWindowSnapshot[], levels: DeliverabilityLevels): DeliverabilityView {
  return {
    state: row.state,
    reason: row.reason,
    changedAt: row.changed_at,
    pausedAt: row.paused_at,
    resumedAt: row.resumed_at,
    resumedBy: row.resumed_by,
    countingSince: row.counting_since,
    windows,
    levels: { ...levels, ...SES_LEVELS },
  };
}

/** The newest arguments of a company's pending judgement, and the judgement running for it. */
interface Pending {
  run: () => Promise<unknown>;
  again: boolean;
  done: Promise<void>;
}
const pending = new Map<string, Pending>();

/**
 * Judges the company after an SES event committed, cheaply under a bounce storm: one judgement per company runs at
 * a time in this process, and events that arrive meanwhile share one more judgement after it (which sees them all).
 * The caller's promise settles after a judgement that began after its own commit, so when SNS gets its answer the
 * event has been judged; a judgement that fails fails the request, and SNS's retry (a duplicate) judges again.
 */
export function evaluateAfterEvent(em: EntityManager, companyId: string, now: Date, levels: DeliverabilityLevels): Promise<void> {
  const run = () => evaluateCompany(em, companyId, now, levels);
  const current = pending.get(companyId);
  if (current) {
    current.run = run;
    current.again = true;
    return current.done;
  }
  const entry: Pending = { run, again: false, done: Promise.resolve() };
  entry.done = (async () => {
    try {
      do {
        entry.again = false;
        await entry.run();
      } while (entry.again);
    } finally {
      pending.delete(companyId);
    }
  })();
  pending.set(companyId, entry);
  return entry.done;
}
