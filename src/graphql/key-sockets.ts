import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { uuidv7 } from '../core/ids.js';
import { SocketSlots, type LocalSocket } from './socket-slots.js';

/** graphql-ws's Forbidden: its clients treat it as fatal, so a revoked key's dashboards do not reconnect in a loop. */
export const CLOSE_FORBIDDEN = 4403;

export const REVOKED_REASON = 'This API key has been revoked';

/** Revoked ids remembered to close a race (see `take`); a revoked key stays revoked, so forgetting old ones is safe. */
const REMEMBERED_REVOCATIONS = 10_000;

/** A graphql-ws connection as the registry needs it: its operations open now, and its socket. */
export interface OpenSocket {
  /** graphql-ws's own table: an operation's id is in it from its subscribe message until it ends or the socket closes. */
  readonly subscriptions: Readonly<Record<string, unknown>>;
  readonly extra: { readonly socket: { close(code: number, reason: string): void } };
}

export type Admission = 'admitted' | 'full' | 'revoked';

/**
 * The open WebSocket connections of each API key: at most `limit` each across every API process (counted in
 * PostgreSQL by SocketSlots); what their operations add up to in this process (MAX_OPERATIONS_PER_KEY); and the one
 * place that closes them all here when the key is revoked.
 */
export class KeySockets {
  /** This process's sockets by key, each with the id of its row in the database. */
  readonly #open = new Map<string, Map<OpenSocket, string>>();
  readonly #revoked = new Set<string>();
  readonly #slots: SocketSlots;

  constructor(
    readonly limit: number,
    shared: { orm: MikroORM; logger: Logger },
  ) {
    this.#slots = new SocketSlots({ ...shared, local: () => this.local() });
  }

  /**
   * Counts the socket for its key, unless the key holds `limit` already (in any process) or was revoked while the
   * socket was being authenticated or admitted (the notice may land between the database's answer and this call;
   * without this, the socket would outlive the revocation). Rejects when the database cannot be asked.
   */
  async take(keyId: string, socket: OpenSocket): Promise<Admission> {
    if (this.#revoked.has(keyId)) return 'revoked';
    // Full here is full everywhere: no need to ask.
    if ((this.#open.get(keyId)?.size ?? 0) >= this.limit) return 'full';
    const id = uuidv7();
    let admitted: boolean;
    try {
      admitted = await this.#slots.admit(keyId, id, this.limit);
    } catch (error) {
      // The admission may have committed with its answer lost: its row must not hold a place for this process's life.
      this.#slots.release(id);
      throw error;
    }
    if (!admitted) return 'full';
    if (this.#revoked.has(keyId)) {
      this.#slots.release(id);
      return 'revoked';
    }
    const open = this.#open.get(keyId) ?? new Map<OpenSocket, string>();
    open.set(socket, id);
    this.#open.set(keyId, open);
    return 'admitted';
  }

  release(keyId: string, socket: OpenSocket): void {
    const open = this.#open.get(keyId);
    const id = open?.get(socket);
    if (!open || id === undefined) return;
    open.delete(socket);
    if (open.size === 0) this.#open.delete(keyId);
    this.#slots.release(id);
  }

  /**
   * Operations the key holds open across its sockets in this process, read from graphql-ws's own tables: exact
   * whichever way an operation ends (completed, failed, refused, its socket closed), so nothing can leak a count.
   * Per process on purpose: MAX_OPERATIONS_PER_KEY bounds this process's memory, and counting it in the database
   * would cost a round trip per operation started and ended (across processes, connections times
   * MAX_SUBSCRIPTIONS_PER_SOCKET bounds it).
   */
  operations(keyId: string): number {
    let total = 0;
    for (const socket of this.#open.get(keyId)?.keys() ?? []) total += Object.keys(socket.subscriptions).length;
    return total;
  }

  /** Keys with a socket open here, for the sweep after missed notices. */
  keyIds(): string[] {
    return [...this.#open.keys()];
  }

  /** The key authenticates nothing any more: each of its sockets is closed with 4403 and none is admitted again. */
  revoke(keyId: string): void {
    this.#revoked.add(keyId);
    if (this.#revoked.size > REMEMBERED_REVOCATIONS) this.#revoked.delete(this.#revoked.values().next().value!);
    const open = this.#open.get(keyId);
    this.#open.delete(keyId);
    // graphql-ws ends each socket's operations on close (subscriptions return, so their queues are freed).
    for (const [socket, id] of open ?? []) {
      this.#slots.release(id);
      socket.extra.socket.close(CLOSE_FORBIDDEN, REVOKED_REASON);
    }
  }

  isRevoked(keyId: string): boolean {
    return this.#revoked.has(keyId);
  }

  /** Before the sockets close at shutdown: their places are freed all at once by `dispose`. */
  stopping(): void {
    this.#slots.stopping();
  }

  /** Frees every place this process holds. */
  dispose(): Promise<void> {
    return this.#slots.dispose();
  }

  private local(): LocalSocket[] {
    const local: LocalSocket[] = [];
    for (const [keyId, open] of this.#open) for (const id of open.values()) local.push({ id, keyId });
    return local;
  }
}
