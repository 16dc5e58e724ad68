/**
 * The fault soak's processes: the product's API processes and workers as child processes (TypeScript through
 * tsx, as `npm run dev` and `npm run worker:dev` run them), and a PostgreSQL cluster the harness stops and starts
 * on the same data and port. A child that exits without the harness having stopped it is a crash, with the last
 * lines it wrote kept for the report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { Tally } from './soak-tally.js';

export interface Crash {
  name: string;
  at: number;
  /** Whether it had said it was up (`ready` pattern): if not, it failed while booting. */
  ready: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines it wrote (stdout and stderr). */
  last: string[];
}

/** Log lines a child wrote that the harness watches for, by pattern: epoch ms of each. */
export interface Watch {
  pattern: RegExp;
  seen: number[];
}

/**
 * A copy of the product's sources (src/, package.json, tsconfig.json; node_modules linked) in `dir`, for the
 * processes to run from: a replacement started minutes into the run runs the same code as the processes it
 * joins, even while the working tree changes (a migration added meanwhile would make it refuse to boot).
 */
export async function snapshotSources(root: URL, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await cp(new URL('src', root), join(dir, 'src'), { recursive: true });
  for (const file of ['package.json', 'tsconfig.json']) await cp(new URL(file, root), join(dir, file));
  await symlink(new URL('node_modules', root).pathname, join(dir, 'node_modules'));
  return dir;
}

/** One product process (`src/main.ts` or `src/worker.ts`), restartable under the same name and settings. */
export class ProductProcess {
  #child: ChildProcess | undefined;
  #stopping = false;
  readonly #last: string[] = [];
  /** Error-level (and fatal) lines, by message. */
  readonly errors = new Tally();
  errorLines = 0;
  startedAt = 0;
  /** When it last said it was up (its `ready` line), this start; 0 until then. */
  readyAt = 0;
  readonly #ready: RegExp;

  constructor(
    readonly name: string,
    /** The directory it runs in (a `snapshotSources` copy), and its entry file there. */
    private readonly cwd: string,
    private readonly entry: string,
    private readonly env: Record<string, string>,
    private readonly crashes: Crash[],
    readonly watches: Watch[] = [],
    private readonly onCrash: (crash: Crash) => void = () => undefined,
  ) {
    this.#ready = entry.endsWith('worker.ts') ? /"msg":"worker started"/ : /"msg":"server listening"/;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  start(): void {
    this.#stopping = false;
    this.startedAt = Date.now();
    this.readyAt = 0;
    this.#last.length = 0;
    // --trace-exit: a process.exit() leaves its stack in the log, which tells it from an event loop that ran empty.
    const child = spawn(process.execPath, ['--trace-exit', '--import', 'tsx', this.entry], {
      cwd: this.cwd,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) this.#line(line);
      });
    }
    child.once('exit', (code, signal) => {
      if (this.#child !== child || this.#stopping) return;
      const crash = { name: this.name, at: Date.now(), ready: this.readyAt > 0, code, signal, last: [...this.#last] };
      this.crashes.push(crash);
      this.onCrash(crash);
    });
  }

  /** SIGKILL (the harness's fault) or SIGTERM (the end of the run): either way not a crash. */
  async stop(signal: 'SIGKILL' | 'SIGTERM', timeoutMs = 30_000): Promise<void> {
    const child = this.#child;
    this.#stopping = true;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }

  #line(line: string): void {
    if (!line.trim()) return;
    this.#last.push(line.slice(0, 500));
    if (this.#last.length > 60) this.#last.shift();
    if (!this.readyAt && this.#ready.test(line)) this.readyAt = Date.now();
    for (const watch of this.watches) if (watch.pattern.test(line)) watch.seen.push(Date.now());
    const level = Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? 0);
    if (level < 50) return;
    this.errorLines += 1;
    try {
      const { msg, err } = JSON.parse(line) as { msg?: string; err?: { message?: string } };
      this.errors.add(`${this.name.replace(/-\d+$/, '')}: ${msg ?? ''}${err?.message ? `: ${err.message}` : ''}`);
    } catch {
      this.errors.add(`${this.name}: ${line}`);
    }
  }
}

/** A durable PostgreSQL cluster on a fixed port and data directory, so the product's processes find it again. */
export class RestartableDatabase {
  #cluster: EmbeddedPostgres | undefined;
  #up: Promise<void> = Promise.resolve();

  constructor(
    private readonly dataDir: string,
    readonly port: number,
    readonly database: string,
  ) {}

  get url(): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/${this.database}`;
  }

  /** Resolves when the cluster is up (at once, unless a restart is under way). */
  up(): Promise<void> {
    return this.#up;
  }

  async start(): Promise<void> {
    this.#cluster = await startEmbeddedPostgres({ dataDir: this.dataDir, port: this.port, database: this.database });
  }

  /**
   * Stops it (fast shutdown: sessions are terminated), waits `downMs`, starts it again on the same data; answers
   * when it began to stop and when it was back, in epoch ms.
   */
  async restart(downMs: number): Promise<[number, number]> {
    let markUp!: () => void;
    this.#up = new Promise((resolve) => (markUp = resolve));
    try {
      const stopped = Date.now();
      await this.#cluster?.dispose();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await this.start();
      return [stopped, Date.now()];
    } finally {
      markUp();
    }
  }

  async dispose(): Promise<void> {
    await this.#cluster?.dispose();
  }
}
