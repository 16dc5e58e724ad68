import type { EntityManager } from '@mikro-orm/postgresql';
import { Company } from '../companies/company.entity.js';
import { InvalidInputError } from '../errors.js';
import { query, sql } from '../db/sql.js';
import { keysetAfter, paginate, type ConnectionResult, type PageArgs } from '../graphql/connection.js';
import { Lead } from '../leads/lead.entity.js';
import { DEFAULT_SEQUENCE } from './default-sequence.js';
import type { CreateSequenceInput, SendWindowInput, SequenceStepInput, UpdateSequenceInput } from './dto/sequence.input.js';
import { EmailSequence } from './email-sequence.entity.js';
import { findLead, findSequence } from './enrollment-lifecycle.js';
import { scheduleTimeZone } from './enrollment.service.js';
import { applySchedule } from './reschedule.js';
import { EmailStatus, EnrollmentStatus, SequenceTrigger } from './sequence.enums.js';
import { WindowTimeZone, type SendWindow, type SequenceStep } from './sequence-step.js';
import { sequenceProblems } from './sequence.validation.js';
import { renderEmail, type RenderedEmail, type TemplateData } from './templates.js';

/** The sequence every new company starts with: active, LEAD_CREATED, and its default. */
export async function createDefaultSequence(em: EntityManager, company: Company): Promise<EmailSequence> {
  const sequence = em.create(EmailSequence, {
    company,
    name: DEFAULT_SEQUENCE.name,
    description: DEFAULT_SEQUENCE.description,
    active: true,
    trigger: SequenceTrigger.LEAD_CREATED,
    steps: DEFAULT_SEQUENCE.steps.map(toStep),
    isDefault: true,
  });
  await em.flush();
  return sequence;
}

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
 * Updates a sequence. When steps or the send window change, the emails not yet sent of its active and paused
 * enrollments follow (rescheduled, canceled or added) in the same transaction.
 */
export async function updateSequence(em: EntityManager, company: Company, id: string, input: UpdateSequenceInput, now: Date): Promise<EmailSequence> {
  return em.transactional(async (tx) => {
    const sequence = await findSequence(tx, company.id, id);
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
      await clearDefault(tx, company.id);
      sequence.isDefault = true;
    } else if (input.isDefault === false) {
      sequence.isDefault = false;
    }
    await tx.flush();

    if (scheduleChanged) await rescheduleEnrollments(tx, company, sequence, now);
    return sequence;
  });
}

async function rescheduleEnrollments(em: EntityManager, company: Company, sequence: EmailSequence, now: Date): Promise<void> {
  const rows = await query<{ id: string; lead_id: string; started_at: Date; timezone: string | null }>(
    em,
    sql`select e.id, e.lead_id, e.started_at, l.timezone from enrollment e join lead l on l.id = e.lead_id
        where e.sequence_id = ${sequence.id}::uuid and e.status in (${EnrollmentStatus.ACTIVE}, ${EnrollmentStatus.PAUSED})`,
  );
  await applySchedule(em, {
    companyId: company.id,
    sequence,
    enrollments: rows.map((row) => ({
      enrollmentId: row.id,
      leadId: row.lead_id,
      startedAt: new Date(row.started_at),
      timeZone: scheduleTimeZone(sequence.sendWindow, row.timezone, company.timezone),
    })),
    now,
    addMissing: true,
  });
}

async function clearDefault(em: EntityManager, companyId: string): Promise<void> {
  await query(em, sql`update email_sequence set is_default = false where company_id = ${companyId}::uuid and is_default`);
}

export function listSequences(em: EntityManager, companyId: string, args: PageArgs, active: boolean | null | undefined): Promise<ConnectionResult<EmailSequence>> {
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

export function templateData(company: Company, lead: Lead, unsubscribeUrl: string): TemplateData {
  return {
    lead: {
      email: lead.email,
      firstName: lead.firstName,
      lastName: lead.lastName,
      companyName: lead.companyName,
      timezone: lead.timezone,
      score: lead.score,
      attributes: lead.attributes,
    },
    company: { name: company.name, fromAddress: company.fromAddress, fromName: company.fromName, timezone: company.timezone },
    unsubscribeUrl,
  };
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
