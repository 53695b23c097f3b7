/**
 * Durable record of one run: one SQLite file `<dbDir>/cloudboot-<run>.db`
 * (mode 0600, WAL), behind one class, {@link RunStore}, composed of a module
 * per concern:
 * - `run-database.ts`: making, opening and checking the file, the migrations,
 *   the errors naming a file that is not usable;
 * - `group-commit.ts`: the one transaction that writes join, committed
 *   shortly after its first write (`GROUP_COMMIT_MS`), or at the end of the
 *   tick when a write guards a side effect;
 * - `service-table.ts`: the services' rows and their records in memory, the
 *   moves between states (checked against `service-transitions.ts`) and
 *   their log;
 * - `instance-history.ts`, `process-table.ts`, `stored-inputs.ts`,
 *   `host-keys.ts`, `run-lock.ts`: the other tables;
 * - `records.ts`: the records all of them return.
 *
 * A write that guards a side effect (a launch, a program start, a
 * termination) is committed before that side effect: the caller awaits
 * {@link RunStore.committed} (which shares the commit with every other write
 * of the tick), or the method commits itself (launch intents, the run's
 * lock). Writes that guard nothing may be lost by a crash within the tick;
 * they are redone or repaired by `resume`.
 */
import { randomUUID } from 'node:crypto';
import type { Plan } from '../plan/model.js';
import { GroupCommit } from './group-commit.js';
import { HostKeys } from './host-keys.js';
import { InstanceHistory } from './instance-history.js';
import { ProcessTable } from './process-table.js';
import type {
  InstanceRecord,
  ProcessRecord,
  ServiceRecord,
  TransitionFields,
  TransitionRecord,
} from './records.js';
import { RunDatabase } from './run-database.js';
import { RunLock } from './run-lock.js';
import type { ServiceState } from './service-state.js';
import { ServiceTable, storePlan } from './service-table.js';
import { StoredInputs } from './stored-inputs.js';

export type {
  InstanceRecord,
  ProcessRecord,
  ServiceFailure,
  ServiceRecord,
  TransitionFields,
  TransitionRecord,
} from './records.js';
export { listRunNames, runDatabasePath } from './run-database.js';

/** The SQLite state of one run. */
export class RunStore {
  readonly #db: RunDatabase;
  readonly #group: GroupCommit;
  readonly #services: ServiceTable;
  readonly #history: InstanceHistory;
  readonly #processes: ProcessTable;
  readonly #inputs: StoredInputs;
  readonly #hostKeys: HostKeys;
  readonly #lock: RunLock;
  /** The run's name. */
  readonly runName: string;
  /** Absolute path of the database file. */
  readonly file: string;
  #machineMark: string | undefined;

  private constructor(db: RunDatabase, runName: string) {
    // Identifies this handle as a lock holder (several handles may live in one process).
    const owner = randomUUID();
    this.#db = db;
    this.#group = new GroupCommit(db);
    this.#services = new ServiceTable(db, this.#group);
    this.#history = new InstanceHistory(db, this.#group);
    this.#processes = new ProcessTable(db, this.#group, owner, () => this.machineMark());
    this.#inputs = new StoredInputs(db, this.#group);
    this.#hostKeys = new HostKeys(db, this.#group);
    this.#lock = new RunLock(db, this.#group, runName, owner);
    this.runName = runName;
    this.file = db.file;
  }

  /** Commits what the group transaction holds, now. */
  commit(): void {
    this.#group.commit();
  }

  /**
   * Resolves once every write made so far is committed: at the end of this
   * tick, together with the writes of every other service made meanwhile. Await it between a
   * write that guards a side effect and the side effect.
   */
  committed(): Promise<void> {
    return this.#group.committed();
  }

  /** How many transactions this handle has committed (group commits, for measurement). */
  get commits(): number {
    return this.#group.commits;
  }

  /**
   * Creates the database of a new run with its plan and services, all
   * `pending`. The file appears complete or not at all: it is written under
   * a temporary name and linked into place, so another process never opens
   * a half-made run, and two creators of one name cannot both succeed.
   * @throws RunExistsError when a run of that name exists.
   */
  static create(dbDir: string, runName: string, plan: Plan): RunStore {
    RunDatabase.create(dbDir, runName, (db, now) => storePlan(db, plan, now));
    return RunStore.open(dbDir, runName);
  }

  /**
   * Opens an existing run, after checking that its file is a whole cloudboot
   * run database.
   * @throws RunNotFoundError when there is no such run.
   * @throws RunDatabaseError naming the file when it is corrupt, truncated or
   *   not a run database, or naming `dbDir` when that is not a directory.
   */
  static open(dbDir: string, runName: string): RunStore {
    return new RunStore(RunDatabase.open(dbDir, runName), runName);
  }

  /** The plan stored with the run. */
  plan(): Plan {
    return JSON.parse(this.#db.meta('plan') ?? 'null') as Plan;
  }

  /** When the run was created (ms since epoch). */
  createdAt(): number {
    return Number(this.#db.meta('created_at') ?? 0);
  }

  /**
   * Replaces the stored plan (reload). Services that are new start `pending`;
   * services that are gone from the plan are returned so the caller can shut them down first.
   */
  replacePlan(plan: Plan): void {
    this.#group.write(() => {
      this.#services.reload();
      storePlan(this.#db, plan, Date.now());
    });
    this.commit();
  }

  /**
   * Replaces the stored plan (same services) and overwrites what the old
   * one left in the database file: used when a value of the old plan turns
   * out to be a credential, which must not stay readable in free pages or
   * the write-ahead log.
   */
  replacePlanScrubbed(plan: Plan): void {
    this.commit();
    this.#db.connection.pragma('secure_delete = ON');
    try {
      this.replacePlan(plan);
      this.#db.connection.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.#db.connection.pragma('secure_delete = OFF');
    }
  }

  /** Removes services no longer in the plan (after they were shut down). */
  forgetServices(names: readonly string[]): void {
    this.#services.forget(names);
  }

  /**
   * Every service's current record, in plan order. This handle keeps them in
   * memory and writes them through, so reading costs no query; call
   * {@link reloadServices} when another handle or process may have written.
   */
  services(): ServiceRecord[] {
    return this.#services.all();
  }

  /** One service's current record (see {@link services}). */
  service(name: string): ServiceRecord | undefined {
    return this.#services.get(name);
  }

  /** Forgets the records held in memory: the next read takes them from the database. */
  reloadServices(): void {
    this.#services.reload();
  }

  /**
   * Moves a service to `to`, setting the given fields, and logs the transition,
   * in the group transaction: committed at the end of the tick, or earlier by
   * {@link commit}. A transition that guards a side effect awaits
   * {@link committed} before it.
   * @throws IllegalTransitionError when the table of legal transitions
   *   (`TRANSITIONS`) does not allow the move, or the move lacks a field the
   *   table says it records; nothing is written.
   */
  transition(name: string, to: ServiceState, fields: TransitionFields = {}): ServiceRecord {
    return this.#services.transition(name, to, fields);
  }

  /**
   * Records the intent to launch (state `launching` with `token`) and the
   * instance history row before the cloud is called. With `durable` (drivers
   * that create machines: a lost record would be a leaked VM) it is committed
   * here, fully synced to disk, not only safe against a crash of this
   * process; otherwise it joins the group (the caller awaits {@link committed}).
   * `replaces` is the token of the instance this launch replaces (repair).
   */
  recordLaunchIntent(
    name: string,
    driver: string,
    token: string,
    durable: boolean,
    replaces?: string,
  ): ServiceRecord {
    // One commit: the history row and the state that explains it.
    const intent = () =>
      this.#group.write(() => {
        this.#history.recordIntent(token, name, driver, replaces ?? null);
        return this.transition(name, 'launching', { driver, launchToken: token, detail: token });
      });
    if (!durable) return intent();
    this.commit();
    this.#db.connection.pragma('synchronous = FULL');
    try {
      const record = intent();
      this.commit();
      return record;
    } finally {
      this.#db.connection.pragma('synchronous = NORMAL');
    }
  }

  /** Records the instance id the cloud returned for a launch token, and moves the service to `launched`. */
  recordLaunched(name: string, token: string, instanceId: string): ServiceRecord {
    return this.#group.write(() => {
      this.#history.recordInstanceId(token, instanceId);
      return this.transition(name, 'launched', { instanceId, detail: instanceId });
    });
  }

  /**
   * Forgets a launch the driver refused (it created nothing): its history row
   * goes, and the service keeps no token, so terminate has nothing to find.
   */
  forgetLaunch(token: string): void {
    this.#history.forget(token);
  }

  /** Fills in the instance id of a launch whose answer was lost, in the history only. */
  recordInstanceId(token: string, instanceId: string): void {
    this.#history.recordInstanceId(token, instanceId);
  }

  /**
   * Marks the instances launched with `tokens` as terminated in the history.
   * By token, not by instance id: services on one existing machine share its
   * id, and releasing one of them must not end the others' rows.
   */
  recordTerminated(tokens: readonly string[]): void {
    this.#history.recordTerminated(tokens);
  }

  /** Every instance ever launched for the run, oldest first. */
  instances(): InstanceRecord[] {
    return this.#history.all();
  }

  /** The transition log, oldest first (optionally of one service). */
  transitions(service?: string): TransitionRecord[] {
    return this.#services.log(service);
  }

  /**
   * The random id that, with the run's name, marks the working directories
   * this run makes on machines (made and committed on first use).
   */
  machineMark(): string {
    this.#machineMark ??= this.#group.write(() => {
      this.#db
        .sql("INSERT INTO meta (key, value) VALUES ('machine_mark', ?) ON CONFLICT(key) DO NOTHING")
        .run(randomUUID().replaceAll('-', ''));
      return this.#db.meta('machine_mark') ?? '';
    });
    return this.#machineMark;
  }

  /**
   * Records that a program is about to start on `host`: the token it will
   * carry in its environment (`CLOUDBOOT_PROGRAM`). Returns the row's id, for
   * {@link setProcessGroup} and {@link endProcesses}. The record guards the
   * start: await {@link committed} before starting the program.
   */
  recordProcess(service: string, host: string, program: string): { id: number; token: string } {
    return this.#processes.record(service, host, program);
  }

  /** Records the process group a started program runs in. */
  setProcessGroup(id: number, pgid: number): void {
    this.#processes.setGroup(id, pgid);
  }

  /** Forgets programs that ended (or were stopped). */
  endProcesses(ids: readonly number[]): void {
    this.#processes.end(ids);
  }

  /**
   * Programs of `service` started by another handle of this run that never
   * recorded their end: left running by a cloudboot that died (this handle
   * holds the run's lock, so no live one is using them).
   */
  leftoverProcesses(service: string): ProcessRecord[] {
    return this.#processes.leftovers(service);
  }

  /**
   * Stores local files the run needs later (programs, bootconf templates),
   * by path, each content once (by its SHA-256). A path stored before is
   * pointed at its new content.
   */
  storeInputs(files: Iterable<readonly [path: string, data: Buffer]>): void {
    this.#inputs.store(files);
  }

  /** The stored copy of a local file the run uses, if it has one. */
  input(path: string): Buffer | undefined {
    return this.#inputs.get(path);
  }

  /** Globals given on the command line, stored so later commands need not repeat them. */
  storedGlobals(): Record<string, string> {
    return JSON.parse(this.#db.meta('cli_globals') ?? '{}') as Record<string, string>;
  }

  /** Stores command-line globals (merged over earlier ones). */
  storeGlobals(globals: Readonly<Record<string, string>>): void {
    this.#group.write(() =>
      this.#db.setMeta('cli_globals', JSON.stringify({ ...this.storedGlobals(), ...globals })),
    );
  }

  /** The pinned SSH host key of `host:port`, if any. */
  hostKey(host: string, port: number): string | undefined {
    return this.#hostKeys.get(host, port);
  }

  /** Forgets the pinned host keys of `host` (its machine was terminated; the address may be reused). */
  unpinHostKeys(host: string): void {
    this.#hostKeys.unpin(host);
  }

  /** Pins the SSH host key of `host:port` for this run. */
  pinHostKey(host: string, port: number, key: string): void {
    this.#hostKeys.pin(host, port, key);
  }

  /**
   * Takes the run's lock for `operation`. A lock held by a process that is
   * gone (same machine) is taken over.
   * @throws RunLockedError when a live process holds it.
   */
  lock(operation: string): void {
    this.#lock.lock(operation);
  }

  /** Releases the lock if this handle holds it. */
  unlock(): void {
    this.#lock.unlock();
  }

  /** Commits what is pending, then closes the database. */
  close(): void {
    this.#group.commit();
    this.#db.close();
  }
}
