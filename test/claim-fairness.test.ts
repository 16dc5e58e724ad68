import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openOrm } from '../src/db/orm.js';
import { query, sql } from '../src/db/sql.js';
import { claimDueEmails } from '../src/delivery/claim.js';
import { SequenceTrigger } from '../src/model/sequence.enums.js';
import { createTestDatabase } from './helpers/database.js';

/** Carries a result out of a transaction that must not commit (the claims are undone). */
class RolledBack extends Error {
  constructor(readonly result: { claimed: Awaited<ReturnType<typeof claimDueEmails>>; cost: Cost }) {
    super('rolled back on purpose');
  }
}

interface Cost {
  tuples: number;
  blocks: number;
  company_scans: number;
}

/**
 * The fair-share claim (src/delivery/claim.ts) at scale: its cost must follow the due emails, not the number of
 * companies, and one company's backlog must not starve another company's email.
 */
describe('the fair-share claim', () => {
  let orm: MikroORM;
  const now = new Date();
  const hour = 3_600_000;

  beforeAll(async () => {
    orm = await openOrm(await createTestDatabase());
    await migrate(orm);
  });
  afterAll(() => orm?.close(true));

  /** `count` companies named `<prefix>-<n>`; each gets a sequence, a lead and an enrollment, and `emails` emails at `at` (1 ms apart). */
  const companiesWithEmails = async (prefix: string, count: number, emails: number, at: Date) => {
    const em = orm.em.fork();
    await query(
      em,
      sql`insert into company (id, name, from_address, created_at, updated_at)
                        select gen_random_uuid(), ${prefix} || '-' || n, 'team@example.com', now(), now() from generate_series(1, ${count}::int) n`,
    );
    await query(
      em,
      sql`with c as (select id from company where name like ${prefix} || '-%'),
          seq as (insert into email_sequence (id, company_id, name, trigger, steps, created_at, updated_at)
                  select gen_random_uuid(), c.id, 'drip', ${SequenceTrigger.LEAD_CREATED}, '[]', now(), now() from c returning id, company_id),
          ld as (insert into lead (id, company_id, email, created_at, updated_at)
                 select gen_random_uuid(), c.id, 'lead@example.com', now(), now() from c returning id, company_id),
          en as (insert into enrollment (id, company_id, lead_id, sequence_id, started_at, created_at, updated_at)
                 select gen_random_uuid(), seq.company_id, ld.id, seq.id, now(), now(), now() from seq join ld using (company_id)
                 returning id, company_id, lead_id, sequence_id)
          insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, created_at, updated_at)
          select gen_random_uuid(), en.company_id, en.id, en.lead_id, en.sequence_id, n, ${at}::timestamptz + n * interval '1 millisecond', now(), now()
          from en cross join generate_series(1, ${emails}::int) n`,
    );
    await query(em, sql`analyze`);
    const rows = await query<{ id: string }>(em, sql`select id from company where name like ${prefix} || '-%' order by name`);
    return rows.map((r) => r.id);
  };

  /** Claims one batch (limit 50, 5 per company first) and rolls it back; returns what it claimed and what it cost. */
  const claimOnce = async () => {
    try {
      await orm.em.fork().transactional(async (tx) => {
        // The transaction's own counters, read before and after: what the claim statements read, whatever plan
        // PostgreSQL chose. (Before: counters not yet flushed from earlier transactions show up here too.)
        const counters = async () =>
          (
            await query<Cost>(
              tx,
              sql`select (select coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0)::int from pg_stat_xact_user_tables) as tuples,
                         (select coalesce(sum(pg_stat_get_xact_blocks_fetched(c.oid)), 0)::int from pg_class c
                          where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'i')) as blocks,
                         (select coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0)::int from pg_stat_xact_user_tables where relname = 'company') as company_scans`,
            )
          )[0]!;
        const before = await counters();
        const claimed = await claimDueEmails(tx, { now, limit: 50, share: 5, workerId: 'fairness-test' });
        const after = await counters();
        const cost = { tuples: after.tuples - before.tuples, blocks: after.blocks - before.blocks, company_scans: after.company_scans - before.company_scans };
        throw new RolledBack({ claimed, cost });
      });
    } catch (error) {
      if (error instanceof RolledBack) return error.result;
      throw error;
    }
    throw new Error('the claim transaction committed');
  };

  it('with 20,000 companies that have only future mail and 2 with due mail, the claim reads far fewer rows and buffers than there are companies', async () => {
    await companiesWithEmails('quiet', 20_000, 1, new Date(now.getTime() + 24 * hour));
    const busy = await companiesWithEmails('busy', 2, 3, new Date(now.getTime() - hour));

    const { claimed, cost } = await claimOnce();
    expect(new Set(claimed.map((e) => e.company_id))).toEqual(new Set(busy));
    expect(claimed).toHaveLength(6);
    expect(cost.company_scans).toBe(0);
    expect(cost.tuples).toBeLessThan(500);
    expect(cost.blocks).toBeLessThan(1_000);
  });

  it.each([
    ['a backlog the claim reads whole', 600],
    ['a backlog too large to read whole', 3_000],
  ])('one company’s older %s (%i due emails) does not keep another company’s newer email out of the next batch', async (_, backlog) => {
    const [importer] = await companiesWithEmails(`importer${backlog}`, 1, backlog, new Date(now.getTime() - 2 * hour));
    const [welcomer] = await companiesWithEmails(`welcomer${backlog}`, 1, 1, new Date(now.getTime() - 60_000));
    const { claimed, cost } = await claimOnce();
    expect(claimed).toHaveLength(50);
    expect(claimed.filter((e) => e.company_id === welcomer)).toHaveLength(1);
    expect(claimed.filter((e) => e.company_id === importer).length).toBeGreaterThanOrEqual(5);
    // Among the 20,000 companies of the first test: a backlog costs what it holds, not a visit to every company.
    expect(cost.company_scans).toBe(0);
    expect(cost.tuples).toBeLessThan(5_000);
  });
});
