import type { MikroORM } from '@mikro-orm/postgresql';
import { markOffered } from '../state/email-state.js';
import type { Prepared } from './prepare.js';

/**
 * Marks a batch's emails offered to SES (with their links) a wave at a time, just ahead of the senders: a worker
 * killed mid-batch leaves UNKNOWN only the emails it may have sent (at most two waves), and the rest of its claim
 * goes back to the queue at lease end. Marking the whole batch before the first send made every email of a
 * killed worker's batch UNKNOWN although SES never saw most of them (590 in one fault soak).
 */
export class OfferWaves {
  readonly #index: Map<Prepared, number>;
  readonly #waves = new Map<number, Promise<Set<string>>>();

  constructor(
    private readonly orm: MikroORM,
    private readonly items: Prepared[],
    private readonly size: number,
  ) {
    this.#index = new Map(items.map((item, i) => [item, i]));
  }

  /** Whether `item` is marked offered (its wave written, and the next one started); false when it may not be sent. */
  async ready(item: Prepared): Promise<boolean> {
    const wave = Math.floor(this.#index.get(item)! / this.size);
    const marked = this.#mark(wave);
    void this.#mark(wave + 1).catch(() => undefined); // the next wave is written while this one sends
    try {
      return (await marked).has(item.claim.id);
    } catch {
      return false; // not marked: certainly never offered, so it goes back untouched
    }
  }

  #mark(wave: number): Promise<Set<string>> {
    let marking = this.#waves.get(wave);
    if (!marking) {
      const rows = this.items
        .slice(wave * this.size, (wave + 1) * this.size)
        .map((p) => ({ id: p.claim.id, token: p.claim.claim_token, links: p.links.length > 0 ? p.links : null }));
      marking = markOffered(this.orm.em.fork(), rows);
      this.#waves.set(wave, marking);
    }
    return marking;
  }
}
