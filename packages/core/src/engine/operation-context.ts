/**
 * What every per-service step of an operation shares: the store, attribute
 * resolution, drivers, machine sessions, logs and the event sink. It also
 * records transitions (commit first, then tell listeners). Each service's
 * part in the operation, with its clock and outcome, is a `ServiceRun`
 * (service-run.ts).
 */

import type { DriverRegistry } from '../driver/registry.js';
import type { ServiceFailedError } from '../errors.js';
import type { RunStore, ServiceRecord, TransitionFields } from '../state/run-store.js';
import type { GuardingState, ServiceState } from '../state/service-state.js';
import type { Attributes } from './attributes.js';
import type { CloudView } from './cloud-view.js';
import type { EventSink, OperationKind } from './events.js';
import type { MachinePool } from './machines.js';
import type { LevelBusy } from './prewarm.js';
import type { ProgramFiles } from './programs.js';
import type { ServiceLogs } from './service-log.js';

/** How one service fared in one operation. */
export interface ServiceOutcome {
  readonly service: string;
  readonly level: number;
  /**
   * `not-executed` when an earlier level failed or nothing applied;
   * `interrupted` when the operation was aborted while (or before) this
   * service ran: its state is left as it was, for `resume`.
   */
  readonly status: 'success' | 'error' | 'not-executed' | 'interrupted';
  readonly error?: ServiceFailedError;
}

/** What an {@link OperationContext} is made of. */
export interface OperationContextOptions {
  /** Which operation runs (boot, status, repair, shutdown). */
  readonly operation: OperationKind;
  /** The run's database. */
  readonly store: RunStore;
  /** Attribute resolution and redaction for every service. */
  readonly attrs: Attributes;
  readonly drivers: DriverRegistry;
  /** Sessions to the machines, shared by the services on one machine. */
  readonly machines: MachinePool;
  /** Per-service logs. */
  readonly logs: ServiceLogs;
  /** The run's stored program and bootconf files. */
  readonly files: ProgramFiles;
  readonly emit: EventSink;
  /** Aborts the operation (`CloudBoot.abort()`). */
  readonly signal?: AbortSignal;
}

/** What a launch intent records; see {@link OperationContext.moveLaunching}. */
export interface LaunchIntent {
  readonly driver: string;
  /** The launch's idempotency token. */
  readonly token: string;
  /** Sync the intent to disk at once (drivers that create machines). */
  readonly durable: boolean;
  /** Token of the instance this launch replaces, if any. */
  readonly replaces?: string;
}

/** Shared state of one running operation. */
export class OperationContext {
  /** What the clouds said about launched instances when status or repair began. */
  cloud: ReadonlyMap<string, CloudView> = new Map();
  /** The level under way, told when one of its services starts a program. */
  level: LevelBusy | undefined;
  // What these are: see OperationContextOptions.
  readonly operation: OperationKind;
  readonly store: RunStore;
  readonly attrs: Attributes;
  readonly drivers: DriverRegistry;
  readonly machines: MachinePool;
  readonly logs: ServiceLogs;
  readonly files: ProgramFiles;
  readonly emit: EventSink;
  readonly signal: AbortSignal | undefined;

  constructor(options: OperationContextOptions) {
    this.operation = options.operation;
    this.store = options.store;
    this.attrs = options.attrs;
    this.drivers = options.drivers;
    this.machines = options.machines;
    this.logs = options.logs;
    this.files = options.files;
    this.emit = options.emit;
    this.signal = options.signal;
  }

  /** The current record of a service (the run store holds them). */
  record(name: string): ServiceRecord {
    const record = this.store.service(name);
    if (record === undefined) throw new Error(`unknown service ${name}`);
    return record;
  }

  /**
   * Records a transition that guards no side effect (it joins the tick's
   * group commit), then emits it.
   */
  move(
    name: string,
    to: Exclude<ServiceState, GuardingState>,
    fields: TransitionFields = {},
  ): ServiceRecord {
    return this.#record(name, () => this.store.transition(name, to, fields), fields.detail);
  }

  /**
   * Records a transition that guards a side effect and resolves once it is
   * committed (with the other writes of the tick), so the side effect can follow.
   */
  async moveGuarding(
    name: string,
    to: Exclude<GuardingState, 'launching'>,
    fields: TransitionFields = {},
  ): Promise<ServiceRecord> {
    const record = this.#record(name, () => this.store.transition(name, to, fields), fields.detail);
    await this.store.committed();
    return record;
  }

  /**
   * Records a launch intent (synced to disk when `durable`), emits it, and
   * resolves once it is committed: the launch may follow.
   */
  async moveLaunching(name: string, intent: LaunchIntent): Promise<ServiceRecord> {
    const { driver, token, durable, replaces } = intent;
    const record = this.#record(
      name,
      () => this.store.recordLaunchIntent(name, driver, token, durable, replaces),
      token,
    );
    await this.store.committed();
    return record;
  }

  /** Commits a launched instance id, then emits it. */
  moveLaunched(name: string, token: string, instanceId: string): ServiceRecord {
    return this.#record(name, () => this.store.recordLaunched(name, token, instanceId), instanceId);
  }

  /** Runs `write` (a transition of `name` in the store), then logs and emits the move. */
  #record(name: string, write: () => ServiceRecord, detail: string | undefined): ServiceRecord {
    const previous = this.record(name).state;
    const record = write();
    this.logs.note(record.name, `${previous} -> ${record.state}${detail ? ` (${detail})` : ''}`);
    this.emit({
      type: 'service',
      action: 'transition',
      operation: this.operation,
      service: record.name,
      level: record.level,
      state: record.state,
      previous,
      ...(detail !== undefined && { detail }),
      at: Date.now(),
    });
    return record;
  }

  /** True once the operation was asked to stop. */
  get aborted(): boolean {
    return this.signal?.aborted ?? false;
  }
}
