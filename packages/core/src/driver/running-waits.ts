/**
 * Waiting until instances run: every instance waited for, by any service,
 * is asked about in one `describe` round, rounds {@link FIRST_POLL_MS} apart
 * after a new instance joins, backing off to the driver's poll interval, so
 * a quick machine is seen quickly and a slow one costs few calls.
 */
import { onAbort } from '../abort.js';
import { sleep } from '../backoff.js';
import { DriverError } from '../errors.js';
import type { InstanceInfo } from './driver.js';

/** Pause before the second round after a new instance starts being waited for. */
const FIRST_POLL_MS = 100;

interface Waiter {
  readonly instanceId: string;
  readonly deadline: number;
  readonly resolve: (info: InstanceInfo) => void;
  readonly reject: (error: Error) => void;
}

/** A newly launched instance may be unknown to `describe` for a moment (eventual consistency). */
const VANISHED_ROUNDS_TOLERATED = 5;

/** The instances one driver account waits for, and its polling rounds. */
export class RunningWaits {
  readonly #name: string;
  readonly #describe: (ids: readonly string[]) => Promise<InstanceInfo[]>;
  readonly #pollIntervalMs: number;
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #vanishedRounds = new Map<string, number>();
  #polling = false;
  #nextPause = 0;

  /**
   * `name`: the driver's, for messages; `describe`: the managed driver's
   * (with its retries and pace); `pollIntervalMs`: the longest pause
   * between rounds.
   */
  constructor(
    name: string,
    describe: (ids: readonly string[]) => Promise<InstanceInfo[]>,
    pollIntervalMs: number,
  ) {
    this.#name = name;
    this.#describe = describe;
    this.#pollIntervalMs = pollIntervalMs;
  }

  /**
   * Resolves when the instance is `running` and has an address.
   * @throws DriverError `not-found` when it ends up terminated, stopped or vanished; `transient` at the deadline.
   */
  wait(instanceId: string, timeoutMs: number, signal?: AbortSignal): Promise<InstanceInfo> {
    return new Promise((resolve, reject) => {
      const stopWaiting = () => {
        const list = this.#waiters.get(instanceId)?.filter((w) => w !== waiter) ?? [];
        if (list.length > 0) this.#waiters.set(instanceId, list);
        else this.#waiters.delete(instanceId);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        instanceId,
        deadline: performance.now() + timeoutMs,
        resolve: (info) => {
          cancelAbort?.();
          resolve(info);
        },
        reject: (error) => {
          cancelAbort?.();
          reject(error);
        },
      };
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const cancelAbort = signal && onAbort(signal, stopWaiting);
      const list = this.#waiters.get(instanceId) ?? [];
      list.push(waiter);
      this.#waiters.set(instanceId, list);
      this.#nextPause = Math.min(FIRST_POLL_MS, this.#pollIntervalMs);
      if (!this.#polling) {
        this.#polling = true;
        // Let every service of the level register before the first round.
        setImmediate(() => void this.#pollLoop());
      }
    });
  }

  async #pollLoop(): Promise<void> {
    try {
      while (this.#waiters.size > 0) {
        await this.#pollRound();
        if (this.#waiters.size === 0) break;
        const pause = Math.max(this.#nextPause, 1);
        this.#nextPause = Math.min(this.#nextPause * 2, this.#pollIntervalMs);
        await sleep(pause);
      }
    } finally {
      this.#polling = false;
    }
  }

  async #pollRound(): Promise<void> {
    const ids = [...this.#waiters.keys()];
    let infos: InstanceInfo[];
    try {
      infos = await this.#describe(ids);
    } catch (error) {
      for (const id of ids) this.#settle(id, undefined, error as Error);
      return;
    }
    const now = performance.now();
    const answered = new Map(infos.map((info) => [info.instanceId, info]));
    for (const id of ids) {
      // A driver that leaves an id out of its answer does not know it.
      this.#consider(
        answered.get(id) ?? { instanceId: id, state: 'vanished', nativeState: 'not described' },
        now,
      );
    }
  }

  #consider(info: InstanceInfo, now: number): void {
    const waiters = this.#waiters.get(info.instanceId);
    if (waiters === undefined) return;
    const name = this.#name;
    // Only unknown rounds in a row count: a flaky answer in between starts over.
    if (info.state !== 'vanished') this.#vanishedRounds.delete(info.instanceId);
    if (info.state === 'running' && info.address !== undefined) {
      this.#settle(info.instanceId, info);
    } else if (
      info.state === 'vanished' &&
      this.#countVanished(info.instanceId) <= VANISHED_ROUNDS_TOLERATED
    ) {
      // Give the cloud a moment to know its new instance.
    } else if (
      info.state === 'terminated' ||
      info.state === 'stopped' ||
      info.state === 'vanished'
    ) {
      this.#settle(
        info.instanceId,
        undefined,
        new DriverError(
          'not-found',
          name,
          `instance ${info.instanceId} is ${info.state} (${info.nativeState}) instead of running`,
        ),
      );
    } else {
      this.#expire(info, waiters, now);
    }
  }

  /** Gives up on the waiters whose own deadline has come; the others keep waiting. */
  #expire(info: InstanceInfo, waiters: readonly Waiter[], now: number): void {
    const expired = waiters.filter((w) => w.deadline <= now);
    if (expired.length === 0) return;
    const rest = waiters.filter((w) => w.deadline > now);
    if (rest.length > 0) {
      this.#waiters.set(info.instanceId, rest);
    } else {
      this.#waiters.delete(info.instanceId);
      this.#vanishedRounds.delete(info.instanceId);
    }
    const error = new DriverError(
      'transient',
      this.#name,
      `instance ${info.instanceId} is still ${info.nativeState}; gave up waiting for it to run`,
    );
    for (const w of expired) w.reject(error);
  }

  /** Rounds in a row that `describe` did not know the instance, this one included. */
  #countVanished(instanceId: string): number {
    const rounds = (this.#vanishedRounds.get(instanceId) ?? 0) + 1;
    this.#vanishedRounds.set(instanceId, rounds);
    return rounds;
  }

  #settle(instanceId: string, info: InstanceInfo | undefined, error?: Error): void {
    this.#vanishedRounds.delete(instanceId);
    const waiters = this.#waiters.get(instanceId) ?? [];
    this.#waiters.delete(instanceId);
    for (const w of waiters) {
      if (info !== undefined) w.resolve(info);
      else w.reject(error ?? new Error(`instance ${instanceId}: no answer`));
    }
  }
}
