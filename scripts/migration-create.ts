/**
 * `npm run migration:create [name]`: diffs the entities against a database migrated with every committed
 * migration and writes the difference as a new migration, then lists it in src/db/migrations/index.ts.
 * Uses a throwaway embedded PostgreSQL, so it needs no running database and never touches .data/.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { MIGRATIONS_PATH, migrate, openOrm } from '../src/db/orm.js';

const name = process.argv[2];
const dataDir = await mkdtemp(join(tmpdir(), 'lead-nurture-migration-'));
const db = await startEmbeddedPostgres({ dataDir, port: 54000 + Math.floor(Math.random() * 1000), database: 'migration', ephemeral: true });
try {
  const orm = await openOrm(db.url);
  try {
    await migrate(orm);
    const result = await orm.migrator.create(MIGRATIONS_PATH, false, false, name);
    if (!result.fileName) {
      console.log('No schema changes: no migration created.');
    } else {
      console.log(`Created ${MIGRATIONS_PATH}/${result.fileName}`);
      await writeIndex();
    }
  } finally {
    await orm.close(true);
  }
} finally {
  await db.dispose();
  await rm(dataDir, { recursive: true, force: true });
}

async function writeIndex(): Promise<void> {
  const files = (await readdir(MIGRATIONS_PATH)).filter((f) => /^Migration\d+.*\.ts$/.test(f)).sort();
  const names = files.map((f) => f.replace(/\.ts$/, ''));
  const lines = [
    '// The committed migrations, oldest first. `npm run migration:create` appends to this list.',
    ...names.map((n) => `import { ${n} } from './${n}.js';`),
    '',
    'export const migrations = [',
    ...names.map((n) => `  { name: '${n}', class: ${n} },`),
    '];',
    '',
  ];
  await writeFile(join(MIGRATIONS_PATH, 'index.ts'), lines.join('\n'));
}
