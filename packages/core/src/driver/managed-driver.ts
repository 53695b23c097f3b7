/**
 * Lifecycle rules written once around any {@link Driver}: retries with
 * jittered backoff for throttled/transient errors, a per-account call pace
 * that slows down when the cloud throttles (up to the configured limit;
 * per API request for a driver that takes it, see {@link Driver.usePace}),
 * abort handling, and waiting until instances are running with
 * batched `describe` calls. Drivers stay thin. The wrapper is a driver
 * itself and keeps the wrapped one private, so no call can go around these
 * rules.
 */
import { abortable } from '../abort.js';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy, sleep } from '../backoff.js';
import { DRIVER_ERROR_KINDS, DriverError, type DriverErrorKind } from '../errors.js';
import { CallPace } from './call-pace.js';
import type {
  CallContext,
  Driver,
  DriverCapabilities,
  InstanceInfo,
  LaunchContext,
  LaunchSpec,
  PacedRequestOptions,
  RequestPace,
} from './driver.js';
import { RunningWaits } from './running-waits.js';

/** Calls per second of a driver that launches machines when nothing else is set. */
export const DEFAULT_CALLS_PER_SECOND = 20;

/** Tuning of a {@link ManagedDriver}. */
export interface ManagedDriverOptions {
  /**
   * Backoff and attempts of a call that fails transiently (default
   * `DEFAULT_RETRY`); a throttled call gets {@link THROTTLED_RETRY_FACTOR}
   * times as many retries.
   */
  readonly retry?: RetryPolicy;
  /**
   * Cloud calls per second allowed for this account/endpoint (default
   * {@link DEFAULT_CALLS_PER_SECOND}); calls start at least `1/callsPerSecond`
   * seconds apart, retries included, and further apart while the cloud
   * throttles them (see {@link CallPace}). A driver that takes the pace
   * ({@link Driver.usePace}) has each of its API requests spaced so instead.
   * Drivers of existing machines call no cloud and are not limited.
   */
  readonly callsPerSecond?: number;
  /**
   * Longest pause between `describe` rounds while waiting for instances to
   * run. Rounds start 100 ms apart after a new instance joins and back off
   * to this, so a quick machine is seen quickly and a slow one costs few
   * calls (see {@link RunningWaits}).
   */
  readonly pollIntervalMs?: number;
}

/**
 * A throttled answer may be retried this many times as often as a transient
 * failure: the cloud did not fail, it asked to slow down, and a launch that
 * makes several calls (a lookup, the create, a wait) meets it on any of them.
 */
export const THROTTLED_RETRY_FACTOR = 3;

/**
 * The longest wait a cloud's `Retry-After` imposes on a retry. A longer
 * answer is read as this: the retry budget, not an unbounded pause, decides
 * when to give up.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

/** How a call or request ended, for the pace. */
type RequestOutcome = 'accepted' | 'throttled' | 'transient';

/** How a call that failed with `kind` ended, for the pace: a refusal of another kind is still an answer. */
function outcomeOf(kind: DriverErrorKind): RequestOutcome {
  return kind === 'throttled' || kind === 'transient' ? kind : 'accepted';
}

/** The kinds a thrown `kind` property may name. */
const KINDS: ReadonlySet<string> = new Set(DRIVER_ERROR_KINDS);

/**
 * Normalises what a driver threw: in-house drivers may throw plain errors,
 * optionally with a `kind` property. Unknown failures are not retried.
 */
export function toDriverError(thrown: unknown, driver: string): DriverError {
  if (thrown instanceof DriverError) return thrown;
  const error = thrown instanceof Error ? thrown : new Error(String(thrown));
  const kind = (error as { kind?: unknown }).kind;
  const instanceId = (error as { instanceId?: unknown }).instanceId;
  const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return new DriverError(
    typeof kind === 'string' && KINDS.has(kind) ? (kind as DriverErrorKind) : 'invalid-request',
    driver,
    error.message,
    {
      cause: error,
      ...(typeof instanceId === 'string' && { instanceId }),
      ...(typeof retryAfterMs === 'number' && retryAfterMs >= 0 && { retryAfterMs }),
    },
  );
}

/** Cloud calls a managed driver made, for telling a user the cloud throttled them. */
export interface CallCount {
  /** Calls made, every attempt counted. */
  readonly calls: number;
  /** Calls the cloud answered "slow down". */
  readonly throttled: number;
  /** The account's configured rate (`api_calls_per_second`); 0 for drivers of existing machines. */
  readonly limitPerSecond: number;
}

/**
 * A driver wrapped with retries, rate limiting, abort handling and waiting.
 * Every call of the {@link Driver} interface goes through the same rules;
 * the wrapped driver is not reachable from outside.
 */
export class ManagedDriver implements Driver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  /**
   * Instances carrying all the given tags, with retries (present only when
   * the wrapped driver can search by tags).
   */
  readonly findByTags?: (
    tags: Readonly<Record<string, string>>,
    context?: CallContext,
  ) => Promise<InstanceInfo[]>;
  readonly #driver: Driver;
  readonly #retry: RetryPolicy;
  /** Absent for drivers of existing machines, which call no cloud. */
  readonly #pace: CallPace | undefined;
  /** True when the driver sends each API request through the pace itself ({@link Driver.usePace}). */
  readonly #pacesRequests: boolean;
  #calls = 0;
  #throttledCalls = 0;
  readonly #running: RunningWaits;

  constructor(driver: Driver, options: ManagedDriverOptions = {}) {
    this.#driver = driver;
    this.name = driver.name;
    this.capabilities = Object.freeze({
      launchesMachines: driver.capabilities.launchesMachines === true,
      findsByTags: driver.capabilities.findsByTags === true && driver.findByTags !== undefined,
    });
    const find = driver.findByTags;
    if (this.capabilities.findsByTags && find !== undefined) {
      this.findByTags = (tags, context) =>
        this.#call(() => find.call(driver, tags, context), context?.signal);
    }
    this.#retry = options.retry ?? DEFAULT_RETRY;
    const rate = driver.capabilities.launchesMachines
      ? (options.callsPerSecond ?? DEFAULT_CALLS_PER_SECOND)
      : 0;
    this.#pace = rate > 0 ? new CallPace(rate) : undefined;
    this.#pacesRequests = this.#pace !== undefined && typeof driver.usePace === 'function';
    if (this.#pacesRequests) {
      driver.usePace?.({ request: (send, options) => this.#request(send, options) });
    }
    this.#running = new RunningWaits(
      this.name,
      (ids) => this.describe(ids),
      options.pollIntervalMs ?? (driver.capabilities.launchesMachines ? 1000 : 0),
    );
  }

  /**
   * Runs `call`, retrying retryable failures with jittered backoff, or
   * after the cloud's `Retry-After` when that is longer (up to
   * {@link MAX_RETRY_AFTER_MS}): a transient one `attempts - 1` times, a
   * throttled one {@link THROTTLED_RETRY_FACTOR} times as often, each
   * counted apart. Unless the driver paces its own requests, each attempt
   * waits for its turn and tells the pace how the cloud answered:
   * throttled, or accepted (a refusal of another kind included); a
   * transient failure says nothing about the pace.
   */
  async #call<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const retries = this.#retry.attempts - 1;
    let transient = 0;
    let throttled = 0;
    // A driver that paces its own requests has each of them paced and counted instead.
    const paced = !this.#pacesRequests;
    for (;;) {
      const ticket = paced ? await this.#pace?.turn(signal) : undefined;
      if (paced) this.#calls += 1;
      try {
        // Safe to stop waiting: a launch is idempotent per token and its intent is recorded.
        const result = await abortable(call(), signal);
        if (paced) this.#answered(ticket, 'accepted');
        return result;
      } catch (thrown) {
        if (signal?.aborted) throw signal.reason;
        const error = toDriverError(thrown, this.name);
        if (paced) this.#answered(ticket, outcomeOf(error.kind));
        if (!error.retryable) throw error;
        if (error.kind === 'throttled') {
          // A driver that paces its requests had the throttled request itself retried.
          if (!paced || throttled >= retries * THROTTLED_RETRY_FACTOR) throw error;
          throttled++;
        } else {
          if (transient >= retries) throw error;
          transient++;
        }
        await sleep(this.#delay(error.retryAfterMs, transient + throttled - 1), signal);
      }
    }
  }

  /**
   * {@link RequestPace.request} for a driver that paces its own requests: a
   * request the cloud throttled is sent again in its turn, after the
   * backoff or the cloud's `Retry-After`, up to the throttled retry budget,
   * rather than the whole call with the requests it had made already.
   */
  async #request<T>(send: () => Promise<T>, options: PacedRequestOptions): Promise<T> {
    const budget = (this.#retry.attempts - 1) * THROTTLED_RETRY_FACTOR;
    for (let retry = 0; ; retry++) {
      const ticket = await this.#pace?.turn(options.signal);
      this.#calls += 1;
      try {
        const result = await send();
        this.#answered(ticket, 'accepted');
        return result;
      } catch (error) {
        const kind = options.kindOf(error);
        this.#answered(ticket, outcomeOf(kind));
        if (kind !== 'throttled' || retry >= budget || options.signal?.aborted) throw error;
        const asked = (error as { retryAfterMs?: unknown }).retryAfterMs;
        await sleep(
          this.#delay(typeof asked === 'number' ? asked : undefined, retry),
          options.signal,
        );
      }
    }
  }

  /** The pause before retry number `retry` (from 0): the backoff, or the cloud's `Retry-After` when longer. */
  #delay(retryAfterMs: number | undefined, retry: number): number {
    const asked = Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
    return Math.max(asked, backoffDelay(this.#retry, retry));
  }

  /** Calls made so far and how many the cloud throttled. */
  get callCount(): CallCount {
    return {
      calls: this.#calls,
      throttled: this.#throttledCalls,
      limitPerSecond: this.#pace?.limitPerSecond ?? 0,
    };
  }

  /** Counts how the call with `ticket` ended and tells the pace; a transient failure says nothing about it. */
  #answered(ticket: number | undefined, outcome: RequestOutcome): void {
    if (outcome === 'throttled') this.#throttledCalls += 1;
    if (this.#pace === undefined || ticket === undefined || outcome === 'transient') return;
    if (outcome === 'throttled') this.#pace.throttled(ticket);
    else this.#pace.accepted(ticket);
  }

  /**
   * Launches with retries; the same token is reused so a retry never
   * creates a second instance. A retry is never a first call: the call
   * before it may have reached the cloud.
   */
  launch(spec: LaunchSpec, context: LaunchContext): Promise<{ instanceId: string }> {
    let calls = 0;
    return this.#call(
      () => this.#driver.launch(spec, calls++ === 0 ? context : { ...context, firstCall: false }),
      context.signal,
    );
  }

  /** Describes with retries. */
  describe(instanceIds: readonly string[], context?: CallContext): Promise<InstanceInfo[]> {
    if (instanceIds.length === 0) return Promise.resolve([]);
    return this.#call(() => this.#driver.describe(instanceIds, context), context?.signal);
  }

  /** Terminates with retries (safe to repeat). */
  terminate(instanceIds: readonly string[], context?: CallContext): Promise<void> {
    if (instanceIds.length === 0) return Promise.resolve();
    return this.#call(() => this.#driver.terminate(instanceIds, context), context?.signal);
  }

  /** Checks credentials and endpoint, with retries. */
  validate(context?: CallContext): Promise<void> {
    return this.#call(() => this.#driver.validate(context), context?.signal);
  }

  /**
   * Resolves when the instance is `running` and has an address. Waiters of one
   * driver share one `describe` call per round.
   * @throws DriverError `not-found` when it ends up terminated, stopped or vanished; `transient` at the deadline.
   */
  waitUntilRunning(
    instanceId: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<InstanceInfo> {
    return this.#running.wait(instanceId, timeoutMs, signal);
  }
}
