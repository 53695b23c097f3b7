/**
 * One service of a run (the seed's `CloudService`): inspect its state and
 * attributes, restart it, or shut it down alone.
 */

import type { ServiceEvent } from '../engine/events.js';
import { UsageError } from '../errors.js';
import type { ServiceFailure } from '../state/run-store.js';
import type { ServiceState } from '../state/service-state.js';
import type { CloudBoot } from './cloud-boot.js';

/** A service of a {@link CloudBoot} run. Obtain it from `getServices()`. */
export class CloudService {
  readonly #boot: CloudBoot;
  /** The operation's event log this service last polled, and how far. */
  #polled: readonly unknown[] | undefined;
  #cursor = 0;
  /** Unique service name (`web-0` for replicas). */
  readonly name: string;
  /** 1-based level. */
  readonly level: number;

  /** @internal Only CloudBoot creates these. */
  constructor(boot: CloudBoot, name: string, level: number) {
    this.#boot = boot;
    this.name = name;
    this.level = level;
  }

  /** Current state. */
  get state(): ServiceState {
    return this.#boot.record(this.name).state;
  }

  /** Hostname or address of its machine, once known. */
  get hostname(): string | null {
    return this.#boot.record(this.name).hostname;
  }

  /** Instance id, once launched (`static:<host>` for existing machines). */
  get instanceId(): string | null {
    return this.#boot.record(this.name).instanceId;
  }

  /** Why it failed, when `state` is `failed`. */
  get failure(): ServiceFailure | null {
    return this.#boot.record(this.name).failure;
  }

  /** One attribute from the service's bag (plan keys, deps, published, built-ins). */
  getAttrFromBag(name: string): string | undefined {
    return this.#boot.attributes().attr(this.name, name);
  }

  /** Every attribute of the service. */
  attributes(): Record<string, string> {
    return this.#boot.attributes().bag(this.name);
  }

  /**
   * Restarts the service (re-contextualizes it if it failed), or just runs its
   * ready program if it is up. Asynchronous: use `poll()` or the run's `wait()`.
   */
  start(): void {
    this.#boot.begin('boot', { only: new Set([this.name]) });
  }

  /** Shuts this service down alone (terminate program unless `dashNine`, then its VM). */
  shutdown(options: { dashNine?: boolean } = {}): void {
    this.#boot.begin('shutdown', {
      dashNine: options.dashNine ?? false,
      only: new Set([this.name]),
    });
  }

  /**
   * Delivers this service's events since the last call; true when the
   * operation is complete.
   * @throws UsageError before start/shutdown; ServiceFailedError when this service failed.
   */
  poll(callbacks: { onService?: (event: ServiceEvent) => void } = {}): boolean {
    const op = this.#boot.currentOperation;
    if (op === undefined) throw new UsageError('poll() was called before start() or shutdown()');
    if (this.#polled !== op.log) {
      this.#polled = op.log;
      this.#cursor = 0;
    }
    for (const event of op.log.slice(this.#cursor)) {
      if (event.type === 'service' && event.service === this.name) callbacks.onService?.(event);
    }
    this.#cursor = op.log.length;
    if (op.error !== undefined) throw op.error;
    if (op.result === undefined) return false;
    const failure = op.result.failures.find((f) => f.service === this.name);
    if (failure !== undefined) throw failure;
    return true;
  }
}
