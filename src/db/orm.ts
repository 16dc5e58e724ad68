import { defineConfig, MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from '../model/entities.js';
import { PreparingClient } from './prepared-statements.js';
import { migrations } from './migrations/index.js';

export const MIGRATIONS_PATH = 'src/db/migrations';

/** ORM options shared by the app, the tests, `migration:create` and the MikroORM CLI (`mikro-orm.config.ts`). */
export function ormOptions(clientUrl: string, overrides: Partial<Options> = {}): Options {
  return defineConfig({
    clientUrl,
    entities,
    extensions: [Migrator],
    migrations: {
      migrationsList: migrations,
      path: MIGRATIONS_PATH,
      pathTs: MIGRATIONS_PATH,
      // The test database is built by these same migrations; diffs are taken against a migrated database.
      snapshot: false,
      emit: 'ts',
      silent: true,
    },
    // Stored functions are written by hand in migrations (admit_api_key_socket): a schema diff must not drop them.
    schemaGenerator: { ignoreRoutines: true },
    pool: { min: 0, max: 20 },
    // Statements marked with prepared() (sql.ts) are planned once per connection.
    driverOptions: { Client: PreparingClient },
    // Entities are loaded per request with a forked EntityManager; the global one must never be used.
    allowGlobalContext: false,
    ...overrides,
  });
}

export async function openOrm(clientUrl: string, overrides: Partial<Options> = {}): Promise<MikroORM> {
  return MikroORM.init(ormOptions(clientUrl, overrides));
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}

export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  return (await orm.migrator.getPending()).map((m) => m.name);
}
