import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import type { Company } from '../companies/company.entity.js';
import type { FieldProblem } from '../errors.js';
import { uuidv7 } from '../db/ids.js';
import { json, query, sql } from '../db/sql.js';
import { EmailSequence } from '../sequences/email-sequence.entity.js';
import { enrollLeads } from '../sequences/enrollment.service.js';
import { SequenceTrigger } from '../sequences/sequence.enums.js';
import { ActivityType } from './activity.entity.js';
import type { LeadInput } from './dto/lead.input.js';
import { Lead } from './lead.entity.js';
import { validateLead, type LeadFields } from './lead.validation.js';
import { recordActivities, type ActivityRecord } from './timeline.js';

export type IntakeOutcome =
  | { index: number; status: 'CREATED'; leadId: string; email: string | null }
  | { index: number; status: 'DUPLICATE'; email: string }
  | { index: number; status: 'INVALID'; problems: FieldProblem[] };

interface ValidRow {
  index: number;
  id: string;
  fields: LeadFields;
}

/**
 * Creates leads and, in the same transaction, enrolls those with an address in every active LEAD_CREATED
 * sequence. Set-based: a handful of statements whatever the number of rows. Enrollment runs in a savepoint:
 * if it fails, the leads are still created and the failure is logged and written to their timelines.
 * With `load`, the created leads also enter `em`'s identity map (createLead answers without reading them back).
 */
export async function intakeLeads(
  em: EntityManager,
  input: { company: Company; leads: LeadInput[]; path: (index: number) => string; now: Date; log: FastifyBaseLogger; load?: boolean },
): Promise<IntakeOutcome[]> {
  const { company, now } = input;
  const outcomes: IntakeOutcome[] = [];
  const valid: ValidRow[] = [];
  const seen = new Set<string>();
  input.leads.forEach((lead, index) => {
    const result = validateLead(lead, input.path(index));
    if (!result.ok) {
      outcomes.push({ index, status: 'INVALID', problems: result.problems });
    } else if (result.value.email && seen.has(result.value.email)) {
      outcomes.push({ index, status: 'DUPLICATE', email: result.value.email });
    } else {
      if (result.value.email) seen.add(result.value.email);
      valid.push({ index, id: uuidv7(now.getTime()), fields: result.value });
    }
  });
  if (valid.length === 0) return sortByIndex(outcomes);

  // What enrollment reads is read first, outside the transaction: it holds no locks, so it cannot change, and
  // the transaction stays as short as its writes.
  const emails = valid.flatMap((row) => (row.fields.email ? [row.fields.email] : []));
  const suppressed = await suppressedAmong(em, company.id, emails);
  const sequences =
    emails.length > 0 ? await em.find(EmailSequence, { company: company.id, trigger: SequenceTrigger.LEAD_CREATED, active: true }, { orderBy: { createdAt: 'asc' } }) : [];

  await em.transactional(async (tx) => {
    const created = await insertLeads(tx, company.id, valid, now, input.load ?? false);
    const createdRows = valid.filter((row) => created.has(row.id));
    for (const row of valid) {
      if (!created.has(row.id)) outcomes.push({ index: row.index, status: 'DUPLICATE', email: row.fields.email! });
    }
    outcomes.push(...createdRows.map((row) => ({ index: row.index, status: 'CREATED' as const, leadId: row.id, email: row.fields.email })));
    await enrollNewLeads(tx, { company, rows: createdRows, suppressed, sequences, now, log: input.log });
  });
  return sortByIndex(outcomes);
}

/**
 * Inserts the rows and their "Lead created" timeline rows in one statement; returns the ids actually created
 * (an address already live in the company is skipped). With `load`, the new leads are mapped into `em`.
 */
async function insertLeads(em: EntityManager, companyId: string, rows: ValidRow[], now: Date, load: boolean): Promise<Set<string>> {
  const payload = rows.map(({ id, fields }) => ({
    id,
    activity_id: uuidv7(now.getTime()),
    email: fields.email,
    first_name: fields.firstName,
    last_name: fields.lastName,
    company_name: fields.companyName,
    timezone: fields.timezone,
    attributes: fields.attributes,
  }));
  const inserted = await query<Record<string, unknown> & { id: string }>(
    em,
    sql`with input as (
          select * from jsonb_to_recordset(${json(payload)})
            as t(id uuid, activity_id uuid, email text, first_name text, last_name text, company_name text, timezone text, attributes jsonb)
        ), inserted as (
          insert into lead (id, company_id, email, first_name, last_name, company_name, timezone, score, attributes, created_at, updated_at)
          select t.id, ${companyId}::uuid, t.email, t.first_name, t.last_name, t.company_name, t.timezone, 0, t.attributes, ${now}, ${now}
          from input t
          on conflict (company_id, email) where deleted_at is null and email is not null do nothing
          returning ${load ? sql`*` : sql`id`}
        ), timeline as (
          insert into activity (id, company_id, lead_id, type, reason, data, occurred_at)
          select t.activity_id, ${companyId}::uuid, t.id, ${ActivityType.LEAD_CREATED}, 'Lead created', '{}', ${now}
          from inserted i join input t on t.id = i.id
        )
        select * from inserted`,
  );
  if (load) for (const row of inserted) em.map(Lead, row);
  return new Set(inserted.map((row) => row.id));
}

async function enrollNewLeads(
  em: EntityManager,
  input: { company: Company; rows: ValidRow[]; suppressed: Set<string>; sequences: EmailSequence[]; now: Date; log: FastifyBaseLogger },
): Promise<void> {
  const { company, suppressed, now } = input;
  const withEmail = input.rows.filter((row) => row.fields.email);
  if (withEmail.length === 0) return;
  try {
    await em.transactional(
      async (savepoint) => {
        const eligible = withEmail.filter((row) => !suppressed.has(row.fields.email!));
        const skipped: ActivityRecord[] = withEmail
          .filter((row) => suppressed.has(row.fields.email!))
          .map((row) => ({ companyId: company.id, leadId: row.id, type: ActivityType.ENROLLMENT_SKIPPED, reason: 'Not enrolled: the address is suppressed', occurredAt: now }));
        await recordActivities(savepoint, skipped);
        for (const sequence of input.sequences) {
          await enrollLeads(savepoint, {
            companyId: company.id,
            companyTimeZone: company.timezone,
            sequence,
            leads: eligible.map((row) => ({ id: row.id, timezone: row.fields.timezone })),
            startAt: now,
            reason: 'lead created',
          });
        }
      },
      { propagation: 'nested' },
    );
  } catch (error) {
    input.log.error({ err: error, companyId: company.id, leads: withEmail.length }, 'auto-enrollment failed; leads were created without enrollment');
    await recordActivities(
      em,
      withEmail.map((row) => ({
        companyId: company.id,
        leadId: row.id,
        type: ActivityType.ENROLLMENT_FAILED,
        reason: 'Automatic enrollment failed; the lead was created. Start a sequence manually or retry later.',
        occurredAt: now,
      })),
    );
  }
}

/** The addresses among `emails` that the company must never mail. */
export async function suppressedAmong(em: EntityManager, companyId: string, emails: string[]): Promise<Set<string>> {
  if (emails.length === 0) return new Set();
  const rows = await query<{ email: string }>(
    em,
    sql`select email from suppression where company_id = ${companyId}::uuid and email = any(${emails}::text[])`,
  );
  return new Set(rows.map((row) => row.email));
}

function sortByIndex(outcomes: IntakeOutcome[]): IntakeOutcome[] {
  return outcomes.sort((a, b) => a.index - b.index);
}
