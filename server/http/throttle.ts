import { LRUCache } from 'lru-cache';

/**
 * Failures counted per key in a fixed window (from the first failure): once `limit` are reached the
 * key is blocked until its window ends. Successes are never counted. The key is whatever the caller
 * knows before reading anything expensive — an address, or an address and a validated name.
 */
export class Throttle {
  private readonly windows: LRUCache<string, { failures: number; until: number }>;

  constructor(
    readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.windows = new LRUCache({ max: 100_000 });
  }

  blocked(key: string): boolean {
    const w = this.windows.get(key);
    if (!w) return false;
    if (w.until <= this.now()) {
      this.windows.delete(key);
      return false;
    }
    return w.failures >= this.limit;
  }

  /** Counts a failure; true when it is the one that blocks the key. */
  fail(key: string): boolean {
    const now = this.now();
    const w = this.windows.get(key);
    if (w && w.until > now) return ++w.failures === this.limit;
    this.windows.set(key, { failures: 1, until: now + this.windowMs });
    return this.limit === 1;
  }
}
