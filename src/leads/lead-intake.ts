import type { EntityManager } from '@mikro-orm/postgresql';
import type { Log } from '../core/logger.js';
import type { Company } from '../model/company.entity.js';
import type { FieldProblem } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { columnsOf, json, prepared, query, sql } from '../db/sql.js';
import { suppressedIn } from '../enrollments/suppressed.js';
import { enrollmentSignals, enrollmentWrites, type EnrollableSequence } from '../enrollments/enrollment.service.js';
import { SequenceTrigger } from '../model/sequence.enums.js';
import { ActivityType } from '../model/activity.entity.js';
import type { LeadInput } from './dto/lead.input.js';
import { Lead } from '../model/lead.entity.js';
import { validateLead, type LeadFields } from './lead.validation.js';

export type IntakeOutcome =
  | { index: number; status: 'CREATED'; leadId: string; email: string | null }
  | { index: number; status: 'DUPLICATE'; email: string }
  | { index: number; status: 'INVALID'; problems: FieldProblem[] };

interface ValidRow {
  index: number;
  id: string;
  /** Of its "Lead created" timeline row, drawn right after the lead's: timelines keep their order. */
  activityId: string;
  fields: LeadFields;
}

/**
 * Creates leads and enrolls those with an address in every active LEAD_CREATED sequence, in one statement
 * (atomic without a transaction): leads, timelines, enrollments, emails, live events and the dispatchers'
 * wake-up, whatever the number of rows. If enrolling fails, the leads are created on their own and the failure
 * is logged and written to their timelines: enrollment never fails lead creation. Call it outside a
 * transaction (the fallback needs a fresh statement). With `load`, the created leads enter `em`'s identity map
 * (createLead answers without reading them back).
 */
export async function intakeLeads(
  em: EntityManager,
  input: { company: Company; leads: LeadInput[]; path: (index: number) => string; now: Date; log: Log; load?: boolean },
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
      valid.push({ index, id: uuidv7(now.getTime()), activityId: uuidv7(now.getTime()), fields: result.value });
    }
  });
  if (valid.length === 0) return sortByIndex(outcomes);

  const withEmail = valid.filter((row) => row.fields.email);
  const { suppressed, sequences } = await enrollmentContext(
    em,
    company.id,
    withEmail.map((row) => row.fields.email!),
  );
  const eligible = withEmail.filter((row) => !suppressed.has(row.fields.email!));
  const skipped = withEmail.filter((row) => suppressed.has(row.fields.email!));
  const note = (rows: ValidRow[], type: ActivityType, reason: string): Note[] =>
    rows.map((row) => ({ id: uuidv7(now.getTime()), leadId: row.id, type, reason }));
  const write = (notes: Note[], enrollIn: EnrollableSequence[]) =>
    writeIntake(em, { company, rows: valid, notes, enrollIn, eligible, now, load: input.load ?? false });

  let created: Set<string>;
  try {
    created = await write(note(skipped, ActivityType.ENROLLMENT_SKIPPED, 'Not enrolled: the address is suppressed'), eligible.length > 0 ? sequences : []);
  } catch (error) {
    if (sequences.length === 0 || eligible.length === 0) throw error;
    input.log.error({ err: error, companyId: company.id, leads: withEmail.length }, 'auto-enrollment failed; leads were created without enrollment');
    const reason = 'Automatic enrollment failed; the lead was created. Start a sequence manually or retry later.';
    created = await write(note(withEmail, ActivityType.ENROLLMENT_FAILED, reason), []);
  }
  for (const row of valid) {
    outcomes.push(
      created.has(row.id)
        ? { index: row.index, status: 'CREATED', leadId: row.id, email: row.fields.email }
        : { index: row.index, status: 'DUPLICATE', email: row.fields.email! },
    );
  }
  return sortByIndex(outcomes);
}

/** A timeline row for a lead of the intake, written only if the lead is. */
interface Note {
  id: string;
  leadId: string;
  type: ActivityType;
  reason: string;
}

/**
 * The intake statement: inserts the rows with their "Lead created" timeline rows and `notes`, and enrolls the
 * `eligible` ones that were inserted in each of `enrollIn`. Returns the ids created (an address already live in
 * the company is skipped, with everything that depends on it).
 */
async function writeIntake(
  em: EntityManager,
  input: { company: Company; rows: ValidRow[]; notes: Note[]; enrollIn: EnrollableSequence[]; eligible: ValidRow[]; now: Date; load: boolean },
): Promise<Set<string>> {
  const { company, now } = input;
  const payload = input.rows.map(({ id, activityId, fields }) => ({
    id,
    activity_id: activityId,
    email: fields.email,
    first_name: fields.firstName,
    last_name: fields.lastName,
    company_name: fields.companyName,
    timezone: fields.timezone,
    attributes: fields.attributes,
  }));
  const inserted = sql`select id from inserted`;
  const enrollments = input.enrollIn.map((sequence, i) =>
    enrollmentWrites(
      {
        companyId: company.id,
        companyTimeZone: company.timezone,
        sequence,
        leads: input.eligible.map((row) => ({ id: row.id, timezone: row.fields.timezone })),
        startAt: now,
        reason: 'lead created',
      },
      `e${i}`,
      inserted,
    ),
  );
  const ctes = [
    sql`input as (
      select * from jsonb_to_recordset(${json(payload)})
        as t(id uuid, activity_id uuid, email text, first_name text, last_name text, company_name text, timezone text, attributes jsonb)
    )`,
    sql`inserted as (
      insert into lead (id, company_id, email, first_name, last_name, company_name, timezone, score, attributes, created_at, updated_at)
      select t.id, ${company.id}::uuid, t.email, t.first_name, t.last_name, t.company_name, t.timezone, 0, t.attributes, ${now}, ${now}
      from input t
      on conflict (company_id, email) where deleted_at is null and email is not null do nothing
      returning ${input.load ? columnsOf(em, Lead) : sql`id`}
    )`,
    sql`timeline as (
      insert into activity (id, company_id, lead_id, type, reason, data, occurred_at)
      select t.activity_id, ${company.id}::uuid, t.id, ${ActivityType.LEAD_CREATED}, 'Lead created', '{}'::jsonb, ${now}::timestamptz
      from inserted i join input t on t.id = i.id
      union all
      select n.id, ${company.id}::uuid, n.lead_id, n.type, n.reason, '{}'::jsonb, ${now}::timestamptz
      from unnest(${input.notes.map((n) => n.id)}::uuid[], ${input.notes.map((n) => n.leadId)}::uuid[], ${input.notes.map((n) => n.type)}::text[], ${input.notes.map((n) => n.reason)}::text[])
        as n(id, lead_id, type, reason)
      where n.lead_id in (${inserted})
    )`,
    ...enrollments.map((writes) => writes.ctes),
  ];
  const signals = enrollmentSignals(enrollments);
  ctes.push(...signals.ctes);
  const rows = await query<Record<string, unknown> & { id: string }>(
    em,
    prepared(sql`with ${sql.join(ctes, sql`, `)} select i.*, ${signals.run} from inserted i`),
  );
  if (input.load) for (const { published: _published, woken: _woken, ...lead } of rows) em.map(Lead, lead);
  return new Set(rows.map((row) => row.id));
}

/**
 * What enrolling new leads depends on, in one query: which of their addresses are suppressed, and the active
 * LEAD_CREATED sequences (oldest first) with only their schedules: templates stay in the database. Read before
 * the intake statement; it holds no locks, so waiting for it would change nothing.
 */
async function enrollmentContext(
  em: EntityManager,
  companyId: string,
  emails: string[],
): Promise<{ suppressed: Set<string>; sequences: EnrollableSequence[] }> {
  if (emails.length === 0) return { suppressed: new Set(), sequences: [] };
  const [row] = await query<{ suppressed: string[]; sequences: EnrollableSequence[] }>(
    em,
    prepared(sql`select
          array(${suppressedIn(companyId, emails)}) as suppressed,
          coalesce((
            select jsonb_agg(jsonb_build_object(
                     'id', s.id, 'name', s.name, 'sendWindow', s.send_window,
                     'steps', (select jsonb_agg(jsonb_build_object('delayDays', step -> 'delayDays', 'delayHours', step -> 'delayHours') order by n)
                               from jsonb_array_elements(s.steps) with ordinality as t(step, n)))
                   order by s.created_at, s.id)
            from email_sequence s
            where s.company_id = ${companyId}::uuid and s.trigger = ${SequenceTrigger.LEAD_CREATED} and s.active
          ), '[]'::jsonb) as sequences`),
  );
  return { suppressed: new Set(row!.suppressed), sequences: row!.sequences };
}

function sortByIndex(outcomes: IntakeOutcome[]): IntakeOutcome[] {
  return outcomes.sort((a, b) => a.index - b.index);
}
