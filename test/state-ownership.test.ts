import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmailStatus, EnrollmentStatus } from '../src/model/sequence.enums.js';

/*
 * One owner of email and enrollment state (issue 13): only src/state/ writes the status of `sequence_email` and
 * `enrollment`, and everywhere else names a status through its enum. A pure scan of the source, no database: it
 * reads every .ts file under src/ and fails naming the file and line of each offence.
 */

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const OWNER = 'src/state/';
/** Migrations convert rows once, outside the running app. */
const MIGRATIONS = 'src/db/migrations/';
/** Where a status may be spelled out: the enums themselves, and migrations (SQL frozen in time). */
const LITERALS_ALLOWED = ['src/model/sequence.enums.ts', MIGRATIONS];
const TABLES = 'sequence_email|enrollment';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sourceFiles(SRC).map((path) => ({ path: relative(ROOT, path).replaceAll('\\', '/'), text: readFileSync(path, 'utf8') }));

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** Every place in `text` that writes a status of sequence_email or enrollment, as "file:line what". */
export function statusWrites(path: string, text: string): string[] {
  const found: string[] = [];
  const at = (index: number, what: string) => found.push(`${path}:${lineOf(text, index)} ${what}`);
  // Raw SQL: `update sequence_email [alias] set … status = …` (the set clause only: up to from/where/returning).
  const update = new RegExp(
    `update\\s+"?(${TABLES})"?(?:\\s+(?:as\\s+)?(?!set\\b)\\w+)?\\s+set\\b([\\s\\S]*?)(?=\\bfrom\\b|\\bwhere\\b|\\breturning\\b|\`|$)`,
    'gi',
  );
  for (const match of text.matchAll(update)) {
    if (/(?<![\w.])"?status"?\s*=(?!=)/i.test(match[2]!)) at(match.index, `update ${match[1]} sets status`);
  }
  // Raw SQL: `insert into sequence_email (…, status, …)`.
  const insert = new RegExp(`insert\\s+into\\s+"?(${TABLES})"?\\s*\\(([^)]*)\\)`, 'gi');
  for (const match of text.matchAll(insert)) {
    if (/\bstatus\b/i.test(match[2]!)) at(match.index, `insert into ${match[1]} sets status`);
  }
  // ORM: `x.status = …` as a statement (not a comparison, not SQL inside a where clause).
  for (const match of text.matchAll(/(?:^|[;{}]|\)[ \t]*)[ \t]*[A-Za-z_$][\w$]*(?:\.[\w$]+)*\.status\s*=(?!=)/gm)) {
    at(match.index + match[0].length, 'assigns .status');
  }
  // ORM: Object.assign / em.assign / em.create / nativeUpdate with a status.
  for (const match of text.matchAll(/\b(?:Object\.assign|\.assign|\.create|\.nativeUpdate)\s*\([^;]*?\bstatus\s*:/g))
    at(match.index, 'assigns status through the ORM');
  return found;
}

const STATUS_NAMES = [...new Set<string>([...Object.values(EmailStatus), ...Object.values(EnrollmentStatus)])];

/** Every quoted status name in `text` ('PENDING', "ACTIVE", `SENT`), as "file:line literal". */
export function statusLiterals(path: string, text: string): string[] {
  const literal = new RegExp(`(['"\`])(${STATUS_NAMES.join('|')})\\1`, 'g');
  return [...text.matchAll(literal)].map((match) => `${path}:${lineOf(text, match.index)} ${match[0]}`);
}

describe('one owner of email and enrollment state', () => {
  it('the scan finds what it must (it cannot pass vacuously)', () => {
    // Samples of what src/ held before the state module: each must be caught.
    expect(statusWrites('x.ts', "sql`update sequence_email set status = 'CANCELED', updated_at = ${now} where id = any(${ids})`")).toHaveLength(1);
    expect(statusWrites('x.ts', 'sql`update enrollment e set ended_at = ${now}, status = ${s} where e.id = 1`')).toHaveLength(1);
    expect(statusWrites('x.ts', 'sql`update sequence_email s set\n  status = t.status, sent_at = t.sent_at\n from t where s.id = t.id`')).toHaveLength(1);
    expect(statusWrites('x.ts', 'sql`insert into sequence_email (id, company_id, status, paused) select …`')).toHaveLength(1);
    expect(statusWrites('x.ts', 'insert into enrollment (id, company_id, lead_id, sequence_id, status, started_at)')).toHaveLength(1);
    expect(statusWrites('x.ts', '    enrollment.status = EnrollmentStatus.PAUSED;')).toHaveLength(1);
    expect(statusWrites('x.ts', "if (email.status === 'SENT') email.status = 'OPENED';")).toHaveLength(1);
    expect(statusWrites('x.ts', 'Object.assign(email, { status: EmailStatus.PENDING, attempts: 0 });')).toHaveLength(1);
    expect(statusWrites('x.ts', 'em.create(Enrollment, { lead, sequence, status: EnrollmentStatus.ACTIVE });')).toHaveLength(1);
    expect(statusLiterals('x.ts', "sql`select 1 where status in ('PENDING', 'SENDING')`")).toHaveLength(2);
    expect(statusLiterals('x.ts', 'const s: string = "ACTIVE";')).toHaveLength(1);
    // … and what it must not: reads, guards, other tables and other words.
    expect(statusWrites('x.ts', 'sql`update sequence_email set links = t.links from t where s.status = ${x}`')).toEqual([]);
    expect(statusWrites('x.ts', 'sql`update lead set status = 1 where id = 2`')).toEqual([]);
    expect(statusWrites('x.ts', 'if (email.status === EmailStatus.SENT) return;')).toEqual([]);
    expect(statusLiterals('x.ts', "code: 'GRAPHQL_VALIDATION_FAILED'")).toEqual([]);
  });

  it('only src/state/ writes the status of sequence_email or enrollment', () => {
    const writes = files.filter((f) => !f.path.startsWith(OWNER) && !f.path.startsWith(MIGRATIONS)).flatMap((f) => statusWrites(f.path, f.text));
    expect(writes).toEqual([]);
  });

  it('the state module does write them (the scan reaches it)', () => {
    const writes = files.filter((f) => f.path.startsWith(OWNER)).flatMap((f) => statusWrites(f.path, f.text));
    expect(writes.length).toBeGreaterThan(0);
  });

  it('no status is spelled out as a string outside the enums and migrations', () => {
    const literals = files.filter((f) => !LITERALS_ALLOWED.some((allowed) => f.path.startsWith(allowed))).flatMap((f) => statusLiterals(f.path, f.text));
    expect(literals).toEqual([]);
  });
});
