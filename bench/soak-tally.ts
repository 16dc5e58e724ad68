/**
 * Errors by kind for the soak's report: distinct messages with how often each came. A few kinds tell more than
 * thousands of copies of one line; after 20 kinds, new ones are left out (they still count in the totals).
 */
export class Tally {
  readonly #counts: Map<string, number>;
  constructor(entries: Array<[string, number]> = []) {
    this.#counts = new Map(entries);
  }
  get size(): number {
    return this.#counts.size;
  }
  add(message: string): void {
    const key = message.slice(0, 300);
    if (this.#counts.has(key) || this.#counts.size < 20) this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }
  entries(): Array<[string, number]> {
    return [...this.#counts];
  }
  lines(): string[] {
    return this.entries().map(([message, count]) => `${count} x ${message}`);
  }
}
