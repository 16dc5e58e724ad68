/**
 * The scale bench's measuring tools: every statement the app sends while an operation runs (captured at the pg
 * driver), the operation timed end to end and as the sum of its statements, and EXPLAIN (ANALYZE, BUFFERS) of the
 * statements afterwards.
 */
import pg from 'pg';
import { type BenchRow, percentile } from './support.js';

export const REPETITIONS = 200;
export const WARM_UP = 20;
/** Statements that do the work (not the bench's BEGIN/ROLLBACK around the claim), after a leading comment such as the prepared mark: timed and explained. */
const WORK = /^\s*(\/\*[^*]*\*\/\s*)?(with|select|update|insert|delete)\b/i;
export const LARGE_TABLES = ['lead', 'sequence_email', 'enrollment', 'activity', 'email_event'];

interface Statement {
  text: string;
  values: unknown[];
  ms: number;
}

/**
 * Records every statement any pg client of this process sends while recording, with its parameters and how long
 * it took to answer: the app's own SQL, whichever layer wrote it (MikroORM, Kysely), to time and to EXPLAIN.
 */
export class StatementLog {
  #recording: Statement[] | undefined;
  #original: typeof pg.Client.prototype.query | undefined;

  install(): void {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be applied to each pg.Client (below) and restored by uninstall
    const original = (this.#original = pg.Client.prototype.query);
    // Read at each query: recording starts and stops after the patch is installed.
    const recordingNow = () => this.#recording;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const started = performance.now();
      const result = (original as (...a: unknown[]) => unknown).apply(this, args);
      const recording = recordingNow();
      if (recording && result instanceof Promise) {
        const config = args[0] as string | { text: string; values?: unknown[] };
        const text = typeof config === 'string' ? config : config.text;
        const values = (Array.isArray(args[1]) ? args[1] : typeof config === 'string' ? [] : config.values) ?? [];
        result.then(
          () => recording.push({ text, values, ms: performance.now() - started }),
          () => undefined,
        );
      }
      return result;
    } as typeof pg.Client.prototype.query;
  }

  uninstall(): void {
    if (this.#original) pg.Client.prototype.query = this.#original;
    this.#original = undefined;
  }

  async record(operation: () => Promise<unknown>): Promise<Statement[]> {
    const recording: Statement[] = [];
    this.#recording = recording;
    try {
      await operation();
    } finally {
      this.#recording = undefined;
    }
    return recording;
  }
}

export interface Measured {
  /** Whole operation: the HTTP request, or the claim function with its transaction. */
  total: number[];
  /** The times of its work statements (sent to answered), summed. */
  sql: number[];
  p50: number;
  /** The statements of one measured run, for EXPLAIN. */
  statements: Statement[];
}

export async function measure(statements: StatementLog, operation: () => Promise<unknown>): Promise<Measured> {
  for (let i = 0; i < WARM_UP; i++) await operation();
  const total: number[] = [];
  const sql: number[] = [];
  let sample: Statement[] = [];
  for (let i = 0; i < REPETITIONS; i++) {
    let ms = 0;
    const recorded = await statements.record(async () => {
      const started = performance.now();
      await operation();
      ms = performance.now() - started;
    });
    total.push(ms);
    sql.push(recorded.filter((s) => WORK.test(s.text)).reduce((sum, s) => sum + s.ms, 0));
    if (i === 0) sample = recorded;
  }
  return { total, sql, p50: percentile(total, 50), statements: sample };
}

export function latencyRows(name: string, measured: Measured, checked: 'SQL' | 'HTTP', targetMs: number): BenchRow[] {
  const row = (metric: string, value: number, target: boolean): BenchRow => ({
    bench: 'scale',
    metric,
    value,
    unit: 'ms',
    ...(target ? { target: `< ${targetMs}`, pass: value < targetMs } : {}),
  });
  const sqlP50 = percentile(measured.sql, 50);
  const sqlP99 = percentile(measured.sql, 99);
  if (checked === 'SQL') return [row(`${name}, SQL p50`, sqlP50, false), row(`${name}, SQL p99`, sqlP99, true)];
  return [
    row(`${name}, end-to-end HTTP p50`, percentile(measured.total, 50), false),
    row(`${name}, end-to-end HTTP p99`, percentile(measured.total, 99), true),
    row(`${name}, its SQL p99 (context)`, sqlP99, false),
  ];
}

/** EXPLAIN (ANALYZE, BUFFERS) of each statement the operations ran, in a transaction rolled back (the claim writes). */
export async function explainAll(admin: pg.Client, measured: Record<string, Measured>): Promise<{ text: string; seqScans: number; indexes: Set<string> }> {
  let text = `Plans of the statements each measured operation runs, on the seeded scale database (${new Date().toISOString()}).\n`;
  let seqScans = 0;
  const indexes = new Set<string>();
  for (const [name, { statements }] of Object.entries(measured)) {
    text += `\n${'='.repeat(100)}\n${name}\n`;
    for (const statement of statements.filter((s) => WORK.test(s.text))) {
      await admin.query('begin');
      let plan: string;
      try {
        const { rows } = await admin.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${statement.text}`, statement.values);
        plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      } finally {
        await admin.query('rollback');
      }
      const scans = [...plan.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]!).filter((table) => LARGE_TABLES.includes(table));
      seqScans += scans.length;
      for (const m of plan.matchAll(/(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)/g)) indexes.add(m[1]!);
      text += `\n-- ${statement.text.replace(/\s+/g, ' ').trim()}\n-- parameters: ${JSON.stringify(statement.values)}\n`;
      text += `${scans.length > 0 ? `-- SEQUENTIAL SCAN of ${scans.join(', ')}\n` : ''}${plan}\n`;
    }
  }
  return { text, seqScans, indexes };
}
