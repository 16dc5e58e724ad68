/**
 * `npm run schema:emit` writes schema.graphql from the code; `npm run schema:check` fails when the committed
 * file differs from what the code produces (CI runs it). SCHEMA_FILE points it at another file.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createSchema, printSchemaFile } from '../src/graphql/schema.js';

const file = process.env.SCHEMA_FILE ?? 'schema.graphql';
const expected = printSchemaFile(await createSchema());

if (process.argv.includes('--check')) {
  const actual = await readFile(file, 'utf8').catch(() => '');
  if (actual !== expected) {
    process.stderr.write(`${file} is stale: the API changed but the committed schema did not. Run \`npm run schema:emit\` and commit it.\n`);
    process.exit(1);
  }
  process.stdout.write(`${file} is up to date.\n`);
} else {
  await writeFile(file, expected);
  process.stdout.write(`Wrote ${file}.\n`);
}
