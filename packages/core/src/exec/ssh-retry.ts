/**
 * Staged readiness: repeats connection attempts with jittered exponential
 * backoff while the machine may still be booting, and decides when a failure
 * is final.
 *
 * The rule:
 * - `tcp`, `handshake` and `command` failures are retried until the deadline
 *   (refused, reset, silent, sshd not up yet, account not ready).
 * - `host-key` failures are final at once.
 * - `auth` refusals are retried (a VM's sshd often starts before its keys are
 *   installed) for at most `authGraceMs` after the first refusal, and only
 *   while this pool has never logged in to the machine. Once it has, the key
 *   was demonstrably accepted before and a refusal is final at once. Local
 *   problems (unreadable key, empty agent) are final at once.
 * - Waits are shortened so that a last attempt still fits before the deadline;
 *   then the last failure is reported, with the number of attempts and the
 *   time spent.
 */
import type { Client } from 'ssh2';
import { type RetryPolicy as BackoffPolicy, backoffDelay, sleep } from '../backoff.js';
import { type ConnectStage, RemoteError } from '../errors.js';
import { SshAttemptError, seconds } from './ssh-connect.js';

/** When to stop, and whom to tell about retries. */
export interface ReadinessPolicy {
  /** When no new attempt starts, in `performance.now()` milliseconds (a clock only moving forward). */
  readonly deadline: number;
  /** How long auth refusals are retried on a machine never logged in to. */
  readonly authGraceMs: number;
  /** Whether this pool has logged in to the machine before. */
  readonly proven: () => boolean;
  /** Stops the retries (the pool is closing). */
  readonly signal: AbortSignal;
  /** Told about every failure that will be retried. */
  readonly onRetry?: (stage: ConnectStage, error: Error) => void;
}

/** No single attempt runs longer than this, so a silent network is retried. */
const ATTEMPT_TIMEOUT_MS = 20_000;
/** The last attempt starts at least this long before the deadline; with less left, give up. */
const LAST_ATTEMPT_MS = 100;
/** Waits between attempts: full jitter, 0.2 s doubling up to 5 s (the attempt count is ours). */
const BACKOFF: BackoffPolicy = {
  attempts: Number.POSITIVE_INFINITY,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
};

/** The time budget of an attempt starting now. */
export function attemptTimeout(deadline: number): number {
  return Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, deadline - performance.now()));
}

/**
 * Runs `attempt` until it yields a client. Rejects with a `RemoteError` named
 * after `label` and the stage of the last failure.
 */
export async function connectWithRetry(
  label: string,
  attempt: () => Promise<Client>,
  policy: ReadinessPolicy,
): Promise<Client> {
  const started = performance.now();
  let firstRefusal: number | undefined;
  for (let tries = 1; ; tries++) {
    policy.signal.throwIfAborted();
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof SshAttemptError)) throw error;
      if (error.stage === 'auth') firstRefusal ??= performance.now();
      if (isFinal(error, policy, firstRefusal)) {
        throw new RemoteError(label, error.stage, error.reason, true, { cause: error });
      }
      const remaining = policy.deadline - performance.now();
      if (remaining < LAST_ATTEMPT_MS) {
        const spent = seconds(performance.now() - started);
        const reason = `${error.reason} (gave up after ${tries} attempts in ${spent})`;
        throw new RemoteError(label, error.stage, reason, false, { cause: error });
      }
      policy.onRetry?.(error.stage, new RemoteError(label, error.stage, error.reason, false));
      await sleep(
        Math.min(backoffDelay(BACKOFF, tries - 1), remaining - LAST_ATTEMPT_MS),
        policy.signal,
      );
    }
  }
}

function isFinal(
  error: SshAttemptError,
  policy: ReadinessPolicy,
  firstRefusal: number | undefined,
): boolean {
  if (error.permanent) return true;
  if (error.stage !== 'auth') return false;
  return (
    policy.proven() || performance.now() - (firstRefusal ?? performance.now()) >= policy.authGraceMs
  );
}
