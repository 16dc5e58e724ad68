import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_REASONS, SequenceErrorReason } from '../src/core/error-reasons.js';
import { ConflictError, NotFoundError } from '../src/core/errors.js';
import { formatGraphQLError } from '../src/graphql/format-error.js';

/**
 * `extensions.reason` is a closed set: the error classes only take reasons of the registry (the type system
 * refuses a free string), and the README documents each one under its module. This keeps the three in step.
 */

const ROOT = join(import.meta.dirname, '..');
const REGISTRY = Object.entries(ERROR_REASONS).map(([module, reasons]) => ({ module, reasons: Object.values(reasons) as string[] }));
const ALL = REGISTRY.flatMap((entry) => entry.reasons);

/** The README's "### Errors" section, up to the next heading of any level. */
function readmeErrors(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n### Errors\n');
  expect(start, 'README.md has an "### Errors" section').toBeGreaterThan(-1);
  const rest = readme.slice(start + 1);
  const end = rest.slice(1).search(/\n#{2,3} /);
  return end === -1 ? rest : rest.slice(0, end + 1);
}

/** The README's reason bullets under `- **<module>**`, as module → reasons. */
function documentedReasons(): Map<string, string[]> {
  const documented = new Map<string, string[]>();
  let module: string | null = null;
  for (const line of readmeErrors().split('\n')) {
    const heading = /^- \*\*([a-z]+)\*\*/.exec(line);
    if (heading) module = heading[1]!;
    const reason = /^ {2}- `([A-Z_]+)` \(/.exec(line);
    if (reason && module) documented.set(module, [...(documented.get(module) ?? []), reason[1]!]);
  }
  return documented;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'migrations' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('error reasons', () => {
  it('are upper snake case, spelled as their enum key, and each declared by one module only', () => {
    for (const [, reasons] of Object.entries(ERROR_REASONS)) {
      for (const [key, value] of Object.entries(reasons)) {
        expect(value).toMatch(/^[A-Z][A-Z_]*[A-Z]$/);
        expect(key).toBe(value);
      }
    }
    expect(new Set(ALL).size).toBe(ALL.length);
  });

  it('are each listed in README.md under their module, and the README lists no other', () => {
    const documented = documentedReasons();
    expect([...documented.keys()].sort()).toEqual(REGISTRY.map((entry) => entry.module).sort());
    for (const { module, reasons } of REGISTRY) expect(documented.get(module)?.slice().sort(), module).toEqual(reasons.slice().sort());
  });

  it('are never written as string literals: throws in src name them through their enum', () => {
    // A literal where a reason goes: an error class's first argument, `InvalidInputError.field`'s third, or an
    // `extensions.reason` built by hand. The types refuse these already; this catches an `as` cast around them.
    const literalReason = [/new \w*Error\(\s*['"`][A-Z][A-Z_]+['"`]/, /\.field\(.*,\s*['"`][A-Z][A-Z_]+['"`]/, /\breason:\s*['"`][A-Z][A-Z_]+['"`]/];
    const offenders = sourceFiles(join(ROOT, 'src')).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `${file.slice(ROOT.length + 1)}:${i + 1}`, line: line.trim() }))
        .filter(({ line }) => literalReason.some((pattern) => pattern.test(line))),
    );
    expect(offenders).toEqual([]);
  });

  it('reach the client through the one formatter, with the code of their error class', () => {
    const format = (error: Error) => formatGraphQLError({ message: 'x' }, error, { exposeInternals: false, onInternalError: () => {} });
    expect(format(new NotFoundError(SequenceErrorReason.DEFAULT_SEQUENCE_NOT_FOUND))).toEqual({
      message: 'Default sequence not found',
      extensions: { code: 'NOT_FOUND', reason: 'DEFAULT_SEQUENCE_NOT_FOUND' },
    });
    expect(format(new ConflictError(SequenceErrorReason.SEQUENCE_INACTIVE, 'inactive')).extensions).toEqual({ code: 'CONFLICT', reason: 'SEQUENCE_INACTIVE' });
  });
});
