/**
 * The intake bench's bulk baseline (issue #16): the rows one `importLeads` call writes, written by raw `pg` with
 * `COPY … FROM STDIN` in one transaction — the fastest way PostgreSQL takes rows in. Per lead, exactly what
 * lead-intake.ts and enrollment.service.ts write: the lead, its "Lead created" timeline row, its enrollment in
 * each active LEAD_CREATED sequence, the enrollment's emails (scheduled by the product's own `scheduleSteps`,
 * so the dates are the same) and its ENROLLED timeline row, with the same ids (UUIDv7), columns and values.
 * Left out, because they are not rows: the live events and the dispatchers' wake-up (pg_notify), and the
 * duplicate and suppression checks (COPY cannot skip a row; the baseline's addresses are new by construction).
 * The time includes building the rows in Node, as importLeads' includes parsing and validating them.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { uuidv7 } from '../src/core/ids.js';
import { scheduleSteps, scheduleTimeZone, type EnrollableSequence } from '../src/enrollments/enrollment.service.js';

/** A lead as the import bench sends it. */
export interface ImportInput {
  email: string;
  firstName: string;
  attributes: Record<string, unknown>;
}

/** What the baseline must know of the company: as intake reads it (time zone, active LEAD_CREATED sequences). */
export interface CopyTarget {
  companyId: string;
  companyTimeZone: string;
  sequences: EnrollableSequence[];
}

/** The company's time zone and its active LEAD_CREATED sequences, oldest first (as lead-intake.ts reads them). */
export async function copyTarget(pool: pg.Pool, companyId: string): Promise<CopyTarget> {
  const { rows } = await pool.query<{ timezone: string; sequences: EnrollableSequence[] }>(
    `select c.timezone, coalesce((
       select jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name, 'sendWindow', s.send_window,
                'steps', (select jsonb_agg(jsonb_build_object('delayDays', step -> 'delayDays', 'delayHours', step -> 'delayHours') order by n)
                          from jsonb_array_elements(s.steps) with ordinality as t(step, n)))
              order by s.created_at, s.id)
       from email_sequence s where s.company_id = c.id and s.trigger = 'LEAD_CREATED' and s.active), '[]'::jsonb) as sequences
     from company c where c.id = $1`,
    [companyId],
  );
  if (!rows[0]) throw new Error(`no company ${companyId}`);
  return { companyId, companyTimeZone: rows[0].timezone, sequences: rows[0].sequences };
}

/** Writes `inputs` as new leads with everything intake writes for them, by COPY in one transaction; returns leads/s. */
export async function copyImport(pool: pg.Pool, target: CopyTarget, inputs: ImportInput[]): Promise<number> {
  const started = performance.now();
  const tables = buildRows(target, inputs, new Date());
  const client = await pool.connect();
  try {
    await client.query('begin');
    for (const [table, { columns, lines }] of Object.entries(tables)) {
      await pipeline(Readable.from(chunks(lines)), client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`)));
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  return inputs.length / ((performance.now() - started) / 1000);
}

interface CopyTable {
  columns: string[];
  lines: string[];
}

/** The rows of each table in COPY's text format; leads before what references them, as intake's CTEs insert. */
function buildRows(target: CopyTarget, inputs: ImportInput[], now: Date): Record<'lead' | 'activity' | 'enrollment' | 'sequence_email', CopyTable> {
  const { companyId } = target;
  const at = now.toISOString();
  const ms = now.getTime();
  const lead: CopyTable = {
    columns: ['id', 'company_id', 'email', 'first_name', 'last_name', 'company_name', 'timezone', 'score', 'attributes', 'created_at', 'updated_at'],
    lines: [],
  };
  const activity: CopyTable = { columns: ['id', 'company_id', 'lead_id', 'type', 'reason', 'data', 'occurred_at'], lines: [] };
  const enrollment: CopyTable = { columns: ['id', 'company_id', 'lead_id', 'sequence_id', 'status', 'started_at', 'created_at', 'updated_at'], lines: [] };
  const email: CopyTable = {
    columns: ['id', 'company_id', 'enrollment_id', 'lead_id', 'sequence_id', 'email_number', 'scheduled_send_date', 'status', 'created_at', 'updated_at'],
    lines: [],
  };
  const ids = inputs.map(() => ({ lead: uuidv7(ms), activity: uuidv7(ms) }));
  inputs.forEach((input, i) => {
    const { lead: id, activity: activityId } = ids[i]!;
    lead.lines.push(row([id, companyId, input.email.toLowerCase(), input.firstName, null, null, null, '0', JSON.stringify(input.attributes), at, at]));
    activity.lines.push(row([activityId, companyId, id, 'LEAD_CREATED', 'Lead created', '{}', at]));
  });
  for (const sequence of target.sequences) {
    // As enrollmentWrites: one schedule per time zone (every lead here starts at the same instant).
    const dates = scheduleSteps(sequence.steps, sequence.sendWindow, now, scheduleTimeZone(sequence.sendWindow, null, target.companyTimeZone));
    const reason = `Enrolled in "${sequence.name}" (lead created); ${sequence.steps.length} emails scheduled`;
    const enrolled = ids.map(({ lead: leadId }) => ({ leadId, id: uuidv7(ms) }));
    for (const { leadId, id } of enrolled) {
      enrollment.lines.push(row([id, companyId, leadId, sequence.id, 'ACTIVE', at, at, at]));
      dates.forEach((date, n) => email.lines.push(row([uuidv7(ms), companyId, id, leadId, sequence.id, String(n + 1), date.toISOString(), 'PENDING', at, at])));
    }
    for (const { leadId, id } of enrolled) {
      activity.lines.push(row([uuidv7(ms), companyId, leadId, 'ENROLLED', reason, JSON.stringify({ sequenceId: sequence.id, enrollmentId: id }), at]));
    }
  }
  return { lead, enrollment, sequence_email: email, activity };
}

/** One line of COPY's text format: tab-separated, `\N` for null, backslash, tab and line breaks escaped. */
function row(values: Array<string | null>): string {
  return `${values.map((v) => (v === null ? '\\N' : v.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!))).join('\t')}\n`;
}
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Lines joined into chunks of about 256 KiB: one stream write per line would cost more than the COPY. */
function* chunks(lines: string[]): Generator<string> {
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length >= 262_144) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
