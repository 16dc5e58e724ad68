import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { freePort } from './ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the run's cluster, `{db}` standing for the database name. */
    postgresUrlTemplate: string;
  }
}

/** Starts one throwaway PostgreSQL cluster for the whole run, in its own directory and on its own port. */
export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(join(tmpdir(), 'lead-nurture-test-'));
  const cluster = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: 'postgres', ephemeral: true });
  project.provide('postgresUrlTemplate', cluster.urlFor('{db}'));
  return async () => {
    await cluster.dispose();
    await rm(dataDir, { recursive: true, force: true });
  };
}
