import { AuthErrorReason } from '../core/error-reasons.js';
import type { Company } from '../model/company.entity.js';

/** What a request needs of its API key: whose it is, and its company's row as the database had it. */
export interface KnownKey {
  readonly apiKeyId: string;
  readonly companyId: string;
  /** The company's columns by name (as `columnsOf` selects them); copied before anything hydrates it. */
  readonly company: Readonly<Record<string, unknown>>;
  /** The same row as a read-only entity (src/db/rows.ts), made once per read: what `viewer` answers. */
  readonly view: Readonly<Company>;
}

/** Why a bearer token that looks like a key authenticates nothing. */
export type KeyRefusal = AuthErrorReason.API_KEY_UNKNOWN | AuthErrorReason.API_KEY_REVOKED;

export type KeyLookup = KnownKey | KeyRefusal;

export interface ApiKeyCacheOptions {
  /** Keys remembered at most (least recently used forgotten first); 0 remembers none. */
  readonly maxKeys: number;
  /** How long an answer is kept at most, from the moment its database read began. */
  readonly ttlMs: number;
  /**
   * Whether revocation notices reach this process now (its LISTEN connection is up). While they may be missed,
   * nothing is answered from memory nor remembered: every request asks the database, as without a cache.
   */
  readonly trusted: () => boolean;
  readonly now?: () => number;
}

/**
 * Refusals are remembered apart from live keys and far fewer: a stream of random bearer tokens only ever pushes out
 * other refusals, never a live key, and costs one indexed lookup each at worst.
 */
const MAX_REFUSALS = 1_000;

// Every cache of this process, so the revocation that committed here is forgotten before its answer is sent.
const caches = new Set<ApiKeyCache>();

/** This process's caches forget the key at once (revokeApiKey, after its commit; the NOTIFY tells the others). */
export function forgetApiKeyHere(apiKeyId: string): void {
  for (const cache of caches) cache.forgetKey(apiKeyId);
}

/**
 * API keys by the SHA-256 of their secret, so that a request in the steady state authenticates without a database
 * round trip. Bounded (LRU, `maxKeys`) and forgotten:
 * - a key at once on every process when it is revoked or deleted (the `API_KEY_REVOKED` notice) and, on the process
 *   that revoked it, before its `revokeApiKey` answers;
 * - every key of a company when its row changes, or one of its keys moves or changes its secret (`COMPANY_CHANGED`);
 * - everything when the LISTEN connection comes back (notices sent meanwhile were missed), and nothing is answered
 *   from memory while it is down;
 * - each key `ttlMs` after it was read, whatever happens: the bound on a notice lost without the connection noticing.
 * A read that began before a forget is not remembered (a generation counter): it may predate the revocation.
 */
export class ApiKeyCache {
  readonly #live = new Map<string, { key: KnownKey; expires: number }>();
  readonly #refused = new Map<string, { reason: KeyRefusal; expires: number }>();
  readonly #loading = new Map<string, Promise<KeyLookup>>();
  readonly #now: () => number;
  #generation = 0;

  constructor(private readonly options: ApiKeyCacheOptions) {
    this.#now = options.now ?? (() => performance.now());
    caches.add(this);
  }

  /** The key whose secret hashes to `hash`: remembered, or read by `load` (one read per hash at a time). */
  lookup(hash: string, load: () => Promise<KeyLookup>): Promise<KeyLookup> {
    if (this.options.maxKeys === 0) return load();
    if (!this.options.trusted()) {
      // Notices may be missed from now on: forget now what was learned, so nothing of it is served once they
      // are heard again (the reconnection's own clear comes too, but this one cannot be late).
      if (this.#live.size > 0 || this.#refused.size > 0) this.clear();
      return load();
    }
    const now = this.#now();
    const live = this.#live.get(hash);
    if (live) {
      this.#live.delete(hash);
      if (live.expires > now) {
        this.#live.set(hash, live); // most recently used last
        return Promise.resolve(live.key);
      }
    }
    const refused = this.#refused.get(hash);
    if (refused) {
      if (refused.expires > now) return Promise.resolve(refused.reason);
      this.#refused.delete(hash);
    }
    return this.#loading.get(hash) ?? this.#load(hash, load, now);
  }

  /** Forgets one key (revoked or deleted). */
  forgetKey(apiKeyId: string): void {
    this.#invalidate();
    for (const [hash, { key }] of this.#live) if (key.apiKeyId === apiKeyId) this.#live.delete(hash);
  }

  /** Forgets every key of a company, and every refusal (a key may have been given a secret refused before). */
  forgetCompany(companyId: string): void {
    this.#invalidate();
    for (const [hash, { key }] of this.#live) if (key.companyId === companyId) this.#live.delete(hash);
    this.#refused.clear();
  }

  /** Forgets everything (notices may have been missed). */
  clear(): void {
    this.#invalidate();
    this.#live.clear();
    this.#refused.clear();
  }

  get size(): { live: number; refused: number } {
    return { live: this.#live.size, refused: this.#refused.size };
  }

  dispose(): void {
    this.clear();
    caches.delete(this);
  }

  #load(hash: string, load: () => Promise<KeyLookup>, startedAt: number): Promise<KeyLookup> {
    const generation = this.#generation;
    const loading = load().then(
      (found) => {
        if (this.#loading.get(hash) === loading) this.#loading.delete(hash);
        // Read before a forget (or while notices may have been missed): it may predate a revocation, so it is used
        // for this request only, as without a cache.
        if (generation === this.#generation && this.options.trusted()) this.#remember(hash, found, startedAt + this.options.ttlMs);
        return found;
      },
      (error: unknown) => {
        if (this.#loading.get(hash) === loading) this.#loading.delete(hash);
        throw error;
      },
    );
    this.#loading.set(hash, loading);
    return loading;
  }

  #remember(hash: string, found: KeyLookup, expires: number): void {
    if (typeof found === 'string') {
      this.#refused.set(hash, { reason: found, expires });
      if (this.#refused.size > MAX_REFUSALS) this.#refused.delete(this.#refused.keys().next().value!);
      return;
    }
    this.#live.set(hash, { key: found, expires });
    if (this.#live.size > this.options.maxKeys) this.#live.delete(this.#live.keys().next().value!);
  }

  #invalidate(): void {
    this.#generation += 1;
    // Reads in flight may predate the change: later requests do not join them.
    this.#loading.clear();
  }
}

/** Whether a lookup found a key that authenticates. */
export function isKnownKey(found: KeyLookup): found is KnownKey {
  return typeof found !== 'string';
}

export const REFUSAL_MESSAGES: Record<KeyRefusal, string> = {
  [AuthErrorReason.API_KEY_UNKNOWN]: 'Unknown API key',
  [AuthErrorReason.API_KEY_REVOKED]: 'This API key has been revoked',
};
