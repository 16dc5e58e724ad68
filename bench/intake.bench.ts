/**
 * Intake benchmark (issue: "Scale, load and hardening"). In one run, on one PostgreSQL database:
 *  - `createLead` over HTTP with auto-enrollment in the default 5-email sequence, 32 concurrent clients (in a
 *    child process), vs raw `pg` doing the same inserts (lead, its timeline row, enrollment, 5 emails, the
 *    enrollment's timeline row) in one transaction per lead at the same concurrency (ratio >= 0.5);
 *  - `importLeads` of 10,000 leads per call, including their 50,000 emails (>= 10,000 leads/s), interleaved with a
 *    baseline writing the same rows by raw `pg` COPY in one transaction (bench/intake-copy.ts), and the ratio.
 * Afterwards the database must hold exactly the rows the answered requests promise.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { LoadRequest, LoadSummary } from './http-load.js';
import { copyImport, copyTarget, type ImportInput } from './intake-copy.js';
import { type BenchResult, type BenchRow, latencySeries, percentile, startBenchApp, startBenchDatabase, gql } from './support.js';

const CLIENTS = 32;
const LEADS_PER_ROUND = 4_000;
const ROUNDS = Number(process.env.INTAKE_ROUNDS ?? 3);
const IMPORT_ROWS = 10_000;
const IMPORTS = Number(process.env.INTAKE_IMPORTS ?? 3);
const EMAILS_PER_LEAD = 5;

export async function run(): Promise<BenchResult> {
  const db = await startBenchDatabase('intake');
  await db.prepare('intake');
  // 32 clients creating leads as fast as they can are far over any per-key mutation budget, on purpose.
  const app = await startBenchApp(db.urlFor('intake'), { env: { MUTATION_RATE_LIMIT: '0' } });
  const pool = new pg.Pool({ connectionString: db.urlFor('intake'), max: CLIENTS });
  const step = (what: string) => process.stdout.write(`  intake: ${what}\n`);
  try {
    const operator = client(app.server.url, app.config.operatorToken.reveal());
    const company = async (name: string) => {
      const { createCompany } = await operator<{ createCompany: { id: string } }>(
        `mutation($n: String!) { createCompany(input: { name: $n, fromAddress: "team@example.com" }) { id } }`,
        { n: name },
      );
      const { createApiKey } = await operator<{ createApiKey: { secret: string } }>(
        `mutation($c: ID!) { createApiKey(companyId: $c, name: "bench") { secret } }`,
        { c: createCompany.id },
      );
      return { id: createCompany.id, key: createApiKey.secret };
    };
    const viaApi = await company('Intake via API');
    const viaPg = await company('Intake via raw pg');
    const viaCopy = await company('Intake via COPY');
    const sequenceId = await defaultSequence(pool, viaPg.id);
    const copyInto = await copyTarget(pool, viaCopy.id);

    // Warm-up: the JIT, the connection pools and PostgreSQL's caches, for both sides.
    await createLeads(app.server.url, viaApi.key, 500);
    await rawInserts(pool, viaPg.id, sequenceId, 500);

    const raws: number[] = [];
    const apis: number[] = [];
    let apiLatency: LoadSummary['latency'] = [];
    const rawLatencies: number[] = [];
    let failed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const raw = await rawInserts(pool, viaPg.id, sequenceId, LEADS_PER_ROUND);
      raws.push(raw.rate);
      rawLatencies.push(...raw.latencies);
      const api = await createLeads(app.server.url, viaApi.key, LEADS_PER_ROUND);
      apis.push(api.rate);
      apiLatency = api.latency;
      failed += api.failed + (api.ok - LEADS_PER_ROUND);
      step(`round ${round + 1}: raw pg ${raw.rate.toFixed(0)}/s, createLead ${api.rate.toFixed(0)}/s`);
    }
    const ratio = percentile(
      raws.map((raw, i) => apis[i]! / raw),
      50,
    );

    // Interleaved, the baseline first each round: both see the same machine and the same table sizes.
    const imports: number[] = [];
    const copies: number[] = [];
    for (let i = 0; i < IMPORTS; i++) {
      const copied = await copyImport(pool, copyInto, importInputs(`copy${i}-`));
      copies.push(copied);
      const rate = await importLeads(app.server.url, viaApi.key, `import${i}-`);
      imports.push(rate);
      step(`import ${i + 1}: importLeads ${rate.toFixed(0)} leads/s, COPY baseline ${copied.toFixed(0)} leads/s`);
    }
    const importRatio = percentile(
      copies.map((copied, i) => imports[i]! / copied),
      50,
    );

    const expectedLeads = 500 + ROUNDS * LEADS_PER_ROUND + IMPORTS * IMPORT_ROWS;
    const missing = (await missingRows(pool, viaApi.id, expectedLeads)) + (await missingRows(pool, viaCopy.id, IMPORTS * IMPORT_ROWS));
    const importRate = percentile(imports, 50);
    const differences = await shapeDifferences(pool, { id: viaApi.id, prefix: 'import' }, { id: viaCopy.id, prefix: 'copy' });
    const rows: BenchRow[] = [
      {
        bench: 'intake',
        metric: `raw pg, one transaction per lead, ${CLIENTS} clients (baseline, median of ${ROUNDS})`,
        value: percentile(raws, 50),
        unit: 'leads/s',
      },
      { bench: 'intake', metric: `createLead over HTTP with auto-enrollment, ${CLIENTS} clients (median)`, value: percentile(apis, 50), unit: 'leads/s' },
      { bench: 'intake', metric: 'createLead / raw pg (median of per-round ratios)', value: ratio, unit: 'ratio', target: '>= 0.5', pass: ratio >= 0.5 },
      {
        bench: 'intake',
        metric: `importLeads, ${IMPORT_ROWS.toLocaleString('en')} leads + ${(IMPORT_ROWS * EMAILS_PER_LEAD).toLocaleString('en')} emails per call (median of ${IMPORTS})`,
        value: importRate,
        unit: 'leads/s',
        target: '>= 10000',
        pass: importRate >= 10_000,
      },
      {
        bench: 'intake',
        metric: `raw pg COPY of the same rows (leads, timeline, enrollments, emails), one transaction per ${IMPORT_ROWS.toLocaleString('en')} (baseline, median)`,
        value: percentile(copies, 50),
        unit: 'leads/s',
      },
      { bench: 'intake', metric: 'importLeads / COPY baseline (median of per-round ratios)', value: importRatio, unit: 'ratio' },
      {
        bench: 'intake',
        metric: 'kinds of row where the COPY baseline and importLeads differ (must be 0)',
        value: differences,
        unit: 'kinds',
        target: '= 0',
        pass: differences === 0,
      },
      { bench: 'intake', metric: 'failed createLead requests (must be 0)', value: failed, unit: 'requests', target: '= 0', pass: failed === 0 },
      {
        bench: 'intake',
        metric: 'leads, enrollments or emails missing afterwards (must be 0)',
        value: missing,
        unit: 'rows',
        target: '= 0',
        pass: missing === 0,
      },
    ];
    return {
      rows,
      latencies: [
        { bench: 'intake', name: `createLead over HTTP, ${CLIENTS} clients`, count: ROUNDS * LEADS_PER_ROUND, points: apiLatency },
        latencySeries('intake', `raw pg transaction per lead, ${CLIENTS} clients`, rawLatencies),
      ],
    };
  } finally {
    await pool.end();
    await app.dispose();
    await db.dispose();
  }
}

function client(url: string, token: string) {
  return <T>(query: string, variables: Record<string, unknown> = {}) => gql<T>(url, `Bearer ${token}`, query, variables);
}

/** `count` createLead calls from 32 connections in a child process; every email is new (`[<id>]`). */
function createLeads(url: string, key: string, count: number): Promise<LoadSummary> {
  const request: LoadRequest = {
    url,
    connections: CLIENTS,
    amount: count,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({
      query: 'mutation($i: LeadInput!) { createLead(input: $i) { id score } }',
      variables: { i: { email: 'lead-[<id>]@example.com', firstName: 'Ada' } },
    }),
  };
  const child = fork(new URL('./http-load.ts', import.meta.url), { execArgv: ['--import', 'tsx'] });
  return new Promise((resolve, reject) => {
    child.once('message', (summary: LoadSummary) => resolve(summary));
    child.once('exit', (code) => reject(new Error(`load client exited with ${code} before answering`)));
    child.send(request);
  });
}

/** The welcome sequence every company starts with (the same 5 steps the API path enrolls in). */
async function defaultSequence(pool: pg.Pool, companyId: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(`select id from email_sequence where company_id = $1 and trigger = 'LEAD_CREATED'`, [companyId]);
  return rows[0]!.id;
}

/**
 * The baseline: what intake must write, by hand, one transaction per lead — lead, its LEAD_CREATED timeline row,
 * the enrollment, its 5 emails, its ENROLLED timeline row — with `CLIENTS` connections at once.
 */
async function rawInserts(pool: pg.Pool, companyId: string, sequenceId: string, count: number): Promise<{ rate: number; latencies: number[] }> {
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const connection = await pool.connect();
      try {
        while (next < count) {
          next++;
          const begun = performance.now();
          const now = new Date();
          const leadId = randomUUID();
          const enrollmentId = randomUUID();
          await connection.query('begin');
          await connection.query(
            `insert into lead (id, company_id, email, first_name, score, attributes, created_at, updated_at) values ($1, $2, $3, 'Ada', 0, '{}', $4, $4)`,
            [leadId, companyId, `raw-${leadId}@example.com`, now],
          );
          await connection.query(
            `insert into activity (id, company_id, lead_id, type, reason, data, occurred_at) values ($1, $2, $3, 'LEAD_CREATED', 'Lead created', '{}', $4)`,
            [randomUUID(), companyId, leadId, now],
          );
          await connection.query(
            `insert into enrollment (id, company_id, lead_id, sequence_id, status, started_at, created_at, updated_at) values ($1, $2, $3, $4, 'ACTIVE', $5, $5, $5)`,
            [enrollmentId, companyId, leadId, sequenceId, now],
          );
          const emails = [0, 3, 7, 10, 14].map((days, i) => [randomUUID(), i + 1, new Date(now.getTime() + days * 86_400_000)]);
          await connection.query(
            `insert into sequence_email (id, company_id, enrollment_id, lead_id, sequence_id, email_number, scheduled_send_date, status, created_at, updated_at)
             select t.id, $1, $2, $3, $4, t.n, t.at, 'PENDING', $5, $5 from unnest($6::uuid[], $7::int[], $8::timestamptz[]) as t(id, n, at)`,
            [companyId, enrollmentId, leadId, sequenceId, now, emails.map((e) => e[0]), emails.map((e) => e[1]), emails.map((e) => e[2])],
          );
          await connection.query(
            `insert into activity (id, company_id, lead_id, type, reason, data, occurred_at) values ($1, $2, $3, 'ENROLLED', 'Enrolled in "Welcome sequence" (lead created); 5 emails scheduled', $4, $5)`,
            [randomUUID(), companyId, leadId, { sequenceId, enrollmentId }, now],
          );
          await connection.query('commit');
          latencies.push(performance.now() - begun);
        }
      } finally {
        connection.release();
      }
    }),
  );
  return { rate: count / ((performance.now() - started) / 1000), latencies };
}

/** IMPORT_ROWS new leads as an import sends them. */
function importInputs(prefix: string): ImportInput[] {
  return Array.from({ length: IMPORT_ROWS }, (_, i) => ({
    email: `${prefix}${i}@example.com`,
    firstName: `Lead${i}`,
    attributes: { source: 'import', rank: i },
  }));
}

/** One `importLeads` call of IMPORT_ROWS new leads; leads/s from request start to answer. */
async function importLeads(url: string, key: string, prefix: string): Promise<number> {
  const inputs = importInputs(prefix);
  const body = JSON.stringify({ query: 'mutation($i: [LeadInput!]!) { importLeads(inputs: $i) { created duplicates invalid } }', variables: { i: inputs } });
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body });
  const answer = (await response.json()) as { data?: { importLeads: { created: number } }; errors?: unknown };
  const elapsed = performance.now() - started;
  if (answer.data?.importLeads.created !== IMPORT_ROWS) throw new Error(`importLeads created ${JSON.stringify(answer)}`);
  return IMPORT_ROWS / (elapsed / 1000);
}

/** Leads, enrollments and emails a company should have but does not (or has too many of). */
async function missingRows(pool: pg.Pool, companyId: string, leads: number): Promise<number> {
  const { rows } = await pool.query<{ leads: number; enrollments: number; emails: number }>(
    `select (select count(*)::int from lead where company_id = $1) as leads,
            (select count(*)::int from enrollment where company_id = $1) as enrollments,
            (select count(*)::int from sequence_email where company_id = $1) as emails`,
    [companyId],
  );
  const { leads: l, enrollments: e, emails: m } = rows[0]!;
  return Math.abs(leads - l) + Math.abs(leads - e) + Math.abs(leads * EMAILS_PER_LEAD - m);
}

/**
 * Whether the COPY baseline wrote the same rows as importLeads: per company, the imported leads' rows grouped by
 * everything but ids, addresses and instants (table, type or status, reason, number, schedule offset, data keys),
 * with their counts. Returns how many groups differ; 0 means the baseline does exactly intake's work.
 */
async function shapeDifferences(pool: pg.Pool, a: { id: string; prefix: string }, b: { id: string; prefix: string }): Promise<number> {
  const shape = async ({ id, prefix }: { id: string; prefix: string }) => {
    const { rows } = await pool.query<{ kind: string; n: string }>(
      `with leads as (select id, created_at from lead where company_id = $1 and email like $2 || '%')
       select kind, count(*) as n from (
         select 'lead ' || l.score || ' ' || (l.attributes ? 'rank') || ' ' || coalesce(l.first_name like 'Lead%', false) || ' ' || (l.updated_at = l.created_at) as kind
         from lead l join leads using (id)
         union all
         select 'activity ' || a.type || ' ' || a.reason || ' ' || coalesce((select string_agg(k, ',' order by k) from jsonb_object_keys(a.data) k), '-') || ' ' || (a.occurred_at = l.created_at)
         from activity a join leads l on l.id = a.lead_id where a.company_id = $1
         union all
         select 'enrollment ' || e.status || ' ' || (e.started_at = l.created_at)
         from enrollment e join leads l on l.id = e.lead_id where e.company_id = $1
         union all
         select 'email ' || m.email_number || ' ' || m.status || ' ' || (m.scheduled_send_date - l.created_at)
         from sequence_email m join leads l on l.id = m.lead_id where m.company_id = $1
       ) t group by kind`,
      [id, prefix],
    );
    return new Map(rows.map((r) => [r.kind, Number(r.n)]));
  };
  const [left, right] = await Promise.all([shape(a), shape(b)]);
  return [...new Set([...left.keys(), ...right.keys()])].filter((kind) => left.get(kind) !== right.get(kind)).length;
}
