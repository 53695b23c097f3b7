/**
 * Retry timing shared by driver calls and SSH connection attempts; it sits
 * below `driver/` and `exec/` so that neither imports the other.
 */

import { onAbort } from './abort.js';

/** How often and how long to retry a call that may succeed later. */
export interface RetryPolicy {
  /** Total attempts, including the first. */
  readonly attempts: number;
  /** Delay cap of the first retry, in ms; doubles each retry. */
  readonly baseDelayMs: number;
  /** Upper bound of any delay, in ms. */
  readonly maxDelayMs: number;
}

/** Default policy for cloud API calls. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 };

/** "Full jitter" backoff: a random delay in [0, min(max, base·2^retry)). */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.random() * cap;
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      cancel?.();
      resolve();
    }, ms);
    const cancel =
      signal &&
      onAbort(signal, () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
  });
}
