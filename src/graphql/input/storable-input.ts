import type { FieldProblem } from '../../core/errors.js';

/**
 * What PostgreSQL cannot store and would otherwise surface as an internal error, in any argument: U+0000 (text
 * and jsonb refuse it), lone UTF-16 surrogates (not valid UTF-8), nesting deeper than 32 levels (JSON
 * attributes), and dates outside years 1–9999. Each problem names its field; at most 20 are listed.
 */
export function unstorableProblems(args: Record<string, unknown>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const [name, value] of Object.entries(args)) inspect(value, name, 0, problems);
  return problems.slice(0, 20);
}

const MAX_DEPTH = 32;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function inspect(value: unknown, path: string, depth: number, problems: FieldProblem[]): void {
  if (problems.length >= 20) return;
  if (typeof value === 'string') {
    const problem = stringProblem(value);
    if (problem) problems.push({ field: path, message: problem });
  } else if (value instanceof Date) {
    const year = value.getUTCFullYear();
    if (Number.isNaN(year) || year < 1 || year > 9999) problems.push({ field: path, message: 'must be a date between years 1 and 9999' });
  } else if (value !== null && typeof value === 'object') {
    if (depth >= MAX_DEPTH) {
      problems.push({ field: path, message: `must not be nested more than ${MAX_DEPTH} levels deep` });
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      const keyProblem = stringProblem(key);
      if (keyProblem) problems.push({ field: `${path}.${key.slice(0, 40)}`, message: `key ${keyProblem}` });
      inspect(child, `${path}.${key}`, depth + 1, problems);
    }
  }
}

function stringProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL (U+0000) characters';
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode (it contains a lone surrogate)';
  return undefined;
}
