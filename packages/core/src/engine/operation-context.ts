/**
 * What every per-service step of an operation shares: the store, attribute
 * resolution, drivers, machine sessions, logs and the event sink. It also
 * records transitions (commit first, then tell listeners).
 */

import type { DriverRegistry } from '../driver/registry.js';
import { ServiceFailedError, type ServicePhase } from '../errors.js';
import type { RunStore, ServiceRecord, TransitionFields } from '../state/run-store.js';
import type { GuardingState, ServiceState } from '../state/service-state.js';
import type { Attributes } from './attributes.js';
import type { CloudView } from './cloud-view.js';
import type { EventSink, OperationKind } from './events.js';
import type { MachinePool } from './machines.js';
import type { ProgramFiles } from './programs.js';
import type { ServiceLogs } from './service-log.js';

/** The phase a service in `state` is in, for errors that do not say. */
function phaseOf(state: ServiceState): ServicePhase {
  switch (state) {
    case 'pending':
      return 'resolve';
    case 'launching':
      return 'launch';
    case 'launched':
      return 'address';
    case 'addressed':
      return 'connect';
    case 'reachable':
    case 'contextualizing':
      return 'contextualize';
    case 'terminating':
      return 'terminate';
    default:
      return 'ready';
  }
}

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

/** Shared state of one running operation. */
export class OperationContext {
  /** What the clouds said about launched instances when status or repair began. */
  cloud: ReadonlyMap<string, CloudView> = new Map();

  constructor(
    readonly operation: OperationKind,
    readonly store: RunStore,
    readonly attrs: Attributes,
    readonly drivers: DriverRegistry,
    readonly machines: MachinePool,
    readonly logs: ServiceLogs,
    readonly files: ProgramFiles,
    /** Current records by service name, kept in step with the database. */
    readonly records: Map<string, ServiceRecord>,
    readonly emit: EventSink,
    readonly signal?: AbortSignal,
  ) {}

  /** The current record of a service. */
  record(name: string): ServiceRecord {
    const record = this.records.get(name);
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
    return this.#emitTransition(this.store.transition(name, to, fields), fields.detail);
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
    const record = this.#emitTransition(this.store.transition(name, to, fields), fields.detail);
    await this.store.committed();
    return record;
  }

  /**
   * Records a launch intent (synced to disk when `durable`; `replaces`: the
   * token of the instance it replaces), emits it, and resolves once it is
   * committed: the launch may follow.
   */
  async moveLaunching(
    name: string,
    driver: string,
    token: string,
    durable: boolean,
    replaces?: string,
  ): Promise<ServiceRecord> {
    const record = this.#emitTransition(
      this.store.recordLaunchIntent(name, driver, token, durable, replaces),
      token,
    );
    await this.store.committed();
    return record;
  }

  /** Commits a launched instance id, then emits it. */
  moveLaunched(name: string, token: string, instanceId: string): ServiceRecord {
    return this.#emitTransition(this.store.recordLaunched(name, token, instanceId), instanceId);
  }

  #emitTransition(record: ServiceRecord, detail: string | undefined): ServiceRecord {
    const previous = this.records.get(record.name)?.state;
    this.records.set(record.name, record);
    this.logs.note(
      record.name,
      `${previous ?? '?'} -> ${record.state}${detail ? ` (${detail})` : ''}`,
    );
    this.emit({
      type: 'service',
      action: 'transition',
      operation: this.operation,
      service: record.name,
      level: record.level,
      state: record.state,
      ...(previous !== undefined && { previous }),
      ...(detail !== undefined && { detail }),
      at: Date.now(),
    });
    return record;
  }

  /** Records a failure (state `failed`), emits it, and returns the outcome. */
  fail(
    name: string,
    phase: ServicePhase,
    message: string,
    tails: { stdoutTail?: string; stderrTail?: string } = {},
    startedAt = performance.now(),
    fields: TransitionFields = {},
  ): ServiceOutcome {
    // Failures are stored and shown: no credential may ride along in them.
    const said = this.attrs.redact(name, message);
    const stdoutTail = this.attrs.redact(name, tails.stdoutTail ?? '');
    const stderrTail = this.attrs.redact(name, tails.stderrTail ?? '');
    const record = this.move(name, 'failed', {
      ...fields,
      failure: { phase, message: said, stdoutTail, stderrTail },
      detail: `${phase}: ${said}`,
    });
    const error = new ServiceFailedError(name, phase, said, stderrTail, stdoutTail);
    this.emit({
      type: 'service',
      action: 'error',
      operation: this.operation,
      service: name,
      level: record.level,
      state: 'failed',
      at: Date.now(),
      elapsedMs: performance.now() - startedAt,
      error: { phase, message: said, stderrTail, stdoutTail },
    });
    return { service: name, level: record.level, status: 'error', error };
  }

  /** Emits the start of a service's part in this operation. */
  starting(name: string): void {
    const record = this.record(name);
    this.emit({
      type: 'service',
      action: 'starting',
      operation: this.operation,
      service: name,
      level: record.level,
      state: record.state,
      at: Date.now(),
    });
  }

  /**
   * Runs one service's part of the operation and turns anything it throws
   * into that service's failure (in the phase its state says it was in), or
   * into `interrupted` after an abort: one service's unexpected error must
   * not end the operation while the others still run.
   */
  async guard(name: string, step: () => Promise<ServiceOutcome>): Promise<ServiceOutcome> {
    const started = performance.now();
    try {
      return await step();
    } catch (error) {
      if (this.aborted) return this.interrupted(name);
      const message = error instanceof Error ? error.message : String(error);
      return this.fail(name, phaseOf(this.record(name).state), message, {}, started);
    }
  }

  /** True once the operation was asked to stop. */
  get aborted(): boolean {
    return this.signal?.aborted ?? false;
  }

  /** The outcome of a service the operation was interrupted in; its state stays as recorded. */
  interrupted(name: string): ServiceOutcome {
    const record = this.record(name);
    this.logs.note(name, `interrupted in state ${record.state}`);
    return { service: name, level: record.level, status: 'interrupted' };
  }

  /** Emits success and returns the outcome. */
  complete(name: string, startedAt: number): ServiceOutcome {
    const record = this.record(name);
    this.emit({
      type: 'service',
      action: 'complete',
      operation: this.operation,
      service: name,
      level: record.level,
      state: record.state,
      at: Date.now(),
      elapsedMs: performance.now() - startedAt,
    });
    return { service: name, level: record.level, status: 'success' };
  }
}
