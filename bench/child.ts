/** Child processes of the soak benches, driven over IPC, and the waiting helpers the benches share. */
import { fork, type ChildProcess } from 'node:child_process';

/** A child process driven over IPC: `request` sends a command and waits for the report of a given type. */
export class Child<Command, Report extends { type: string }> {
  readonly #process: ChildProcess;
  readonly #waiting = new Map<string, (report: Report) => void>();
  /** Reports of type `failed`: subscription errors, or the load process's crash. */
  readonly failures: string[] = [];

  /** `fatal`: a failure report ends the run (rejects what is awaited) rather than being counted. */
  constructor(
    file: string,
    private readonly fatal = false,
  ) {
    this.#process = fork(new URL(file, import.meta.url), { execArgv: ['--import', 'tsx'] });
    this.#process.on('message', (report: Report) => {
      if (report.type === 'failed') {
        const message = (report as { message?: string }).message ?? '';
        this.failures.push(message);
        if (this.fatal) for (const waiting of this.#waiting.values()) waiting(report);
      }
      this.#waiting.get(report.type)?.(report);
    });
  }

  send(command: Command): void {
    if (this.#process.connected) this.#process.send(command as object);
  }

  request<T extends Report['type']>(command: Command, answer: T, timeoutMs = 30_000): Promise<Extract<Report, { type: T }>> {
    const answered = this.wait(answer, timeoutMs);
    this.send(command);
    return answered;
  }

  wait<T extends Report['type']>(answer: T, timeoutMs: number): Promise<Extract<Report, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for "${answer}" (failures: ${this.failures.slice(0, 3).join('; ')})`)), timeoutMs);
      this.#waiting.set(answer, (report) => {
        clearTimeout(timer);
        this.#waiting.delete(answer);
        if (report.type === answer) resolve(report as Extract<Report, { type: T }>);
        else reject(new Error(`child process failed: ${this.failures.at(-1)}`));
      });
    });
  }

  async dispose(): Promise<void> {
    if (this.#process.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#process.once('exit', resolve));
    this.#process.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
  }
}

export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
