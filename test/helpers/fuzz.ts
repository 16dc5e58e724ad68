import { randomInt } from 'node:crypto';
import * as fc from 'fast-check';
import { expect } from 'vitest';

/**
 * Building blocks of the bad-input sweep (test/fuzz.test.ts): a seeded `fc.assert`, hostile arbitraries, a raw
 * HTTP client that keeps status, headers and body text, and the one `assertNoLeak` check every response goes
 * through.
 */

// ---------------------------------------------------------------------------------------------------------------
// Seed

/** `FUZZ_SEED=<n>` replays a run; otherwise a fresh seed, printed so a failure can be replayed. */
export const SEED: number = process.env.FUZZ_SEED !== undefined && process.env.FUZZ_SEED !== '' ? Number(process.env.FUZZ_SEED) : randomInt(0, 2 ** 31 - 1);

/**
 * `fc.assert` with the run's seed. On failure the error names the seed (fast-check adds the path of the shrunk
 * counterexample), so `FUZZ_SEED=<seed> npx vitest run test/fuzz.test.ts` replays it.
 */
export async function check<Ts>(property: fc.IAsyncProperty<Ts>, params: { numRuns: number; endOnFailure?: boolean }): Promise<void> {
  try {
    await fc.assert(property, { seed: SEED, numRuns: params.numRuns, endOnFailure: params.endOnFailure ?? false });
  } catch (error) {
    const err = error as Error;
    err.message = `${clip(err.message, 6000)}\n\nReplay with FUZZ_SEED=${SEED}`;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile values

export const SQL_INJECTION = [
  "'; drop table lead; --",
  "' OR '1'='1",
  "' or 1=1 --",
  '"; select pg_sleep(10); --',
  '1); delete from company; --',
  "' union select secret_hash, null from api_key --",
  '$$; drop table email_sequence; $$',
  "'||(select string_agg(secret_hash, ',') from api_key)||'",
  "x' and (select count(*) from pg_catalog.pg_tables) > 0 --",
  "\\'; truncate activity; --",
  "%' --",
  '1e999',
  '-- ',
  '/*',
] as const;

export const TEMPLATE_INJECTION = [
  "{{ 'x' | append: lead.email }}",
  "{{ 'x' | append: company.from_address | append: unsubscribe_url }}",
  "{% include 'x' %}",
  "{% render '../../../etc/passwd' %}",
  "{% layout 'default' %}",
  '{{ this.constructor }}',
  "{{ constructor.constructor('return process')() }}",
  '{{ lead.attributes.__proto__.polluted }}',
  '{{ lead.constructor.name }}',
  '{% for i in (1..100000000) %}x{% endfor %}',
  "{% assign s = 'x' %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}{{ s }}",
  // Free with an empty sample lead, a second per email with a large one (issue 15): TEMPLATE_TOO_SLOW at save.
  '{% for a in lead.attributes.list %}{% for b in lead.attributes.list %}{{ b }}{% endfor %}{% endfor %}',
  '{{ lead.first_name | nosuchfilter }}',
  '{% if %}x{% endif %}',
  '{{',
  '{%',
  '{% raw %}{{ x }}',
  '{first_name}{company_name}{password}',
  '${process.env.OPERATOR_TOKEN}',
  '#{7*7}',
  '<%= 7*7 %>',
  '{{7*7}}',
] as const;

export const MARKUP = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(document.cookie)>',
  '<mjml><mj-body><mj-raw><script>alert(1)</script></mj-raw></mj-body></mjml>',
  '<mjml><mj-include path="/etc/passwd" /></mjml>',
  '<mjml>',
  'javascript:alert(1)',
  '<!--',
  '<![CDATA[ x ]]>',
  '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
  '<a href="https://evil.example.net">click</a>',
] as const;

export const ODDITIES = [
  '',
  ' ',
  '   \t  ',
  '\u202eevil\u202c',
  '\ufeffbom',
  'zero\u200bwidth',
  '\u00a0',
  '\u3000',
  'ﷺ',
  '𝕏𝔶𝔷',
  '👨‍👩‍👧‍👦',
  'İstanbul',
  'ß',
  'Ω≈ç√∫',
  '\u0085',
  '\u2028\u2029',
  '\u0080\u009f',
  'null',
  'undefined',
  'NaN',
  'true',
  '[object Object]',
  '__proto__',
  'constructor',
  'prototype',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%00',
  '%s%s%s%n',
  '%',
  '_',
  '\\',
  '\\\\%_',
  "'",
  '"',
  '`',
  '\\u0000',
  'a'.repeat(201),
  "Robert'); DROP TABLE Students;--",
] as const;

/** ASCII and C1 control characters, U+0000 included. */
const CONTROL = fc.oneof(fc.integer({ min: 0x00, max: 0x1f }), fc.constant(0x7f), fc.integer({ min: 0x80, max: 0x9f })).map((c) => String.fromCharCode(c));

/** What PostgreSQL cannot store, removed: for values that must be stored exactly (the round-trip property). */
export function withoutKnownBugTriggers(value: string): string {
  return value.replaceAll('\u0000', '').toWellFormed();
}

const shortHostile: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SQL_INJECTION, ...TEMPLATE_INJECTION, ...MARKUP, ...ODDITIES) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: CONTROL, maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
);

/** A mix of hostile pieces: "Dana'; drop table lead; --{{ this.constructor }}\u0007". */
const mixedHostile: fc.Arbitrary<string> = fc.array(shortHostile, { minLength: 1, maxLength: 5 }).map((parts) => parts.join(''));

/** 1 KB to ~200 KB: a hostile piece repeated (never cut, so no surrogate pair is split). */
export const hugeString: fc.Arbitrary<string> = fc
  .tuple(shortHostile, fc.integer({ min: 1_000, max: 200_000 }))
  .map(([piece, size]) => (piece.length > 0 ? piece : 'x').repeat(Math.ceil(size / Math.max(1, piece.length))));

/**
 * Hostile strings for well-typed variables: SQL and template injection, markup, control characters (U+0000
 * included), odd Unicode, lone surrogates, huge strings.
 */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: mixedHostile },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: fc.oneof(stringWithNulArbitrary(), stringWithLoneSurrogateArbitrary()) },
);

function stringWithNulArbitrary(): fc.Arbitrary<string> {
  return fc
    .tuple(fc.string({ unit: 'grapheme-ascii', maxLength: 20 }), fc.string({ unit: 'grapheme-ascii', maxLength: 20 }))
    .map(([a, b]) => `${a}x\u0000${b}`);
}

function stringWithLoneSurrogateArbitrary(): fc.Arbitrary<string> {
  return fc
    .tuple(fc.string({ unit: 'grapheme-ascii', maxLength: 20 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ unit: 'grapheme-ascii', maxLength: 20 }))
    .map(([a, unit, b]) => `${a}x${String.fromCharCode(unit)}${b}`);
}

/** A hostile string with a U+0000 somewhere in it (BUG-1). */
export const stringWithNul: fc.Arbitrary<string> = stringWithNulArbitrary();

/** A string with a lone UTF-16 surrogate, which JSON carries as "\ud800" (BUG-2). */
export const stringWithLoneSurrogate: fc.Arbitrary<string> = stringWithLoneSurrogateArbitrary();

/** Strings a lead name field accepts (no control characters, at most 200 UTF-16 units once trimmed), still hostile. */
export const validNameString: fc.Arbitrary<string> = fc
  .oneof(mixedHostile, fc.constantFrom(...SQL_INJECTION, ...TEMPLATE_INJECTION, ...MARKUP))
  // eslint-disable-next-line no-control-regex -- removing the C0 control characters is the point of this pattern
  .map((s) => clip(withoutKnownBugTriggers(s).replace(/[\u0000-\u001f\u007f]/g, ''), 200));

/** Cuts to at most `max` UTF-16 units without splitting a surrogate pair. */
export function clip(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = max;
  const code = value.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return value.slice(0, end);
}

/** Integers around and far beyond every documented bound (Int is 32-bit). */
export const hostileInt: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -3, max: 130 }),
  fc.constantFrom(-2_147_483_648, 2_147_483_647, -101, -100, -1, 0, 1, 23, 24, 50, 51, 100, 101, 365, 366),
  fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }),
);

/** Well-formed ids that name nothing, and strings that are not ids at all. */
export const hostileId: fc.Arbitrary<string | number> = fc.oneof(
  fc.uuid(),
  fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '0', '-1', ' ', "1' or '1'='1", '../lead', '%', '*'),
  fc.uuid().map((id) => ` ${id.toUpperCase()}\n`),
  fc.integer(),
  hostileString,
);

/** Attribute keys: identifiers (accepted) and anything else (rejected with the key named). */
const attributeKey: fc.Arbitrary<string> = fc.oneof(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/), shortHostile);

const jsonLeaf: fc.Arbitrary<unknown> = fc.oneof(
  hostileString.map((s) => clip(s, 2_000)),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
  fc.boolean(),
  fc.constant(null),
);

/**
 * An object or array chain `depth` levels deep, built without recursion. It prints itself in one line in
 * fast-check's reports (printing it level by level would overflow the stack); JSON ignores the symbol.
 */
export function nested(depth: number, kind: 'object' | 'array', leaf: unknown = 1): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = kind === 'object' ? { a: value } : [value];
  if (depth > 0) (value as Record<symbol, unknown>)[fc.toStringMethod] = () => `<${kind} nested ${depth} levels>`;
  return value;
}

/**
 * `attributes` values: ordinary dictionaries, objects a few levels deep, chains up to 3,000 levels deep, and
 * objects just over the 16 KB limit.
 */
export const hostileAttributes: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(attributeKey, jsonLeaf, { maxKeys: 6 }) },
  { weight: 2, arbitrary: fc.object({ key: attributeKey, maxDepth: 4, maxKeys: 4, values: [jsonLeaf] }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 10, max: 3_000 }), fc.constantFrom('object' as const, 'array' as const))
      .map(([depth, kind]) => ({ deep: nested(depth, kind) })),
  },
  { weight: 1, arbitrary: fc.integer({ min: 16_000, max: 40_000 }).map((size) => ({ big: 'x'.repeat(size) })) },
);

/** Values of every JSON type but the expected one, for "wrong types" runs. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(), // NaN and ±Infinity go out as null
  fc.constantFrom(2 ** 53, -(2 ** 63), 1e308, -0, 0.5),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined), // a missing variable or field
  fc.string({ maxLength: 20 }),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.integer({ min: 50, max: 1_000 }).map((depth) => nested(depth, 'object')),
  fc.integer({ min: 50, max: 1_000 }).map((depth) => nested(depth, 'array')),
  fc.integer({ min: 1, max: 60 }).map((size) => new Array<number>(size).fill(7)), // around graphql-js's 50-error limit
  fc.integer({ min: 1_000, max: 100_000 }).map((size) => new Array<number>(size).fill(7)),
);

/** Every path of a JSON value (root first): where a wrong value can be put. */
function pathsOf(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (out.length > 500) return out;
  if (Array.isArray(value)) value.slice(0, 20).forEach((item, i) => pathsOf(item, [...prefix, i], out));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) pathsOf(item, [...prefix, key], out);
  return out;
}

function replaceAt(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((item, i) => (i === head ? replaceAt(item, rest, replacement) : item));
  const record = value as Record<string, unknown>;
  return { ...record, [head!]: replaceAt(record[head!], rest, replacement) };
}

/** The same variables with one value (anywhere, the whole object included) replaced by one of the wrong type. */
export function withWrongType(variables: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc.tuple(variables, fc.nat(), wrongValue).map(([vars, pick, wrong]) => {
    const paths = pathsOf(vars);
    // Mostly a value inside the variables; sometimes the variables object itself.
    const path = paths[pick % paths.length]!;
    return replaceAt(vars, path, wrong);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Raw HTTP

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body when it is JSON. */
  json: unknown;
  /** Strings sent in the request: an error may quote them, which is not a leak. */
  sent: string[];
}

export async function request(url: string, init: RequestInit & { sent?: unknown } = {}): Promise<HttpResult> {
  const { sent, ...rest } = init;
  const response = await fetch(url, { redirect: 'manual', ...rest });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  // The URL itself may be quoted back (a 404 or 414 names the path), decoded or half-decoded.
  const strings = [
    ...stringsOf(sent ?? (typeof rest.body === 'string' ? rest.body : '')),
    url,
    ...[decodeURI, decodeURIComponent].map((decode) => tryDecode(decode, url)),
  ];
  rememberSent(strings);
  return { status: response.status, headers: response.headers, text, json, sent: strings };
}

function tryDecode(decode: (value: string) => string, value: string): string {
  try {
    return decode(value);
  } catch {
    return value;
  }
}

/**
 * Strings sent earlier in the run that look like a leak themselves (SQL, paths…): a stored value may come back
 * in any later response (a lead read after it was created), and that is not a leak either.
 */
const SENT_LOOKALIKES = new Set<string>();

function rememberSent(strings: string[]): void {
  for (const value of strings) {
    if (SENT_LOOKALIKES.size < 5_000 && value.length <= 250_000 && LEAKS.some((pattern) => pattern.test(value))) SENT_LOOKALIKES.add(value.toLowerCase());
  }
}

/** POST /graphql with JSON variables, as any client would send them. */
export function graphql(url: string, authorization: string | undefined, query: string, variables?: unknown): Promise<HttpResult> {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query, variables }),
    sent: [query, variables],
  });
}

/** Every string (and number, and key) in a value, without recursion: values may be nested thousands deep. */
function stringsOf(value: unknown): string[] {
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') out.push(item);
    else if (typeof item === 'number') out.push(String(item));
    else if (Array.isArray(item)) stack.push(...item.slice(0, 20_000));
    else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        out.push(key);
        stack.push(child);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The leak check

/** Codes a client may see (README and src/graphql/format-error.ts); INTERNAL_SERVER_ERROR is checked separately: never. */
export const ALLOWED_CODES = new Set([
  'BAD_USER_INPUT',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'NOT_FOUND',
  'CONFLICT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  // Passed through unchanged by src/graphql/format-error.ts (REQUEST_ERROR_CODES): Apollo's own request errors.
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  // Written by the server's clientErrorHandler when Node's HTTP parser refuses a request (src/http/http-app.ts).
  'REQUEST_HEADER_FIELDS_TOO_LARGE',
  'REQUEST_TIMEOUT',
]);

/** What must never reach a client: stack frames, source paths, dependency paths, SQL and driver errors. */
const LEAKS: RegExp[] = [
  /\bat [^\n]{0,200}?\.(?:ts|js|mjs|cjs):\d+/,
  /node_modules/,
  /\/work\//,
  /file:\/\//,
  /\bselect\b[^\n]{0,200}?\bfrom\b/i,
  /\binsert into\b/i,
  /\bsyntax error at or near\b/i,
  /\binvalid input syntax for type\b/i,
  /\bduplicate key value\b/i,
  /\bviolates [a-z ]*constraint\b/i,
  /\b(?:DriverException|DatabaseError|QueryFailedError|UniqueConstraintViolationException)\b/i,
];

/**
 * Every response of the sweep: never a 5xx, never INTERNAL_SERVER_ERROR, every error with a known code, and no
 * stack trace, source path or SQL in the body (text the request itself carried may be quoted back: an error
 * naming the offending value is not a leak).
 */
export function assertNoLeak(response: HttpResult, context = ''): void {
  const where = `${context} → ${response.status} ${clip(response.text, 1500)}`;
  expect(response.status, `status is never 5xx: ${where}`).toBeLessThan(500);

  const texts = response.json !== undefined ? stringsOf(response.json) : [response.text];
  for (const text of texts) {
    if (!LEAKS.some((pattern) => pattern.test(text))) continue;
    // Something looks like a leak: take out what the request (or an earlier one) carried, as it was sent or
    // JSON-quoted the way graphql-js quotes values, and look again at what the server wrote itself.
    const sent = [...response.sent.map((s) => s.toLowerCase()), ...SENT_LOOKALIKES];
    let own = text.toLowerCase();
    for (const value of sent.filter((v) => v.length >= 3).sort((x, y) => y.length - x.length)) {
      const quoted = JSON.stringify(value);
      for (const form of [quoted, quoted.slice(1, -1), value]) if (own.includes(form)) own = own.split(form).join(' ');
    }
    for (const pattern of LEAKS) {
      const match = pattern.exec(own);
      // A truncated echo (a message quoting the first 64 characters of a value) is still an echo.
      if (match && !sent.some((v) => v.includes(match[0]))) {
        expect.fail(`the response leaks ${JSON.stringify(match[0])} (${pattern}): ${where}`);
      }
    }
  }

  const errors = (response.json as { errors?: unknown } | undefined)?.errors;
  if (Array.isArray(errors)) {
    for (const error of errors as { extensions?: { code?: unknown } }[]) {
      const code = error?.extensions?.code;
      expect(code, `no INTERNAL_SERVER_ERROR: ${where}`).not.toBe('INTERNAL_SERVER_ERROR');
      expect(ALLOWED_CODES.has(code as string), `every error has a known code (got ${String(code)}): ${where}`).toBe(true);
    }
  }
}

/** The GraphQL error codes of a response (empty when it succeeded). */
export function codesOf(response: HttpResult): string[] {
  const errors = (response.json as { errors?: { extensions?: { code?: string } }[] } | undefined)?.errors ?? [];
  return errors.map((e) => e.extensions?.code ?? '(none)');
}

/** A response whose operation failed as a whole: errors and no data. */
export function failed(response: HttpResult): boolean {
  const body = response.json as { data?: Record<string, unknown> | null; errors?: unknown[] } | undefined;
  if (!body) return true;
  if (!body.errors?.length) return false;
  return !body.data || Object.values(body.data).every((v) => v === null);
}
