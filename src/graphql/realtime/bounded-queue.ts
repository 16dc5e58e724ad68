/**
 * One subscriber's inbox: an async iterator over pushed items that never holds more than `limit` of them.
 *
 * Policy when full: the OLDEST item is dropped. Publishing never waits for a subscriber, so a slow or stalled
 * one cannot hold up the others, and its memory stays bounded. Dropping the oldest (rather than closing the
 * subscriber) keeps the most recent changes, which are the ones a dashboard needs to show current state. A
 * client that stops reading its socket altogether also stops answering pings, and the WebSocket keep-alive
 * disconnects it.
 */
export class BoundedQueue<T> implements AsyncIterableIterator<T> {
  #items: T[] = [];
  #waiting: Array<(result: IteratorResult<T>) => void> = [];
  #closed = false;
  #dropped = 0;

  constructor(
    readonly limit: number,
    /** Called once, when the queue closes (consumer returned, or the producer closed it). */
    private readonly onClose: (queue: BoundedQueue<T>) => void = () => undefined,
    /** Called on the first drop, so a lagging subscriber is logged once rather than per item. */
    private readonly onFirstDrop: () => void = () => undefined,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`queue limit must be a positive integer (got ${limit})`);
  }

  /** Items waiting to be read. */
  get size(): number {
    return this.#items.length;
  }

  /** Items dropped so far because the consumer lagged `limit` items behind. */
  get dropped(): number {
    return this.#dropped;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Hands `item` to a waiting reader, or queues it, dropping the oldest queued item when full. */
  push(item: T): void {
    if (this.#closed) return;
    const reader = this.#waiting.shift();
    if (reader) return reader({ value: item, done: false });
    if (this.#items.length >= this.limit) {
      this.#items.shift();
      if (this.#dropped++ === 0) this.onFirstDrop();
    }
    this.#items.push(item);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift()!, done: false });
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** The consumer is done (graphql-ws calls it when the client completes or disconnects). */
  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Ends the iteration: pending reads finish, queued items are released. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#items = [];
    for (const reader of this.#waiting.splice(0)) reader({ value: undefined, done: true });
    this.onClose(this);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
