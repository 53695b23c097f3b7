/**
 * The pace of one cloud account's calls: the managed driver's rate limiter,
 * which adapts to what the cloud accepts.
 *
 * Clouds limit API calls with token buckets: a burst is allowed, then calls
 * beyond the bucket's refill rate are answered "slow down". A client that
 * keeps its configured pace when that pace is above the refill rate gets
 * most of its calls throttled and spends their retries on it. So the pace
 * starts at the account's configured limit, slows by a quarter on a
 * throttled answer and grows by a quarter on every accepted one, never
 * above the limit nor below an eighth of it ({@link MAX_SLOWDOWN}): below
 * that, the retries' backoff does the rest, as it would without adapting.
 *
 * A slowdown is undone by about 1.3 accepted answers per throttled one, so
 * the pace keeps falling only while more than about two answers in five are
 * throttled. Against a token bucket it settles there, somewhat above the
 * refill rate, so the bucket is used fully; throttling that has
 * nothing to do with the pace (a cloud's occasional refusals, even one call
 * in three) slows calls only for a moment. Halving instead would settle
 * with fewer throttled answers, but random refusals of one call in four
 * would already drag the pace down to its floor.
 *
 * Answers to calls that started before the last decrease change nothing:
 * they were sent at the old pace, and a burst of them must not slow the
 * pace once per call, nor raise it back at once.
 */
import { onAbort } from '../abort.js';

/** How many times slower than the configured limit adapting may make the pace. */
export const MAX_SLOWDOWN = 8;

/** Factor applied to the pace on a throttled answer. */
const DECREASE = 0.75;
/** Factor applied to the pace on an accepted answer. */
const INCREASE = 1.25;

interface Waiter {
  readonly start: (ticket: number) => void;
}

/** Spaces the calls of one account; see the module comment for how the pace adapts. */
export class CallPace {
  readonly #limit: number;
  readonly #floor: number;
  #rate: number;
  readonly #queue: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastStart = Number.NEGATIVE_INFINITY;
  /** Calls started so far; a call's ticket is its number. */
  #started = 0;
  /** Calls started when the pace last went down. */
  #startedAtDecrease = 0;

  /** `limitPerSecond`: the account's configured limit, where the pace starts (> 0). */
  constructor(limitPerSecond: number) {
    this.#limit = limitPerSecond;
    this.#floor = limitPerSecond / MAX_SLOWDOWN;
    this.#rate = limitPerSecond;
  }

  /** The account's configured limit: the fastest the pace gets. */
  get limitPerSecond(): number {
    return this.#limit;
  }

  /** Calls per second now allowed. */
  get perSecond(): number {
    return this.#rate;
  }

  /**
   * Waits for the next call's turn, one at a time, at least `1/perSecond`
   * seconds after the previous start. Resolves with the call's ticket for
   * {@link throttled} or {@link accepted}.
   * @throws the signal's reason when aborted first (the turn goes to the next call).
   */
  turn(signal?: AbortSignal): Promise<number> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const waiter: Waiter = {
        start: (ticket) => {
          cancel?.();
          resolve(ticket);
        },
      };
      const cancel =
        signal &&
        onAbort(signal, () => {
          const index = this.#queue.indexOf(waiter);
          if (index >= 0) this.#queue.splice(index, 1);
          reject(signal.reason);
        });
      this.#queue.push(waiter);
      this.#pump();
    });
  }

  /** The cloud throttled the call with `ticket`: slows the pace, unless that call started before the last decrease. */
  throttled(ticket: number): void {
    if (ticket <= this.#startedAtDecrease) return;
    this.#rate = Math.max(this.#floor, this.#rate * DECREASE);
    this.#startedAtDecrease = this.#started;
  }

  /** The cloud answered the call with `ticket` without throttling it: raises the pace, unless that call started before the last decrease. */
  accepted(ticket: number): void {
    if (ticket <= this.#startedAtDecrease) return;
    this.#rate = Math.min(this.#limit, this.#rate * INCREASE);
  }

  /** Starts the first waiting call if its turn has come, else sets a timer for it. */
  #pump(): void {
    if (this.#timer !== undefined) return;
    const waiter = this.#queue[0];
    if (waiter === undefined) return;
    const wait = this.#lastStart + 1000 / this.#rate - performance.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, wait);
      return;
    }
    this.#queue.shift();
    this.#lastStart = performance.now();
    this.#started += 1;
    waiter.start(this.#started);
    this.#pump();
  }
}
