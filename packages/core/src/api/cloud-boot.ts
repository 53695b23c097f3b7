/**
 * The library API (the `CloudBoot` of cloudinit.d's Python API, in
 * TypeScript): load a plan into a new run or reopen one by name, run its
 * operations (each returns the promise of its result), inspect services and
 * records. The seed's start/poll style is a thin layer over the same
 * operations. Each operation holds the run's lock while it runs.
 */
import type { Attributes } from '../engine/attributes.js';
import { askClouds } from '../engine/cloud-view.js';
import type { OperationResult } from '../engine/engine.js';
import type { CloudBootEvent, EventSink } from '../engine/events.js';
import { CloudbootError, UsageError } from '../errors.js';
import { loadPlan } from '../plan/loader.js';
import type { Plan } from '../plan/model.js';
import type { InstanceRecord, ServiceRecord, TransitionRecord } from '../state/run-store.js';
import { CloudService, type ServiceChannel } from './cloud-service.js';
import { describeRun, type RunDescription } from './describe-run.js';
import { EventHub } from './event-queue.js';
import { type InstanceStatus, instanceHistory, killInstances } from './instances.js';
import { OpenRun } from './open-run.js';
import { OperationSlot } from './operation-slot.js';
import { type ReloadOptions, reloadPlan } from './plan-reload.js';
import { declaredCredentialKeys } from './preflight.js';
import {
  type CloudBootOptions,
  envOf,
  globalsOptionsOf,
  logDirOf,
  registryOf,
} from './run-options.js';
import { LogCursor, type PollCallbacks, pollRun, pollUntilComplete } from './seed-polling.js';

/**
 * Plans {@link CloudBoot.create} loaded, keyed by the options it hands to
 * the constructor, which then stores that plan instead of reading the
 * files again (so the plan checked is the plan stored).
 */
const loadedPlans = new WeakMap<CloudBootOptions, Plan>();

/**
 * One run of a boot plan.
 *
 * @example
 * const boot = new CloudBoot({ dbDir, planFile: 'plan/top.conf' });
 * const result = await boot.run();
 * if (!result.ok) console.error(result.failures.map((f) => f.message).join('\n'));
 * await boot.shutdown();
 * boot.close();
 */
export class CloudBoot {
  /** The run's name (the database is `<dbDir>/cloudboot-<name>.db`). */
  readonly name: string;
  readonly #run: OpenRun;
  readonly #hub = new EventHub();
  readonly #operations: OperationSlot;
  /** How far `poll()` has delivered the current operation's events. */
  readonly #pollCursor = new LogCursor();
  readonly #channel: ServiceChannel;

  /**
   * Loads a new plan into a new run (with `planFile`) or reopens the run
   * `runName`. Launches nothing; reopening takes no lock.
   * @throws PlanError when the plan is invalid (nothing is created);
   *   RunNotFoundError / RunExistsError; UsageError for bad options.
   */
  constructor(options: CloudBootOptions) {
    this.#run = new OpenRun(options, loadedPlans.get(options));
    this.name = this.#run.name;
    this.#operations = new OperationSlot(this.#run, this.#hub);
    this.#channel = {
      record: (name) => this.record(name),
      attributes: () => this.attributes(),
      operations: this.#operations,
    };
  }

  /**
   * Like the constructor, but first imports the driver modules a new plan
   * names, so that the credential keys they declare (`export const
   * credentialKeys`) are redacted before the plan is stored. Use it when the
   * plan may name in-house driver modules.
   * @throws PlanError; RunNotFoundError / RunExistsError; UsageError
   */
  static async create(options: CloudBootOptions): Promise<CloudBoot> {
    if (options.planFile === undefined) return new CloudBoot(options);
    const plan = loadPlan(
      options.planFile,
      globalsOptionsOf(options.globals, options.globalsFiles),
    );
    const declared = await declaredCredentialKeys(plan, envOf(options), registryOf(options));
    const withKeys: CloudBootOptions = {
      ...options,
      credentialKeys: [...(options.credentialKeys ?? []), ...declared],
    };
    loadedPlans.set(withKeys, plan);
    try {
      return new CloudBoot(withKeys);
    } finally {
      // Not kept for the run's life: it may hold credentials the run redacted.
      loadedPlans.delete(withKeys);
    }
  }

  /** Absolute path of the run's database file. */
  get databaseFile(): string {
    return this.#run.store.file;
  }

  /** The run's log directory. */
  get logDir(): string {
    return logDirOf(this.#run.options, this.name);
  }

  /** The plan stored with the run. */
  get plan(): Plan {
    return this.#run.plan;
  }

  /**
   * Effective globals: those loaded with the plan (`[globals]` < `-G` < `-g`)
   * < those given to later commands on this run (stored, latest wins).
   * `env.NAME` values are resolved now and never stored resolved.
   */
  globals(): Record<string, string> {
    return this.#run.globals();
  }

  /** Attribute resolution over the current records. */
  attributes(): Attributes {
    return this.#run.attributes();
  }

  /** Subscribes to every event of every operation; returns the unsubscribe function. */
  on(listener: EventSink): () => void {
    return this.#hub.on(listener);
  }

  /**
   * Events of the current operation from its first, as an async iterator
   * (ends with the operation). They are equal to the events `on()`
   * listeners receive, not the same objects: the operation keeps its
   * events in a compact form and rebuilds them when read (so does `poll()`).
   */
  events(): AsyncIterable<CloudBootEvent> {
    const op = this.#operations.require('events()');
    return this.#hub.iterate(op.log, op.done);
  }

  /**
   * Boots: launches what was never launched, contextualizes what was never
   * contextualized, runs every ready program. Does not restart failed
   * services. Resolves with the result set: it does not reject for a failed
   * service (see `result.ok`, `result.failures`), only when the operation
   * cannot run: UsageError when one is running, RunLockedError when another
   * process holds the run, or a driver that cannot be loaded.
   */
  run(): Promise<OperationResult> {
    return this.#operations.operate('boot', {});
  }

  /**
   * Re-runs every ready program and records the verdicts (the CLI's
   * `status`). Resolves with the result set, like `run()`.
   */
  checkStatus(): Promise<OperationResult> {
    return this.#operations.operate('status', {});
  }

  /**
   * Re-checks every service and restarts (re-contextualizes) the ones that
   * fail. Resolves with the result set, like `run()`.
   */
  repair(): Promise<OperationResult> {
    return this.#operations.operate('repair', {});
  }

  /**
   * Terminates services in reverse level order: terminate programs (skipped
   * with `dashNine`), working directories removed, VMs cloudboot launched
   * terminated. Resolves with the result set, like `run()`.
   */
  shutdown(options: { dashNine?: boolean } = {}): Promise<OperationResult> {
    return this.#operations.operate('shutdown', { dashNine: options.dashNine ?? false });
  }

  /**
   * Stops the current operation: running programs are killed, services that
   * have not started are not started, and every service keeps the state it
   * had reached, so `run()` (the CLI's `resume`) continues from there. The
   * operation's result has `interrupted: true`. Does nothing when idle.
   */
  abort(): void {
    this.#operations.abort();
  }

  /**
   * The seed's `start()`: begins the boot of `run()` and returns at once;
   * follow it with `poll()`, `blockUntilComplete()` or `wait()`.
   * @throws UsageError when an operation is running; RunLockedError.
   */
  start(): void {
    this.#operations.begin('boot', {});
  }

  /** Resolves with the current (or last) operation's result. @throws UsageError before any. */
  wait(): Promise<OperationResult> {
    return this.#operations.require('wait()').done;
  }

  /**
   * Delivers events since the last call to the callbacks. Returns false while
   * the operation runs, true when it completed successfully.
   * @throws UsageError before any operation; InterruptedError when it was
   *   interrupted; BootFailedError when a service failed.
   */
  poll(callbacks: PollCallbacks = {}): boolean {
    return pollRun(this.#operations.require('poll()'), this.#pollCursor, callbacks, this.name);
  }

  /** Polls until the operation completes (event-driven; `pollPeriodMs` caps callback latency). */
  blockUntilComplete(callbacks: PollCallbacks & { pollPeriodMs?: number } = {}): Promise<void> {
    const op = this.#operations.require('blockUntilComplete()');
    return pollUntilComplete(op, () => this.poll(callbacks), callbacks.pollPeriodMs ?? 100);
  }

  /** Ordered levels, each a list of services. */
  getServices(): CloudService[][] {
    return this.#run.plan.levels.map((level) =>
      level.services.map((s) => new CloudService(this.#channel, s.name, level.level)),
    );
  }

  /** Per level, the services that failed (an empty list where none did). */
  errorStatus(): CloudService[][] {
    return this.getServices().map((level) => level.filter((s) => s.state === 'failed'));
  }

  /** The record of one service (current state, instance, failure …). @throws UsageError for an unknown name. */
  record(name: string): ServiceRecord {
    const record = this.#run.store.service(name);
    if (record === undefined)
      throw new UsageError(`the run ${this.name} has no service named "${name}"`);
    return record;
  }

  /** Every service's record, by level and position in the plan. */
  services(): ServiceRecord[] {
    return this.#run.store.services();
  }

  /** The recorded state transitions, oldest first (optionally of one service). */
  transitions(service?: string): TransitionRecord[] {
    return this.#run.store.transitions(service);
  }

  /** Every instance launched for the run, as recorded (`history()` also asks the clouds). */
  instances(): InstanceRecord[] {
    return this.#run.store.instances();
  }

  /**
   * JSON description of every service, its attributes (secrets redacted)
   * and what the cloud says about its instance now: one batched `describe`
   * per driver account for all launched services (the CLI's `-o`).
   */
  async describe(): Promise<RunDescription> {
    const attrs = this.attributes();
    const records = this.services();
    const cloud = await askClouds(records, attrs, registryOf(this.#run.options));
    return describeRun(this.name, this.plan, attrs, (n) => this.record(n), cloud);
  }

  /**
   * Loads an edited plan into this run. Services new in the plan start
   * `pending`; services that left the plan must be shut down first.
   * @throws PlanError; UsageError when a removed service is still up or an
   *   operation is running; RunLockedError.
   */
  reload(planFile: string, options: ReloadOptions = {}): void {
    if (this.#operations.busy) throw new UsageError('cannot reload while an operation is running');
    reloadPlan(this.#run, planFile, options);
  }

  /** Every instance ever launched for the run, with its cloud state now (the CLI's `history`). */
  history(): Promise<InstanceStatus[]> {
    return instanceHistory(this.#run.store, this.attributes(), registryOf(this.#run.options));
  }

  /**
   * Terminates orphans: instances of this run that are no service's current
   * machine but still exist in their cloud (`clean`); with `all`, every
   * instance still alive (`history --kill`). Resolves with what was terminated.
   */
  async killInstances(options: { all?: boolean } = {}): Promise<InstanceStatus[]> {
    const store = this.#run.store;
    store.lock(options.all ? 'history --kill' : 'clean');
    try {
      const drivers = registryOf(this.#run.options);
      return await killInstances(store, this.attributes(), drivers, { all: options.all ?? false });
    } finally {
      store.unlock();
    }
  }

  /** Closes the database. Call when done with the object. */
  close(): void {
    this.#run.store.close();
  }
}

/** True for errors cloudboot raises on purpose (shown without a stack trace). */
export function isCloudbootError(error: unknown): error is CloudbootError {
  return error instanceof CloudbootError;
}
