import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { uuidv7 } from '../core/ids.js';
import { query, sql } from '../db/sql.js';
import { EmailStatus } from '../model/sequence.enums.js';
import { applyBatch, type EngagementEvent, type EngagementOutcome } from './engagement-batch.js';
import { Spool } from './spool.js';

/** An event as reported: the recorder gives it its id. */
type EngagementReport = Omit<EngagementEvent, 'id'>;

export interface RecorderOptions {
  /** This process's spool (each process its own: it replays what it finds there at start). */
  spoolDir: string;
  /** Answered events not stored yet that this process holds; past it, events are answered but not recorded. */
  maxBufferedEvents: number;
  /** How long an event may wait for others to share its group commit. */
  commitDelayMs: number;
  /** Events per group commit. */
  maxBatch?: number;
  /** On shutdown, how long to keep trying the database before leaving what is buffered to the next start. */
  shutdownWaitMs?: number;
}

interface Pending {
  event: EngagementEvent;
  /** The spool segment holding an answered event: released once stored. Unset if the spool could not take it. */
  segment?: number;
  /** An API caller waiting for the outcome; such events are not spooled (nothing was answered before the commit). */
  waiter?: { resolve: (outcome: EngagementOutcome) => void; reject: (error: unknown) => void };
}

const RETRY_CAP_MS = 2_000;
const OVERFLOW_LOG_MS = 10_000;

/**
 * Records opens and clicks. An answered event (`capture`, the pixel and the redirect) is first appended to this
 * process's spool, fsync'd in a group with the other requests of the moment, and only then answered: from then on
 * it survives a SIGKILL (the next process on the spool replays it) and a database outage (it is retried until the
 * database is back; nothing gives up on it). Applying is write-behind, in group commits: every `commitDelayMs`
 * (or `maxBatch` events) one transaction applies a whole batch with a handful of set-based statements, in arrival
 * order, so "first open" and "first click" are decided exactly once and counts never lose an increment. Each event
 * carries an id stored with it, so applying one twice (replayed after a crash that followed its commit) changes
 * nothing. API calls (`record`) wait for their commit instead and fail after a few attempts.
 *
 * The buffer is bounded (`maxBufferedEvents`): past it, during a long outage, events are still answered (the image,
 * the redirect) but neither spooled nor recorded; that is logged as an error every 10 s with the count, and
 * `dropped` counts them.
 */
export class EngagementRecorder {
  #queue: Pending[] = [];
  /** Events answered or being spooled and not stored yet (the bounded buffer). */
  #buffered = 0;
  #flushing: Promise<boolean> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #giveUpAt = Number.POSITIVE_INFINITY;
  #dropped = 0;
  #droppedSinceLog = 0;
  #lastOverflowLog = 0;
  /** Links never change once an email is sent: clicks find their target without a query. */
  readonly #links = new Map<string, string[]>();
  readonly #options: Required<RecorderOptions>;

  private constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    private readonly spool: Spool,
    options: RecorderOptions,
  ) {
    this.#options = { maxBatch: 1000, shutdownWaitMs: 5_000, ...options };
  }

  /** Opens the spool and queues what a previous process on it answered but did not store. */
  static async open(orm: MikroORM, logger: Logger, options: RecorderOptions): Promise<EngagementRecorder> {
    const { spool, replay } = await Spool.open(options.spoolDir);
    const recorder = new EngagementRecorder(orm, logger, spool, options);
    for (const { segment, payload } of replay) {
      const event = decode(payload);
      if (event) recorder.enqueue({ event, segment }, true);
      else spool.release(segment);
    }
    if (replay.length > 0) logger.warn({ events: replay.length, spool: options.spoolDir }, 'replaying answered engagement events left in the spool');
    return recorder;
  }

  /** Events answered without being recorded because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Makes an answered event durable: true once it is in the spool (fsync'd), false when it could not be (the
   * buffer is full or the spool failed; logged). Never rejects: the caller answers the request either way.
   */
  async capture(report: EngagementReport): Promise<boolean> {
    if (this.#closed || this.#buffered >= this.#options.maxBufferedEvents) return this.overflow();
    const event: EngagementEvent = { ...report, id: uuidv7(report.at.getTime()) };
    this.#buffered++;
    try {
      this.enqueue({ event, segment: await this.spool.append(encode(event)) });
      return true;
    } catch (error) {
      this.logger.error({ err: error, spool: this.spool.dir }, 'could not spool an engagement event: recorded from memory only');
      this.enqueue({ event });
      return false;
    }
  }

  /** Records an event for an API caller, resolving with its outcome once its batch has committed. */
  record(report: EngagementReport): Promise<EngagementOutcome> {
    if (this.#closed) return Promise.reject(new Error('the engagement recorder is closed'));
    return new Promise((resolve, reject) => this.enqueue({ event: { ...report, id: uuidv7(report.at.getTime()) }, waiter: { resolve, reject } }));
  }

  /** Where link `index` of a sent email leads, or undefined (unknown email, not sent, no such link). */
  async linkOf(emailId: string, index: number): Promise<string | undefined> {
    let links = this.#links.get(emailId);
    if (!links) {
      const [row] = await query<{ links: string[] | null; status: EmailStatus }>(
        this.orm.em.fork(),
        sql`select links, status from sequence_email where id = ${emailId}::uuid`,
      );
      if (!row?.links) return undefined;
      links = row.links;
      // While SENDING they are the links of an attempt that may yet fail and be rendered again: not remembered.
      if (row.status !== EmailStatus.SENDING) {
        if (this.#links.size > 50_000) this.#links.delete(this.#links.keys().next().value!);
        this.#links.set(emailId, links);
      }
    }
    return links[index];
  }

  /** Applies everything buffered so far (one batch after another); while the database is down, waits for it. */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#options.maxBatch);
    this.#flushing = this.apply(batch).finally(() => (this.#flushing = undefined));
    const stored = await this.#flushing;
    if (stored && this.#queue.length > 0) await this.flush();
  }

  /** Writes what is buffered if the database answers within `shutdownWaitMs`; what it cannot stays in the spool. */
  async dispose(): Promise<void> {
    this.#closed = true;
    this.#giveUpAt = Date.now() + this.#options.shutdownWaitMs;
    try {
      await this.flush();
      for (const pending of this.#queue) pending.waiter?.reject(new Error('the engagement recorder is closed'));
      if (this.#queue.length > 0)
        this.logger.warn({ events: this.#queue.length, spool: this.spool.dir }, 'engagement events left in the spool for the next start');
    } finally {
      await this.spool.close();
    }
  }

  private enqueue(pending: Pending, replayed = false): void {
    if (replayed) this.#buffered++;
    this.#queue.push(pending);
    if (this.#queue.length >= this.#options.maxBatch) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#options.commitDelayMs);
  }

  /**
   * Applies one batch, retrying for as long as it takes (capped backoff): an outage only delays answered events.
   * API callers get an error after three attempts. A batch that keeps failing while the database answers is split,
   * so one bad event cannot hold up the rest; that event alone is given up, loudly. False: given up at shutdown.
   */
  private async apply(batch: Pending[]): Promise<boolean> {
    let pending = batch;
    let failedWhileUp = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcomes = await this.orm.em.fork().transactional((tx) =>
          applyBatch(
            tx,
            pending.map((p) => p.event),
          ),
        );
        pending.forEach((p, i) => this.settle(p, outcomes[i]));
        if (attempt > 1) this.logger.info({ events: pending.length, attempts: attempt }, 'engagement events recorded after the database came back');
        return true;
      } catch (error) {
        if (attempt === 3) {
          for (const p of pending) p.waiter?.reject(error);
          pending = pending.filter((p) => !p.waiter);
          this.logger.error({ err: error, events: pending.length }, 'could not record engagement events: answered ones are kept and retried');
          if (pending.length === 0) return true;
        }
        // Failures while the database answers, three in a row: something in the batch, not the database.
        failedWhileUp = attempt >= 3 && (await this.databaseAnswers()) ? failedWhileUp + 1 : 0;
        if (failedWhileUp >= 3) return this.split(pending, error);
        if (this.#closed && Date.now() >= this.#giveUpAt) {
          this.#queue.unshift(...pending); // still in the spool: the next start replays them
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** (attempt - 1), RETRY_CAP_MS)));
      }
    }
  }

  /** The batch failed although the database answers: halves are tried on their own; a single event is given up. */
  private async split(batch: Pending[], error: unknown): Promise<boolean> {
    if (batch.length === 1) {
      this.logger.error({ err: error, event: batch[0]!.event }, 'an engagement event cannot be recorded: given up');
      this.settle(batch[0]!, undefined);
      return true;
    }
    const half = Math.ceil(batch.length / 2);
    if (await this.apply(batch.slice(0, half))) return this.apply(batch.slice(half));
    this.#queue.unshift(...batch.slice(half));
    return false;
  }

  private settle(pending: Pending, outcome: EngagementOutcome | undefined): void {
    if (!pending.waiter) this.#buffered--;
    if (pending.segment !== undefined) this.spool.release(pending.segment);
    if (outcome) pending.waiter?.resolve(outcome);
  }

  private async databaseAnswers(): Promise<boolean> {
    try {
      await this.orm.em.fork().getConnection().execute('select 1');
      return true;
    } catch {
      return false;
    }
  }

  private overflow(): false {
    this.#dropped++;
    this.#droppedSinceLog++;
    const now = Date.now();
    if (now - this.#lastOverflowLog >= OVERFLOW_LOG_MS) {
      this.logger.error(
        { dropped: this.#droppedSinceLog, buffered: this.#buffered, limit: this.#options.maxBufferedEvents },
        this.#closed
          ? 'engagement events answered after shutdown began: not recorded'
          : 'engagement buffer full (database down?): answered events are NOT recorded',
      );
      this.#lastOverflowLog = now;
      this.#droppedSinceLog = 0;
    }
    return false;
  }
}

function encode(event: EngagementEvent): Buffer {
  return Buffer.from(JSON.stringify({ ...event, at: event.at.getTime() }));
}

function decode(payload: Buffer): EngagementEvent | undefined {
  try {
    const raw = JSON.parse(payload.toString('utf8')) as Omit<EngagementEvent, 'at'> & { at: number };
    if (typeof raw.id !== 'string' || typeof raw.emailId !== 'string' || (raw.kind !== 'OPEN' && raw.kind !== 'CLICK')) return undefined;
    return { ...raw, at: new Date(raw.at) };
  } catch {
    return undefined;
  }
}
