/**
 * One service of a run (the seed's `CloudService`): inspect its state and
 * attributes, restart it, or shut it down alone.
 */

import type { Attributes } from '../engine/attributes.js';
import type { OperationResult } from '../engine/engine.js';
import type { ServiceEvent } from '../engine/events.js';
import type { ServiceFailure, ServiceRecord } from '../state/run-store.js';
import type { ServiceState } from '../state/service-state.js';
import type { OperationSlot } from './operation-slot.js';
import { LogCursor, pollService } from './seed-polling.js';

/** What a {@link CloudService} reads and runs through; only `CloudBoot` makes one. */
export interface ServiceChannel {
  /** The current record of a service. */
  readonly record: (name: string) => ServiceRecord;
  /** Attribute resolution over the run's current records. */
  readonly attributes: () => Attributes;
  /** The run's operations. */
  readonly operations: OperationSlot;
}

/** A service of a `CloudBoot` run. Obtain it from `getServices()`. */
export class CloudService {
  readonly #run: ServiceChannel;
  readonly #cursor = new LogCursor();
  /** Unique service name (`web-0` for replicas). */
  readonly name: string;
  /** 1-based level. */
  readonly level: number;

  /** Made by `CloudBoot.getServices()`, which alone has a channel to give. */
  constructor(run: ServiceChannel, name: string, level: number) {
    this.#run = run;
    this.name = name;
    this.level = level;
  }

  /** Current state. */
  get state(): ServiceState {
    return this.#run.record(this.name).state;
  }

  /** Hostname or address of its machine, once known. */
  get hostname(): string | null {
    return this.#run.record(this.name).hostname;
  }

  /** Instance id, once launched (`static:<host>` for existing machines). */
  get instanceId(): string | null {
    return this.#run.record(this.name).instanceId;
  }

  /** Why it failed, when `state` is `failed`. */
  get failure(): ServiceFailure | null {
    return this.#run.record(this.name).failure;
  }

  /** One attribute from the service's bag (plan keys, deps, published, built-ins). */
  getAttrFromBag(name: string): string | undefined {
    return this.#run.attributes().attr(this.name, name);
  }

  /** Every attribute of the service. */
  attributes(): Record<string, string> {
    return this.#run.attributes().bag(this.name);
  }

  /**
   * Restarts the service (re-contextualizes it if it failed), or just runs its
   * ready program if it is up. Resolves with the operation's result (it does
   * not reject for a failed service); `poll()` follows it too.
   * Rejects with UsageError when an operation is running, RunLockedError when another process holds the run.
   */
  start(): Promise<OperationResult> {
    return this.#run.operations.operate('boot', { only: new Set([this.name]) });
  }

  /**
   * Shuts this service down alone (terminate program unless `dashNine`, then
   * its VM). Resolves with the operation's result, like `start()`.
   */
  shutdown(options: { dashNine?: boolean } = {}): Promise<OperationResult> {
    return this.#run.operations.operate('shutdown', {
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
    const op = this.#run.operations.require('poll()');
    return pollService(op, this.#cursor, this.name, callbacks);
  }
}
