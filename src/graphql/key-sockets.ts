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
 * The open WebSocket connections of each API key in this process: at most `limit` each; what their operations add up
 * to (MAX_OPERATIONS_PER_KEY); and the one place that closes them all when the key is revoked.
 */
export class KeySockets {
  readonly #open = new Map<string, Set<OpenSocket>>();
  readonly #revoked = new Set<string>();

  constructor(readonly limit: number) {}

  /**
   * Counts the socket for its key, unless the key holds `limit` already or was revoked while the socket was being
   * authenticated (the notice may land between the database's answer and this call; without this, the socket would
   * outlive the revocation).
   */
  take(keyId: string, socket: OpenSocket): Admission {
    if (this.#revoked.has(keyId)) return 'revoked';
    const open = this.#open.get(keyId) ?? new Set<OpenSocket>();
    if (open.size >= this.limit) return 'full';
    open.add(socket);
    this.#open.set(keyId, open);
    return 'admitted';
  }

  release(keyId: string, socket: OpenSocket): void {
    const open = this.#open.get(keyId);
    if (!open) return;
    open.delete(socket);
    if (open.size === 0) this.#open.delete(keyId);
  }

  /**
   * Operations the key holds open across its sockets, read from graphql-ws's own tables: exact whichever way an
   * operation ends (completed, failed, refused, its socket closed), so nothing can leak a count.
   */
  operations(keyId: string): number {
    let total = 0;
    for (const socket of this.#open.get(keyId) ?? []) total += Object.keys(socket.subscriptions).length;
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
    for (const socket of open ?? []) socket.extra.socket.close(CLOSE_FORBIDDEN, REVOKED_REASON);
  }

  isRevoked(keyId: string): boolean {
    return this.#revoked.has(keyId);
  }
}
