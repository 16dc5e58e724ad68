import type { MikroORM } from '@mikro-orm/postgresql';
import type { Log } from '../core/logger.js';
import { query, sql } from '../db/sql.js';
import { resumeSequence } from '../enrollments/enrollment-lifecycle.js';
import { Company } from '../model/company.entity.js';
import type { CompanyScope } from '../model/scope.js';
import { EnrollmentStatus } from '../model/sequence.enums.js';
import { statusIn } from '../state/transitions.js';

/** How many due enrollments one run resumes; the next run (a minute later) takes the rest. */
const BATCH = 200;

/**
 * Resumes enrollments an out-of-office paused once their date has come (`resume_at`), the way `resumeSequence`
 * does: the remaining emails are re-spaced from now, the next one due at once inside the send window (resume_at is
 * already 09:00 local time, moved into the window). Run by a recurring job on any worker; two at once are safe,
 * since resuming is guarded by the enrollment's status (the second finds it ACTIVE and changes nothing). One that
 * fails is logged and tried again on the next run. Returns how many were resumed.
 */
export async function resumeDueEnrollments(orm: MikroORM, now: Date, log: Log): Promise<number> {
  const due = await query<{ company_id: string; lead_id: string; sequence_id: string }>(
    orm.em.fork(),
    sql`select company_id, lead_id, sequence_id from enrollment
        where ${statusIn('status', [EnrollmentStatus.PAUSED])} and resume_at is not null and resume_at <= ${now}
        order by resume_at limit ${BATCH}`,
  );
  let resumed = 0;
  for (const row of due) {
    const em = orm.em.fork();
    let company: Promise<Company> | undefined;
    const load = () => (company ??= em.findOneOrFail(Company, { id: row.company_id }));
    const scope: CompanyScope = { em, now, companyId: row.company_id, log, company: load, companyView: load };
    try {
      await resumeSequence(scope, row.lead_id, row.sequence_id);
      resumed++;
    } catch (error) {
      log.warn({ err: error, leadId: row.lead_id, sequenceId: row.sequence_id }, 'could not resume an enrollment an auto-reply paused; retried next run');
    }
  }
  return resumed;
}
