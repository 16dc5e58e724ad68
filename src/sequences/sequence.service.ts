import type { EntityManager } from '@mikro-orm/postgresql';
import { Company } from '../model/company.entity.js';
import { InvalidInputError } from '../core/errors.js';
import { query, sql } from '../db/sql.js';
import { keysetAfter, paginate, type ConnectionResult, type PageRequest } from '../db/pagination.js';
import type { CreateSequenceInput, SendWindowInput, SequenceStepInput, UpdateSequenceInput } from './dto/sequence.input.js';
import { EmailSequence } from '../model/email-sequence.entity.js';
import { findLead, findSequence } from '../model/lookups.js';
import { EmailStatus, SequenceTrigger } from '../model/sequence.enums.js';
import { WindowTimeZone, type SendWindow, type SequenceStep } from '../model/sequence-step.js';
import { sequenceProblems } from './sequence.validation.js';
import { renderEmail, type RenderedEmail } from '../templates/templates.js';
import { templateData } from '../templates/template-data.js';

export async function createSequence(em: EntityManager, companyId: string, input: CreateSequenceInput): Promise<EmailSequence> {
  const problems = sequenceProblems({
    name: input.name,
    description: input.description ?? null,
    trigger: input.trigger,
    scoreThreshold: input.scoreThreshold ?? null,
    steps: input.steps,
    sendWindow: input.sendWindow ?? null,
  });
  if (problems.length > 0) throw new InvalidInputError(problems);

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
    });
    await tx.flush();
    return sequence;
  });
}

/**
 * Applies an update to a sequence inside the caller's transaction, and says whether its schedule (steps or send
 * window) changed: enrollments/ then moves the emails not yet sent (sequences stand below enrollments).
 */
export async function applySequenceUpdate(tx: EntityManager, companyId: string, id: string, input: UpdateSequenceInput): Promise<{ sequence: EmailSequence; scheduleChanged: boolean }> {
  {
    const sequence = await findSequence(tx, companyId, id);
    const trigger = input.trigger ?? sequence.trigger;
    const next = {
      name: input.name ?? sequence.name,
      description: input.description !== undefined ? input.description?.trim() || null : sequence.description,
      trigger,
      scoreThreshold:
        input.scoreThreshold !== undefined ? input.scoreThreshold : trigger === SequenceTrigger.SCORE_THRESHOLD ? sequence.scoreThreshold : null,
      steps: input.steps ?? sequence.steps,
      sendWindow: input.sendWindow !== undefined ? input.sendWindow : sequence.sendWindow,
    };
    const problems = sequenceProblems(next);
    if (problems.length > 0) throw new InvalidInputError(problems);

    const scheduleChanged = input.steps !== undefined && input.steps !== null || input.sendWindow !== undefined;
    sequence.name = next.name.trim();
    sequence.description = next.description;
    sequence.trigger = next.trigger;
    sequence.scoreThreshold = next.scoreThreshold ?? null;
    if (input.steps) sequence.steps = input.steps.map(toStep);
    if (input.sendWindow !== undefined) sequence.sendWindow = input.sendWindow ? toWindow(input.sendWindow) : null;
    if (input.active !== undefined && input.active !== null) sequence.active = input.active;
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

export function listSequences(em: EntityManager, companyId: string, args: PageRequest, active: boolean | null | undefined): Promise<ConnectionResult<EmailSequence>> {
  const where = { company: companyId, ...(active === null || active === undefined ? {} : { active }) };
  return paginate({
    args,
    keys: ['date', 'uuid'],
    fetch: (limit, after) =>
      em.find(
        EmailSequence,
        after ? { $and: [where, keysetAfter('createdAt', 'asc', new Date(after[0] as string), after[1])] } : where,
        { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], limit },
      ),
    keyOf: (s) => [s.createdAt.toISOString(), s.id],
    count: () => em.count(EmailSequence, where),
  });
}

/** Count of the sequence's emails in each status (zeros included). */
export async function emailCounts(em: EntityManager, sequenceId: string): Promise<Record<EmailStatus, number>> {
  const rows = await query<{ status: EmailStatus; count: string }>(
    em,
    sql`select status, count(*) as count from sequence_email where sequence_id = ${sequenceId}::uuid group by status`,
  );
  const counts = Object.fromEntries(Object.values(EmailStatus).map((s) => [s, 0])) as Record<EmailStatus, number>;
  for (const row of rows) counts[row.status] = Number(row.count);
  return counts;
}

/** Renders step `step` (1-based) of a sequence for a lead, as it would be sent now (without tracking). */
export async function previewEmail(em: EntityManager, companyId: string, sequenceId: string, step: number, leadId: string, publicUrl: string): Promise<RenderedEmail> {
  const sequence = await findSequence(em, companyId, sequenceId);
  const template = sequence.steps[step - 1];
  if (!Number.isInteger(step) || !template) {
    throw InvalidInputError.field('step', `must be 1 to ${sequence.steps.length} for this sequence`);
  }
  const lead = await findLead(em, companyId, leadId);
  const company = await em.findOneOrFail(Company, { id: companyId });
  return renderEmail(template, templateData(company, lead, `${publicUrl}/u/preview`));
}

export function totalDelayHours(step: SequenceStep): number {
  return step.delayDays * 24 + step.delayHours;
}

function toStep(step: SequenceStepInput | SequenceStep): SequenceStep {
  return { delayDays: step.delayDays, delayHours: step.delayHours ?? 0, subject: step.subject, body: step.body };
}

function toWindow(window: SendWindowInput): SendWindow {
  return { weekdays: [...window.weekdays].sort((a, b) => a - b), startTime: window.startTime, endTime: window.endTime, timeZone: window.timeZone ?? WindowTimeZone.LEAD };
}
