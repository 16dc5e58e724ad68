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

/**
 * Two views of `text`, index for index (blanked characters become spaces, newlines stay): `sql` without comments,
 * and `code` without comments and without string and template text (a string that is one identifier, such as
 * `'status'` in `e['status']`, stays), so code patterns do not match SQL and SQL patterns do not match comments.
 */
function views(text: string): { sql: string; code: string } {
  const sql = [...text];
  const code = [...text];
  const blank = (from: number, to: number, view: string[][]) => {
    for (let i = from; i < to; i++) for (const v of view) if (v[i] !== '\n') v[i] = ' ';
  };
  const templates: number[] = []; // brace depth at each open `${`
  let depth = 0;
  let last = ''; // the last significant character, to tell a regex literal from a division
  let i = 0;
  const literal = (quote: string) => {
    const start = i++;
    while (i < text.length && text[i] !== quote && !(quote === '`' && text.startsWith('${', i)) && !(quote !== '`' && text[i] === '\n'))
      i += text[i] === '\\' ? 2 : 1;
    if (!/^[\w$]+$/.test(text.slice(start + 1, i))) blank(start + 1, i, [code]);
    if (quote === '`' && text.startsWith('${', i)) {
      templates.push(depth++);
      i += 2;
    } else i++;
    last = quote;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (text.startsWith('//', i)) {
      const end = text.indexOf('\n', i);
      blank(i, end < 0 ? text.length : end, [sql, code]);
      i = end < 0 ? text.length : end;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      blank(i, end < 0 ? text.length : end + 2, [sql, code]);
      i = end < 0 ? text.length : end + 2;
    } else if (c === '/' && (last === '' || /[(,=:[!&|?{};+\-*%<>~^]/.test(last))) {
      for (i++; i < text.length && text[i] !== '/' && text[i] !== '\n'; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '[') while (i < text.length && text[i] !== ']' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      }
      i++;
      last = '/';
    } else if (c === "'" || c === '"' || c === '`') literal(c);
    else if (c === '}' && templates.length > 0 && templates.at(-1) === depth - 1) {
      templates.pop();
      depth--;
      literal('`');
    } else {
      if (c === '{') depth++;
      else if (c === '}') depth--;
      if (!/\s/.test(c)) last = c;
      i++;
    }
  }
  return { sql: sql.join(''), code: code.join('') };
}

/** The end of the balanced group opened at `open` (the index of its closing bracket), or the text's end. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if ('([{'.includes(text[i]!)) depth++;
    else if (')]}'.includes(text[i]!) && --depth === 0) return i;
  }
  return text.length;
}

/** `text` with every bracketed group's inside blanked: what is left is its top level. */
function topLevel(text: string): string {
  let out = '';
  let depth = 0;
  for (const c of text) {
    if (c === '(') depth++;
    out += depth > 0 && c !== '\n' ? ' ' : c;
    if (c === ')') depth = Math.max(0, depth - 1);
  }
  return out;
}

/** The top level of an SQL `set` clause starting at `from`: up to from/where/returning/on conflict or the text's end. */
function setClause(sql: string, from: number): string {
  const rest = sql.slice(from);
  const top = topLevel(rest);
  const end = top.search(/\bfrom\b|\bwhere\b|\breturning\b|`|;/i);
  return top.slice(0, end < 0 ? top.length : end);
}

const TABLE = `(?:"?\\w+"?\\s*\\.\\s*)?"?(${TABLES})"?(?![\\w$])`;
const SETS_STATUS = /(?<![\w.])"?status"?\s*=(?!=)/i;
/** An object literal's `status` key (`{ status: x }`, `{ status }`, `{ …, status, … }`). */
const STATUS_KEY = /[{,]\s*(?:status|(['"])status\1)\s*[:,}]/;

/** Every place in `text` that writes a status of sequence_email or enrollment, as "file:line what". */
export function statusWrites(path: string, text: string): string[] {
  const found: string[] = [];
  const at = (index: number, what: string) => found.push(`${path}:${lineOf(text, index)} ${what}`);
  const { sql, code } = views(text);
  // Raw SQL: `update [schema.]sequence_email [alias] set … status = …` (top level of the set clause only).
  for (const match of sql.matchAll(new RegExp(`\\bupdate\\s+${TABLE}(?:\\s+(?:as\\s+)?(?!set\\b)\\w+)?\\s+set\\b`, 'gi'))) {
    if (SETS_STATUS.test(setClause(sql, match.index + match[0].length))) at(match.index, `update ${match[1]} sets status`);
  }
  // Raw SQL: `insert into sequence_email (…, status, …)`, one without a column list (it sets every column), or an
  // upsert whose `on conflict … do update set` sets status.
  for (const match of sql.matchAll(new RegExp(`\\binsert\\s+into\\s+${TABLE}(?:\\s+as\\s+\\w+)?\\s*(\\(([^)]*)\\))?`, 'gi'))) {
    const [, table, list, columns] = match;
    if (list === undefined || /\bstatus\b/i.test(columns!)) at(match.index, `insert into ${table} sets status`);
    const statement = sql.slice(match.index + match[0].length).split(/`|;/)[0]!;
    const upsert = /\bdo\s+update\s+set\b/i.exec(statement);
    if (upsert && SETS_STATUS.test(setClause(statement, upsert.index + upsert[0].length))) at(match.index, `insert into ${table} … do update sets status`);
  }
  // Code: `x.status = …`, `x!.status ??= …`, `(x as T).status = …`, `xs[i].status = …`, `x['status'] = …`.
  for (const match of code.matchAll(/(?:\.\s*status|\[\s*(['"`])status\1\s*\])\s*(?:\?\?|\|\||&&)?=(?![=>])/g)) {
    at(match.index, 'assigns .status');
  }
  // ORM and query builders: Object.assign, em.assign, wrap(e).assign, em.create/insert/upsert(Many), qb.update,
  // kysely's set/values, with a status key among the call's arguments (nativeUpdate: in its data, not its filter).
  const call = /\.\s*(assign|create|insert|insertMany|upsert|upsertMany|nativeUpdate|update|set|values)\s*(?:<[^>(]*>\s*)?\(/g;
  for (const match of code.matchAll(call)) {
    const open = match.index + match[0].length - 1;
    let args = code.slice(open + 1, closing(code, open));
    if (match[1] === 'nativeUpdate') args = args.slice(topLevelCommas(args)[1] ?? args.length);
    if (STATUS_KEY.test(args)) at(match.index, `sets status through ${match[1]}()`);
  }
  return found;
}

/** The indexes of the commas that separate `args` at its top level. */
function topLevelCommas(args: string): number[] {
  const commas: number[] = [];
  let depth = 0;
  for (let i = 0; i < args.length; i++) {
    if ('([{'.includes(args[i]!)) depth++;
    else if (')]}'.includes(args[i]!)) depth--;
    else if (args[i] === ',' && depth === 0) commas.push(i);
  }
  return commas;
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
    expect(statusWrites('x.ts', 'em.assign(email, { status });')).toHaveLength(1);
    expect(statusWrites('x.ts', 'wrap(enrollment).assign({ status, pausedAt: now });')).toHaveLength(1);
    expect(statusWrites('x.ts', 'await em.insert(SequenceEmail, { ...row, status: EmailStatus.PENDING });')).toHaveLength(1);
    expect(statusWrites('x.ts', 'await em.upsert(Enrollment, { id, status: EnrollmentStatus.ACTIVE });')).toHaveLength(1);
    expect(statusWrites('x.ts', 'await qb.update({ status }).where({ id }).execute();')).toHaveLength(1);
    expect(statusWrites('x.ts', "e['status'] = EmailStatus.SENT;")).toHaveLength(1);
    expect(statusWrites('x.ts', 'email!.status = EmailStatus.SENT;')).toHaveLength(1);
    expect(statusWrites('x.ts', 'if (x) return;\n} else email.status = EmailStatus.OPENED;')).toHaveLength(1);
    expect(statusWrites('x.ts', 'emails[i].status = EmailStatus.CANCELED;')).toHaveLength(1);
    expect(statusWrites('x.ts', '(e as SequenceEmail).status = EmailStatus.FAILED;')).toHaveLength(1);
    expect(statusWrites('x.ts', "await db.updateTable('sequence_email').set({ status }).where('id', '=', id).execute();")).toHaveLength(1);
    expect(statusWrites('x.ts', "sql`update public.sequence_email set status = 'SENT' where id = ${id}`")).toHaveLength(1);
    expect(statusWrites('x.ts', 'sql`update "sequence_email" set "status" = ${s} where "id" = ${id}`')).toHaveLength(1);
    expect(statusWrites('x.ts', 'sql`update sequence_email set n = (select count(*) from x where x.id = 1), status = ${s} where id = ${id}`')).toHaveLength(1);
    expect(statusWrites('x.ts', 'sql`insert into enrollment select * from enrollment_backup`')).toHaveLength(1);
    expect(statusWrites('x.ts', 'sql`insert into enrollment (id) values (${id}) on conflict (id) do update set status = excluded.status`')).toHaveLength(1);
    expect(statusLiterals('x.ts', "sql`select 1 where status in ('PENDING', 'SENDING')`")).toHaveLength(2);
    expect(statusLiterals('x.ts', 'const s: string = "ACTIVE";')).toHaveLength(1);
    // … and what it must not: reads, guards, other tables and other words.
    expect(statusWrites('x.ts', 'sql`update sequence_email set links = t.links from t where s.status = ${x}`')).toEqual([]);
    expect(statusWrites('x.ts', 'sql`update lead set status = 1 where id = 2`')).toEqual([]);
    expect(statusWrites('x.ts', 'if (email.status === EmailStatus.SENT) return;')).toEqual([]);
    expect(statusWrites('x.ts', 'const done = (e as SequenceEmail).status !== EmailStatus.PENDING && emails[i]!.status == s;')).toEqual([]);
    expect(statusWrites('x.ts', 'sql`update sequence_email set paused = (select p from t where t.status = ${s}) where id = 1`')).toEqual([]);
    expect(statusWrites('x.ts', "// e.status = 'SENT' in a comment\nconst q = 'where s.status = 1';")).toEqual([]);
    expect(statusWrites('x.ts', 'await em.nativeUpdate(SequenceEmail, { status: EmailStatus.PENDING }, { paused: true });')).toEqual([]);
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
