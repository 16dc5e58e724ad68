import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { uuidv7 } from '../core/ids.js';
import { json, prepared, query, sql } from '../db/sql.js';

/** How often each API process proves it is alive (and retries deleting the rows of sockets whose release failed). */
const HEARTBEAT_INTERVAL_MS = 10_000;
/**
 * After this long without a heartbeat a process counts as dead: its sockets hold no place (they may still be open
 * during a database outage that long; the heartbeat after it registers them again). Three missed beats, so a
 * stalled event loop or a slow statement does not free places of live sockets.
 */
const HEARTBEAT_EXPIRY_SECONDS = 30;
/** The first key of the advisory locks that serialise one API key's admissions (the second is a hash of the key). */
const SOCKET_LOCK_CLASS = 0x6b_73_6f_63;
/** PostgreSQL's foreign_key_violation: this process's row was deleted (by others, after a long outage). */
const FOREIGN_KEY_VIOLATION = '23503';

/** A socket as this process knows it: its row id and the API key it is counted for. */
export interface LocalSocket {
  readonly id: string;
  readonly keyId: string;
}

/**
 * The places of each API key's WebSockets across all API processes, kept in PostgreSQL: a row per process
 * (`api_process`, with a heartbeat) and a row per admitted socket (`api_key_socket`). Only the sockets of processes
 * with a fresh heartbeat count, so a process that dies without stopping frees its places within
 * HEARTBEAT_EXPIRY_SECONDS; a process that stops deletes its row and with it its sockets' rows at once.
 */
export class SocketSlots {
  /** A new id each start: what a previous run of this process left behind is a dead process's, and expires. */
  readonly #processId = uuidv7();
  readonly #timer: NodeJS.Timeout;
  /** Sockets closed here whose rows could not be deleted yet (database unreachable): the heartbeat retries. */
  readonly #unreleased = new Set<string>();
  /** Statements running now: `dispose` waits for them, so none outlives the pool it runs on. */
  readonly #running = new Set<Promise<unknown>>();
  #stopping = false;

  constructor(
    private readonly options: {
      orm: MikroORM;
      logger: Logger;
      /** The sockets admitted here and still open: what a re-registration writes back. */
      local: () => LocalSocket[];
    },
  ) {
    this.#timer = setInterval(() => void this.track(this.beat()), HEARTBEAT_INTERVAL_MS).unref();
    void this.track(this.beat());
  }

  /**
   * Adds the socket's row when the key holds fewer than `limit` live sockets across all processes: one round trip
   * to `admit_api_key_socket` (its migration says why two processes cannot both take the last place).
   */
  async admit(keyId: string, socketId: string, limit: number): Promise<boolean> {
    const insert = async () => {
      const [row] = await query<{ admitted: boolean }>(
        this.options.orm.em.fork(),
        prepared(sql`select admit_api_key_socket(${socketId}::uuid, ${this.#processId}::uuid, ${keyId}::uuid, ${limit}::integer,
                                        ${SOCKET_LOCK_CLASS}::integer, make_interval(secs => ${HEARTBEAT_EXPIRY_SECONDS})) as admitted`),
      );
      return row?.admitted === true;
    };
    return this.track(
      insert().catch(async (error: unknown) => {
        if ((error as { code?: string }).code !== FOREIGN_KEY_VIOLATION) throw error;
        await this.heartbeat(); // registers this process (and its open sockets) again
        return insert();
      }),
    );
  }

  /** Frees the socket's place. A row whose delete failed is deleted by a later heartbeat. */
  release(socketId: string): void {
    if (this.#stopping) return; // the process's row goes, and its sockets' rows with it
    void this.track(
      query(this.options.orm.em.fork(), sql`delete from api_key_socket where id = ${socketId}::uuid`).catch((error: unknown) => {
        this.#unreleased.add(socketId);
        this.options.logger.warn({ err: error }, 'could not free the place of a closed WebSocket; the next heartbeat will');
      }),
    );
  }

  /** Sockets closing from now on are not deleted one by one: `dispose` deletes them all with the process's row. */
  stopping(): void {
    this.#stopping = true;
    clearInterval(this.#timer);
  }

  /** Deletes this process's row and so every place it held. */
  async dispose(): Promise<void> {
    this.stopping();
    await Promise.allSettled([...this.#running]);
    try {
      await query(this.options.orm.em.fork(), sql`delete from api_process where id = ${this.#processId}::uuid`);
    } catch (error) {
      this.options.logger.warn({ err: error }, "could not delete this process's WebSocket places; they expire with its heartbeat");
    }
  }

  private track<T>(running: Promise<T>): Promise<T> {
    this.#running.add(running);
    const done = () => this.#running.delete(running);
    running.then(done, done);
    return running;
  }

  private async beat(): Promise<void> {
    try {
      await this.heartbeat();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'WebSocket places heartbeat failed; will try again');
    }
  }

  /**
   * Refreshes this process's heartbeat. When its row had to be created (first beat, or deleted by another process
   * after an outage longer than the expiry), registers its open sockets again, in the same transaction (so a failed
   * registration leaves the row to be created again next time); retries the releases that failed; and deletes dead
   * processes (their sockets go with them).
   */
  private async heartbeat(): Promise<void> {
    if (this.#stopping) return;
    const em = this.options.orm.em.fork();
    await em.transactional(async (tx) => {
      const [row] = await query<{ created: boolean }>(
        tx,
        sql`insert into api_process (id, heartbeat_at) values (${this.#processId}::uuid, clock_timestamp())
            on conflict (id) do update set heartbeat_at = excluded.heartbeat_at
            returning (xmax = 0) as created`,
      );
      const local = this.options.local();
      if (!row?.created || local.length === 0) return;
      await query(
        tx,
        sql`insert into api_key_socket (id, process_id, api_key_id)
            select s.id, ${this.#processId}::uuid, s.key_id from jsonb_to_recordset(${json(local.map(({ id, keyId }) => ({ id, key_id: keyId })))}) as s(id uuid, key_id uuid)
            on conflict (id) do nothing`,
      );
    });
    const unreleased = [...this.#unreleased];
    if (unreleased.length > 0) {
      await query(em, sql`delete from api_key_socket where id = any(${unreleased}::uuid[])`);
      for (const id of unreleased) this.#unreleased.delete(id);
    }
    await query(em, sql`delete from api_process where heartbeat_at < clock_timestamp() - make_interval(secs => ${HEARTBEAT_EXPIRY_SECONDS})`);
  }
}
