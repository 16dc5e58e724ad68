import type { EntityManager } from '@mikro-orm/postgresql';
import { Company } from '../model/company.entity.js';
import { InvalidInputError } from '../core/errors.js';
import { query, sql } from '../db/sql.js';
import { pageOf, type ConnectionResult, type PageRequest } from '../db/pagination.js';
import type { CreateSequenceInput, SendWindowInput, SequenceStepInput, UpdateSequenceInput } from './dto/sequence.input.js';
import { EmailSequence } from '../model/email-sequence.entity.js';
import { findLead, findSequence } from '../model/lookups.js';
import { EmailStatus, SequenceTrigger } from '../model/sequence.enums.js';
import { WindowTimeZone, type SendWindow, type SequenceStep } from '../model/sequence-step.js';
import { thresholdProblems } from './sequence.validation.js';
import type { CompanyScope, Scope } from '../model/scope.js';
import { renderEmail, type RenderedEmail } from '../templates/render.js';
import { requestRenderBudget } from '../templates/render-budget.js';
import { TemplateRenderError } from '../templates/template-engine.js';
import { templateData } from '../templates/template-data.js';

/** One sequence of the company (`sequence`). */
export function getSequence({ em, companyId }: CompanyScope, id: string): Promise<EmailSequence> {
  return findSequence(em, companyId, id);
}

/** Creates a sequence from an input already checked whole (createSequenceProblems). */
export async function createSequence({ em, companyId }: CompanyScope, input: CreateSequenceInput): Promise<EmailSequence> {
  return em.transactional(async (tx) => {
    if (input.isDefault) await clearDefault(tx, companyId);
    const sequence = tx.create(EmailSequence, {
      company: tx.getReference(Company, companyId),
      name: input.name.trim(),
      description: input.description?.trim() || null,
      active: input.active,
      trigger: input.trigger,
      scoreThreshold: input.trigger === SequenceTrigger.SCORE_THRESHOLD ? input.scoreThreshold! : null,
      steps: input.steps.map(toStep),
      sendWindow: input.sendWindow ? toWindow(input.sendWindow) : null,
      isDefault: input.isDefault,
      stopOnReply: input.stopOnReply,
    });
    await tx.flush();
    return sequence;
  });
}

/**
 * Applies an update to a sequence inside the caller's transaction, and says whether its schedule (steps or send
 * window) changed: enrollments/ then moves the emails not yet sent (sequences stand below enrollments).
 */
export async function applySequenceUpdate(
  tx: EntityManager,
  companyId: string,
  id: string,
  input: UpdateSequenceInput,
): Promise<{ sequence: EmailSequence; scheduleChanged: boolean }> {
  {
    const sequence = await findSequence(tx, companyId, id);
    const trigger = input.trigger ?? sequence.trigger;
    const next = {
      name: input.name ?? sequence.name,
      description: input.description !== undefined ? input.description?.trim() || null : sequence.description,
      trigger,
      scoreThreshold: input.scoreThreshold !== undefined ? input.scoreThreshold : trigger === SequenceTrigger.SCORE_THRESHOLD ? sequence.scoreThreshold : null,
      steps: input.steps ?? sequence.steps,
      sendWindow: input.sendWindow !== undefined ? input.sendWindow : sequence.sendWindow,
    };
    // The input's fields were checked on their own (updateSequenceProblems); what needs the stored trigger is checked here.
    const problems = thresholdProblems(next.trigger, next.scoreThreshold, 'input');
    if (problems.length > 0) throw new InvalidInputError(problems);

    const scheduleChanged = (input.steps !== undefined && input.steps !== null) || input.sendWindow !== undefined;
    sequence.name = next.name.trim();
    sequence.description = next.description;
    sequence.trigger = next.trigger;
    sequence.scoreThreshold = next.scoreThreshold ?? null;
    if (input.steps) sequence.steps = input.steps.map(toStep);
    if (input.sendWindow !== undefined) sequence.sendWindow = input.sendWindow ? toWindow(input.sendWindow) : null;
    if (input.active !== undefined && input.active !== null) sequence.active = input.active;
    if (input.stopOnReply !== undefined && input.stopOnReply !== null) sequence.stopOnReply = input.stopOnReply;
    if (input.isDefault === true && !sequence.isDefault) {
      await clearDefault(tx, companyId);
      sequence.isDefault = true;
    } else if (input.isDefault === false) {
      sequence.isDefault = false;
    }
    await tx.flush();
    return { sequence, scheduleChanged };
  }
}

async function clearDefault(em: EntityManager, companyId: string): Promise<void> {
  await query(em, sql`update email_sequence set is_default = false where company_id = ${companyId}::uuid and is_default`);
}

/** A page of the company's sequences, oldest first; `active` narrows to active or inactive ones. */
export function listSequences(
  { em, companyId }: CompanyScope,
  args: PageRequest,
  active: boolean | null | undefined,
): Promise<ConnectionResult<EmailSequence>> {
  const where = { company: companyId, ...(active === null || active === undefined ? {} : { active }) };
  return pageOf(em, EmailSequence, where, { field: 'createdAt', direction: 'asc', key: 'date' }, args);
}

/** Count of the sequence's emails in each status (zeros included). */
export async function emailCounts({ em }: Scope, sequenceId: string): Promise<Record<EmailStatus, number>> {
  const rows = await query<{ status: EmailStatus; count: string }>(
    em,
    sql`select status, count(*) as count from sequence_email where sequence_id = ${sequenceId}::uuid group by status`,
  );
  const counts = Object.fromEntries(Object.values(EmailStatus).map((s) => [s, 0])) as Record<EmailStatus, number>;
  for (const row of rows) counts[row.status] = Number(row.count);
  return counts;
}

/** Renders step `step` (1-based) of a sequence for a lead, as it would be sent now (without tracking). */
export async function previewEmail(scope: CompanyScope, sequenceId: string, step: number, leadId: string, publicUrl: string): Promise<RenderedEmail> {
  const { em, companyId } = scope;
  const sequence = await findSequence(em, companyId, sequenceId);
  // Which steps exist depends on the stored sequence: this is the one check of `step`.
  const template = sequence.steps[step - 1];
  if (!Number.isInteger(step) || !template) {
    throw InvalidInputError.field('step', `must be 1 to ${sequence.steps.length} for this sequence`);
  }
  const lead = await findLead(em, companyId, leadId);
  // Every preview of one request draws on the same render budget (a document of many aliases shares it).
  const budget = requestRenderBudget(scope, companyId);
  try {
    return await renderEmail(template, templateData(await scope.company(), lead, `${publicUrl}/u/preview`), budget);
  } catch (error) {
    // A template that cannot be rendered is the caller's to fix, not a server fault (TEMPLATE_TOO_SLOW is already one).
    if (error instanceof TemplateRenderError) throw InvalidInputError.field('step', error.message);
    throw error;
  }
}

export function totalDelayHours(step: SequenceStep): number {
  return step.delayDays * 24 + step.delayHours;
}

/** Days from enrollment to the last email (rounded up), before send-window adjustments. */
export function durationDays(sequence: EmailSequence): number {
  return Math.ceil(Math.max(0, ...sequence.steps.map(totalDelayHours)) / 24);
}

function toStep(step: SequenceStepInput | SequenceStep): SequenceStep {
  return { delayDays: step.delayDays, delayHours: step.delayHours ?? 0, subject: step.subject, body: step.body };
}

function toWindow(window: SendWindowInput): SendWindow {
  return {
    weekdays: [...window.weekdays].sort((a, b) => a - b),
    startTime: window.startTime,
    endTime: window.endTime,
    timeZone: window.timeZone ?? WindowTimeZone.LEAD,
  };
}
