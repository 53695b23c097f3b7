/**
 * An API rate limit as clouds apply it (EC2 documents its own this way): a
 * bucket holds up to `burst` tokens and refills at `perSecond`; each call
 * takes a token, and a call finding the bucket empty is throttled.
 */

/** A fake cloud's account rate limit. */
export interface RateLimit {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Tokens the bucket holds when full (it starts full). */
  readonly burst: number;
}

/** The bucket of one {@link RateLimit}. */
export class TokenBucket {
  readonly limit: RateLimit;
  #tokens: number;
  #at = performance.now();

  constructor(limit: RateLimit) {
    this.limit = limit;
    this.#tokens = limit.burst;
  }

  /** Takes a token for a call: false when the call is to be throttled. */
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(
      this.limit.burst,
      this.#tokens + ((now - this.#at) / 1000) * this.limit.perSecond,
    );
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * The bucket for a fault setting that may change at any time: a new
 * setting (another object) starts a new, full bucket; none throttles nothing.
 */
export function bucketKeeper(): (limit: RateLimit | undefined) => boolean {
  let bucket: TokenBucket | undefined;
  return (limit) => {
    if (limit === undefined) return true;
    if (bucket?.limit !== limit) bucket = new TokenBucket(limit);
    return bucket.take();
  };
}

/**
 * Reads a rate limit written `PER_SECOND/BURST` (as the fake clouds' serve
 * scripts take it); undefined for undefined or an empty text.
 * @throws Error for any other form.
 */
export function parseRateLimit(text: string | undefined): RateLimit | undefined {
  if (text === undefined || text === '') return undefined;
  const match = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(text);
  if (match === null)
    throw new Error(`rate limit "${text}": expected PER_SECOND/BURST, e.g. 50/50`);
  return { perSecond: Number(match[1]), burst: Number(match[2]) };
}
