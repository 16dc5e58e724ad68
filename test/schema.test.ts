import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createSchema, printSchemaFile } from '../src/graphql/schema.js';

const run = promisify(execFile);

function schemaCheck(file: string) {
  return run(process.execPath, ['--import', 'tsx', 'scripts/schema.ts', '--check'], { env: { ...process.env, SCHEMA_FILE: file } });
}

describe('schema.graphql', () => {
  it('the committed file is what the code produces', async () => {
    expect(await readFile('schema.graphql', 'utf8')).toBe(printSchemaFile(await createSchema()));
  });

  it('schema:check passes on the committed file and fails on a stale one', async () => {
    await expect(schemaCheck('schema.graphql')).resolves.toMatchObject({ stdout: expect.stringContaining('up to date') });

    const stale = join(await mkdtemp(join(tmpdir(), 'schema-')), 'schema.graphql');
    await writeFile(stale, (await readFile('schema.graphql', 'utf8')).replace('viewer: Company!', 'viewer: Company'));
    const failure = await schemaCheck(stale).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('is stale');
  }, 60_000);

  it('every type and field is documented, so Sandbox documents itself', async () => {
    const schema = await createSchema();
    const undocumented: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Boolean', 'Int', 'Float', 'ID'].includes(type.name)) continue;
      const root = ['Query', 'Mutation', 'Subscription'].includes(type.name); // type-graphql cannot describe root types
      if (!type.description && !root) undocumented.push(type.name);
      if ('getFields' in type) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) undocumented.push(`${type.name}.${field.name}`);
        }
      }
    }
    expect(undocumented).toEqual([]);
  });
});
