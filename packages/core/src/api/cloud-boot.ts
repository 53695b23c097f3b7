/**
 * The library API (the `CloudBoot` of cloudinit.d's Python API, in TypeScript): load a plan into a new
 * run or reopen one by name, start/poll/block or `await run()`, shut down,
 * and inspect services. Each operation holds the run's lock while it runs.
 */
import { setMaxListeners } from 'node:events';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DriverFactory } from '../driver/driver.js';
import type { ManagedDriverOptions } from '../driver/managed-driver.js';
import { DriverRegistry, type ModuleImporter } from '../driver/registry.js';
import { Attributes, resolveEnv } from '../engine/attributes.js';
import { askClouds } from '../engine/cloud-view.js';
import { type OperationResult, runOperation } from '../engine/engine.js';
import type {
  CloudBootEvent,
  EventSink,
  LevelEvent,
  OperationKind,
  ServiceEvent,
} from '../engine/events.js';
import { MachinePool } from '../engine/machines.js';
import { OperationContext } from '../engine/operation-context.js';
import { ProgramFiles, storePlanInputs } from '../engine/programs.js';
import { ServiceLogs } from '../engine/service-log.js';
import { BootFailedError, CloudbootError, InterruptedError, UsageError } from '../errors.js';
import { loadGlobals, loadPlan } from '../plan/loader.js';
import type { Plan } from '../plan/model.js';
import { withCredentialKeys } from '../plan/secrets.js';
import { RunStore, type ServiceRecord } from '../state/run-store.js';
import { CloudService } from './cloud-service.js';
import { describeRun, type RunDescription } from './describe-run.js';
import { EventHub } from './event-queue.js';
import { type InstanceStatus, instanceHistory, killInstances } from './instances.js';
import { declaredCredentialKeys, preflight } from './preflight.js';
import { checkRunName, newRunName } from './run-name.js';

/** Default directory of run databases. */
export const DEFAULT_DB_DIR = join(homedir(), '.cloudboot');

/** Options of {@link CloudBoot}. */
export interface CloudBootOptions {
  /** Directory of run databases (`cloudboot-<run>.db`); default `~/.cloudboot`. */
  readonly dbDir?: string;
  /** Top file of a new plan. Without it, `runName` names an existing run to reopen. */
  readonly planFile?: string;
  /** Name of the run: chosen for a new run (default: generated), required to reopen one. */
  readonly runName?: string;
  /** `-g KEY=VALUE` globals; on a reopened run they override earlier ones and are stored with the run. */
  readonly globals?: Readonly<Record<string, string>>;
  /** `-G FILE` globals files, lowest rank first; on a reopened run, like `globals`. */
  readonly globalsFiles?: readonly string[];
  /** Where per-service logs go (`<logDir>/<run>/<service>.log`); default `<dbDir>/logs`. */
  readonly logDir?: string;
  /** Services started at once within a level; default 128. */
  readonly concurrency?: number;
  /** Driver factories by name, used instead of importing driver packages. */
  readonly drivers?: Readonly<Record<string, DriverFactory>>;
  /** Imports driver packages and in-house driver modules (see `DriverRegistryOptions`). */
  readonly importModule?: ModuleImporter;
  /** Environment for `env.NAME` values; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** SSH connection limits. */
  readonly ssh?: { readonly maxHandshakes?: number; readonly maxHandshakesPerHost?: number };
  /** Retry, rate-limit and polling settings for drivers (a plan's `api_*` keys win per account). */
  readonly driverPolicy?: ManagedDriverOptions;
  /**
   * Plan keys that hold credentials beyond the built-in ones (`SECRET_KEYS`),
   * e.g. those of an in-house driver given in `drivers`. {@link CloudBoot.create}
   * adds the keys the plan's driver modules declare.
   */
  readonly credentialKeys?: readonly string[];
}

/** Callbacks of `poll()` / `blockUntilComplete()`, as in the seed API. */
export interface PollCallbacks {
  /** Called when a level starts, completes or fails. */
  readonly onLevel?: (event: LevelEvent) => void;
  /** Called when a service starts, changes state, completes or fails. */
  readonly onService?: (event: ServiceEvent) => void;
}

interface ActiveOperation {
  readonly kind: OperationKind;
  readonly controller: AbortController;
  readonly done: Promise<OperationResult>;
  /** Every event of the operation so far, in order (pollers and iterators keep their own place). */
  readonly log: CloudBootEvent[];
  result?: OperationResult;
  error?: unknown;
}

/**
 * One run of a boot plan.
 *
 * @example
 * const boot = new CloudBoot({ dbDir, planFile: 'plan/top.conf' });
 * const result = await boot.run();
 * if (!result.ok) console.error(result.failures.map((f) => f.message).join('\n'));
 * await boot.shutdown().then(() => boot.close());
 */
export class CloudBoot {
  /** The run's name (the database is `<dbDir>/cloudboot-<name>.db`). */
  readonly name: string;
  readonly #options: CloudBootOptions;
  readonly #dbDir: string;
  readonly #store: RunStore;
  #plan: Plan;
  readonly #hub = new EventHub();
  readonly #records = new Map<string, ServiceRecord>();
  #operation: ActiveOperation | undefined;
  /** How far `poll()` has delivered the current operation's events. */
  #pollCursor = 0;

  /**
   * Loads a new plan into a new run (with `planFile`) or reopens the run
   * `runName`. Launches nothing.
   * @throws PlanError when the plan is invalid (nothing is created);
   *   RunNotFoundError / RunExistsError; UsageError for bad options.
   */
  constructor(options: CloudBootOptions) {
    this.#options = options;
    this.#dbDir = resolve(options.dbDir ?? DEFAULT_DB_DIR);
    if (options.planFile !== undefined) {
      const plan = loadPlan(options.planFile, {
        ...(options.globals !== undefined && { globals: options.globals }),
        ...(options.globalsFiles !== undefined && { globalsFiles: options.globalsFiles }),
      });
      this.name = checkRunName(options.runName ?? newRunName(plan.topFile));
      const redacted = withCredentialKeys(plan, options.credentialKeys ?? []);
      this.#store = RunStore.create(this.#dbDir, this.name, redacted);
      storePlanInputs(this.#store, redacted);
      this.#plan = redacted;
    } else {
      if (options.runName === undefined) {
        throw new UsageError('give either a plan file (new run) or the name of an existing run');
      }
      this.name = checkRunName(options.runName);
      this.#store = RunStore.open(this.#dbDir, this.name);
      this.#plan = this.#store.plan();
      this.#adoptCredentialKeys(options.credentialKeys ?? []);
      if (options.globals !== undefined || options.globalsFiles !== undefined) {
        this.#store.storeGlobals(
          loadGlobals({
            ...(options.globals !== undefined && { globals: options.globals }),
            ...(options.globalsFiles !== undefined && { globalsFiles: options.globalsFiles }),
          }),
        );
      }
    }
    for (const record of this.#store.services()) this.#records.set(record.name, record);
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
    const plan = loadPlan(options.planFile, {
      ...(options.globals !== undefined && { globals: options.globals }),
      ...(options.globalsFiles !== undefined && { globalsFiles: options.globalsFiles }),
    });
    const declared = await declaredCredentialKeys(
      plan,
      options.env ?? process.env,
      registryOf(options),
    );
    return new CloudBoot({
      ...options,
      credentialKeys: [...(options.credentialKeys ?? []), ...declared],
    });
  }

  /** Absolute path of the run's database file. */
  get databaseFile(): string {
    return this.#store.file;
  }

  /** The run's log directory. */
  get logDir(): string {
    return join(resolve(this.#options.logDir ?? join(this.#dbDir, 'logs')), this.name);
  }

  /** The plan stored with the run. */
  get plan(): Plan {
    return this.#plan;
  }

  /**
   * Effective globals: those loaded with the plan (`[globals]` < `-G` < `-g`)
   * < those given to later commands on this run (stored, latest wins).
   * `env.NAME` values are resolved now and never stored resolved.
   */
  globals(): Record<string, string> {
    const env = this.#options.env ?? process.env;
    const raw = {
      ...Object.fromEntries(Object.entries(this.#plan.globals).map(([name, v]) => [name, v.value])),
      ...this.#store.storedGlobals(),
    };
    const globals: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw)) {
      const resolved = resolveEnv(value, env);
      if (resolved !== undefined) globals[name] = resolved;
    }
    return globals;
  }

  /** Attribute resolution over the current records. */
  attributes(): Attributes {
    return new Attributes({
      runName: this.name,
      plan: this.#plan,
      globals: this.globals(),
      env: this.#options.env ?? process.env,
      facts: (service) => this.#records.get(service),
    });
  }

  /** Subscribes to every event of every operation; returns the unsubscribe function. */
  on(listener: EventSink): () => void {
    return this.#hub.on(listener);
  }

  /** Events of the current operation, as an async iterator (ends with the operation). */
  events(): AsyncIterable<CloudBootEvent> {
    const op = this.#requireOperation('events()');
    return this.#hub.iterate(op.log, op.done);
  }

  /**
   * Begins (or continues) the boot: launches what was never launched,
   * contextualizes what was never contextualized, runs every ready program.
   * Does not restart failed services. Asynchronous: use `poll()`,
   * `blockUntilComplete()` or `wait()`.
   */
  start(): void {
    this.#begin('boot', {});
  }

  /** Re-runs every ready program and records the verdicts (the CLI's `status`). */
  checkStatus(): void {
    this.#begin('status', {});
  }

  /** Re-checks every service and restarts (re-contextualizes) the ones that fail. */
  repair(): void {
    this.#begin('repair', {});
  }

  /**
   * Terminates services in reverse level order: terminate programs (skipped
   * with `dashNine`), working directories removed, VMs cloudboot launched terminated.
   * Asynchronous, like `start()`.
   */
  shutdown(options: { dashNine?: boolean } = {}): Promise<OperationResult> {
    this.#begin('shutdown', { dashNine: options.dashNine ?? false });
    return this.wait();
  }

  /**
   * Stops the current operation: running programs are killed, services that
   * have not started are not started, and every service keeps the state it
   * had reached, so `start()` (the CLI's `resume`) continues from there. The
   * operation's result has `interrupted: true`. Does nothing when idle.
   */
  abort(): void {
    this.#operation?.controller.abort(new InterruptedError('the operation was interrupted'));
  }

  /** Starts the boot and resolves with its result set (does not throw for service failures). */
  run(): Promise<OperationResult> {
    this.start();
    return this.wait();
  }

  /** Resolves with the current operation's result. */
  wait(): Promise<OperationResult> {
    return this.#requireOperation('wait()').done;
  }

  /**
   * Delivers events since the last call to the callbacks. Returns false while
   * the operation runs, true when it completed successfully.
   * @throws UsageError before `start()`; BootFailedError when a service failed; InterruptedError after `abort()`.
   */
  poll(callbacks: PollCallbacks = {}): boolean {
    const op = this.#requireOperation('poll()');
    for (const event of op.log.slice(this.#pollCursor)) {
      if (event.type === 'level') callbacks.onLevel?.(event);
      else if (event.type === 'service') callbacks.onService?.(event);
    }
    this.#pollCursor = op.log.length;
    if (op.error !== undefined) throw op.error;
    if (op.result === undefined) return false;
    if (op.result.failures.length > 0) throw new BootFailedError(op.result.failures);
    if (op.result.interrupted)
      throw new InterruptedError(`the ${op.kind} of run ${this.name} was interrupted`);
    return true;
  }

  /** Polls until the operation completes (event-driven; `pollPeriodMs` caps callback latency). */
  async blockUntilComplete(
    callbacks: PollCallbacks & { pollPeriodMs?: number } = {},
  ): Promise<void> {
    const op = this.#requireOperation('blockUntilComplete()');
    const period = callbacks.pollPeriodMs ?? 100;
    while (!this.poll(callbacks)) {
      await Promise.race([
        op.done.catch(() => undefined),
        new Promise((r) => setTimeout(r, period)),
      ]);
    }
  }

  /** Ordered levels, each a list of services. */
  getServices(): CloudService[][] {
    return this.#plan.levels.map((level) =>
      level.services.map((s) => new CloudService(this, s.name, level.level)),
    );
  }

  /** Per level, the services that failed (an empty list where none did). */
  errorStatus(): CloudService[][] {
    return this.getServices().map((level) => level.filter((s) => s.state === 'failed'));
  }

  /** The record of one service (current state, instance, failure …). */
  record(name: string): ServiceRecord {
    const record = this.#records.get(name);
    if (record === undefined)
      throw new UsageError(`the run ${this.name} has no service named "${name}"`);
    return record;
  }

  /**
   * JSON description of every service, its attributes (secrets redacted)
   * and what the cloud says about its instance now: one batched `describe`
   * per driver account for all launched services (the CLI's `-o`).
   */
  async describe(): Promise<RunDescription> {
    const attrs = this.attributes();
    const cloud = await askClouds([...this.#records.values()], attrs, this.#drivers());
    return describeRun(this.name, this.#plan, attrs, (n) => this.record(n), cloud);
  }

  /** The underlying run database (for history, transitions …). */
  get store(): RunStore {
    return this.#store;
  }

  /**
   * Loads an edited plan into this run. Services new in the plan start
   * `pending`; services that left the plan must be shut down first.
   * @throws PlanError; UsageError when a removed service is still up.
   */
  reload(
    planFile: string,
    options: { globalsFiles?: readonly string[]; credentialKeys?: readonly string[] } = {},
  ): void {
    if (this.#operation !== undefined && this.#operation.result === undefined) {
      throw new UsageError('cannot reload while an operation is running');
    }
    const plan = withCredentialKeys(
      loadPlan(planFile, {
        ...(this.#options.globals !== undefined && { globals: this.#options.globals }),
        ...(options.globalsFiles !== undefined && { globalsFiles: options.globalsFiles }),
      }),
      [
        ...(this.#plan.credentialKeys ?? []),
        ...(this.#options.credentialKeys ?? []),
        ...(options.credentialKeys ?? []),
      ],
    );
    const names = new Set(plan.levels.flatMap((l) => l.services.map((s) => s.name)));
    const removed = [...this.#records.values()].filter((r) => !names.has(r.name));
    const alive = removed.filter((r) => r.state !== 'terminated' && r.state !== 'pending');
    if (alive.length > 0) {
      throw new UsageError(
        `services ${alive.map((r) => r.name).join(', ')} are not in the new plan but are still up; terminate them first`,
      );
    }
    this.#store.lock('reload');
    try {
      this.#store.forgetServices(removed.map((r) => r.name));
      this.#store.replacePlan(plan);
      storePlanInputs(this.#store, plan);
    } finally {
      this.#store.unlock();
    }
    this.#plan = plan;
    this.#records.clear();
    for (const record of this.#store.services()) this.#records.set(record.name, record);
  }

  /** Every instance ever launched for the run, with its cloud state now (the CLI's `history`). */
  history(): Promise<InstanceStatus[]> {
    return instanceHistory(this.#store, this.attributes(), this.#drivers());
  }

  /**
   * Terminates orphans: instances of this run that are no service's current
   * machine but still exist in their cloud (`clean`); with `all`, every
   * instance still alive (`history --kill`). Returns what was terminated.
   */
  async killInstances(options: { all?: boolean } = {}): Promise<InstanceStatus[]> {
    this.#store.lock(options.all ? 'history --kill' : 'clean');
    try {
      return await killInstances(this.#store, this.attributes(), this.#drivers(), {
        all: options.all ?? false,
      });
    } finally {
      this.#store.unlock();
    }
  }

  /** Closes the database. Call when done with the object. */
  close(): void {
    this.#store.close();
  }

  /** @internal Starts an operation limited to some services (CloudService). */
  begin(kind: OperationKind, options: { dashNine?: boolean; only?: ReadonlySet<string> }): void {
    this.#begin(kind, options);
  }

  /** @internal The current operation, for CloudService.poll. */
  get currentOperation(): ActiveOperation | undefined {
    return this.#operation;
  }

  #drivers(): DriverRegistry {
    return registryOf(this.#options);
  }

  /**
   * Treats more keys as credentials from now on. A literal value of such a
   * key that is already stored is redacted, and the database file is
   * scrubbed of the old plan (the keys' owner was loaded only now).
   */
  #adoptCredentialKeys(keys: readonly string[]): void {
    const plan = withCredentialKeys(this.#plan, keys);
    if (plan === this.#plan) return;
    this.#store.replacePlanScrubbed(plan);
    this.#plan = plan;
  }

  #requireOperation(what: string): ActiveOperation {
    if (this.#operation === undefined) {
      throw new UsageError(`${what} was called before start() or shutdown()`);
    }
    return this.#operation;
  }

  #begin(kind: OperationKind, options: { dashNine?: boolean; only?: ReadonlySet<string> }): void {
    if (
      this.#operation !== undefined &&
      this.#operation.result === undefined &&
      this.#operation.error === undefined
    ) {
      throw new UsageError(
        `an operation (${this.#operation.kind}) is already running on run ${this.name}`,
      );
    }
    this.#store.lock(kind);
    const log: CloudBootEvent[] = [];
    const unsubscribe = this.#hub.on((event) => log.push(event));
    this.#pollCursor = 0;
    const controller = new AbortController();
    // Every running program and connection attempt listens for the abort.
    setMaxListeners(0, controller.signal);
    const done = this.#execute(kind, options, controller.signal).finally(() => {
      unsubscribe();
      this.#store.unlock();
    });
    const op: ActiveOperation = { kind, controller, done, log };
    done.then(
      (result) => {
        op.result = result;
      },
      (error: unknown) => {
        op.error = error;
      },
    );
    this.#operation = op;
  }

  async #execute(
    kind: OperationKind,
    options: { dashNine?: boolean; only?: ReadonlySet<string> },
    signal: AbortSignal,
  ): Promise<OperationResult> {
    const drivers = this.#drivers();
    if (kind === 'boot' || kind === 'repair') {
      this.#adoptCredentialKeys(
        await preflight(this.#plan, this.#options.env ?? process.env, drivers),
      );
    }
    const attrs = this.attributes();
    const machines = new MachinePool({
      hostKeys: {
        get: (host, port) => this.#store.hostKey(host, port),
        pin: (host, port, key) => this.#store.pinHostKey(host, port, key),
      },
      ...this.#options.ssh,
    });
    const logs = new ServiceLogs(this.logDir);
    const ctx = new OperationContext(
      kind,
      this.#store,
      attrs,
      drivers,
      machines,
      logs,
      new ProgramFiles(this.#store),
      this.#records,
      (event) => this.#hub.emit(event),
      signal,
    );
    try {
      return await runOperation(ctx, this.#plan, {
        concurrency: this.#options.concurrency ?? 128,
        ...(options.dashNine !== undefined && { dashNine: options.dashNine }),
        ...(options.only !== undefined && { only: options.only }),
      });
    } finally {
      // What the operation recorded is committed before it reports its end.
      this.#store.commit();
      await machines.close();
      await logs.close();
    }
  }
}

/** The driver registry a run's options describe. */
function registryOf(options: CloudBootOptions): DriverRegistry {
  return new DriverRegistry({
    ...(options.drivers !== undefined && { factories: options.drivers }),
    ...(options.importModule !== undefined && { importModule: options.importModule }),
    ...(options.driverPolicy !== undefined && { managed: options.driverPolicy }),
  });
}

/** True for errors cloudboot raises on purpose (shown without a stack trace). */
export function isCloudbootError(error: unknown): error is CloudbootError {
  return error instanceof CloudbootError;
}
