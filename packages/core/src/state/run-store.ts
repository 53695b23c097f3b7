/**
 * Durable record of one run: one SQLite file `<dbDir>/cloudboot-<run>.db`
 * (mode 0600, WAL).
 *
 * Group commit: writes join one open transaction, committed at most
 * {@link GROUP_COMMIT_MS} after its first write (at the end of the tick when a
 * write that guards a side effect awaits it; by {@link RunStore.commit},
 * {@link RunStore.close} and at process exit), not once per write. A write that guards a side effect
 * (a launch, a program start, a termination) is committed before that side
 * effect: the caller awaits {@link RunStore.committed} (which shares the
 * commit with every other write of the tick), or the method commits itself
 * (launch intents, the run's lock). Writes that guard nothing may be lost by a
 * crash within the tick; they are redone or repaired by `resume`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { hostname as machineName } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  RunDatabaseError,
  RunExistsError,
  RunLockedError,
  RunNotFoundError,
  type ServicePhase,
} from '../errors.js';
import type { Plan } from '../plan/model.js';
import { processAlive } from '../process-alive.js';
import { ADDED_COLUMNS, LATER_TABLES, SCHEMA, SCHEMA_VERSION } from './schema.js';
import type { ServiceState } from './service-state.js';
import { checkTransition } from './service-transitions.js';

/** What the database knows about one service. */
export interface ServiceRecord {
  readonly name: string;
  readonly level: number;
  readonly state: ServiceState;
  /** Driver that owns the instance (`static-ip`, `ec2` …). */
  readonly driver: string | null;
  /** Idempotency token of the launch in progress or done. */
  readonly launchToken: string | null;
  readonly instanceId: string | null;
  readonly hostname: string | null;
  /** True once the boot program succeeded (and its attributes are stored). */
  readonly contextualized: boolean;
  /** Attributes the boot program published through `bootout.json`. */
  readonly published: Readonly<Record<string, string>>;
  /** Attributes of the machine, from the cloud once it was addressed (`public_ip` …). */
  readonly machineAttributes: Readonly<Record<string, string>>;
  readonly failure: ServiceFailure | null;
  /** Milliseconds since the epoch of the last transition. */
  readonly updatedAt: number;
}

/** Why a service is in state `failed`. */
export interface ServiceFailure {
  readonly phase: ServicePhase;
  readonly message: string;
  readonly stdoutTail: string;
  readonly stderrTail: string;
}

/** Fields a transition may set besides the state. */
export interface TransitionFields {
  driver?: string;
  launchToken?: string | null;
  instanceId?: string | null;
  hostname?: string | null;
  contextualized?: boolean;
  published?: Readonly<Record<string, string>>;
  machineAttributes?: Readonly<Record<string, string>>;
  failure?: ServiceFailure | null;
  /** Free text for the transition log. */
  detail?: string;
}

/** One row of the transition log. */
export interface TransitionRecord {
  readonly service: string;
  readonly from: ServiceState;
  readonly to: ServiceState;
  readonly at: number;
  readonly detail: string | null;
}

/** A program recorded as started and not (yet) recorded as ended. */
export interface ProcessRecord {
  readonly id: number;
  /** Where it runs: `local` or `user@host:port`. */
  readonly host: string;
  /** The value of `CLOUDBOOT_PROGRAM` in its environment. */
  readonly token: string;
  /** Plan key of the program (`bootpgm` …). */
  readonly program: string;
  /** Its process group, once known. */
  readonly pgid: number | null;
}

/** Every instance ever launched (or attempted) for the run. */
export interface InstanceRecord {
  readonly token: string;
  readonly service: string;
  readonly driver: string;
  /** Null when the launch was interrupted before the cloud answered. */
  readonly instanceId: string | null;
  readonly launchedAt: number;
  readonly terminatedAt: number | null;
  /** Token of the instance this one replaced (`repair` of a VM that was gone), if any. */
  readonly replaces: string | null;
  /** Token of the instance that replaced this one, if any. */
  readonly replacedBy: string | null;
}

const FILE_PREFIX = 'cloudboot-';
const FILE_SUFFIX = '.db';

/** Path of a run's database file. */
export function runDatabasePath(dbDir: string, runName: string): string {
  return join(dbDir, `${FILE_PREFIX}${runName}${FILE_SUFFIX}`);
}

/** The error for a `dbDir` that exists but is not a directory (or lies under a file). */
function notADirectory(dbDir: string): RunDatabaseError {
  return new RunDatabaseError(
    dbDir,
    `${dbDir} is not a directory; expected the directory that holds run databases`,
  );
}

/** Throws {@link notADirectory} when `dbDir` exists as something else than a directory. */
function requireDirectory(dbDir: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dbDir).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw notADirectory(dbDir);
    throw error;
  }
  if (!isDirectory) throw notADirectory(dbDir);
}

/**
 * A {@link RunDatabaseError} naming `file` for what SQLite says of a file
 * that is not a usable run database, or undefined for other errors (a lock
 * held too long, say), which are not about the file.
 */
function unusableDatabase(file: string, error: unknown): RunDatabaseError | undefined {
  if (!(error instanceof Database.SqliteError)) return undefined;
  const why = error.message;
  if (error.code === 'SQLITE_NOTADB' || error.code.startsWith('SQLITE_CORRUPT')) {
    return new RunDatabaseError(
      file,
      `run database ${file} cannot be read (${why}); it is corrupt, truncated or not an SQLite database: restore it or remove it`,
      { cause: error },
    );
  }
  if (/^no such (table|column)/.test(why)) {
    return new RunDatabaseError(
      file,
      `${file} is not a cloudboot run database (${why}); expected a file made by cloudboot`,
      { cause: error },
    );
  }
  if (error.code.startsWith('SQLITE_CANTOPEN')) {
    return new RunDatabaseError(file, `run database ${file} cannot be opened (${why})`, {
      cause: error,
    });
  }
  return undefined;
}

/** Names of the runs stored in `dbDir`, sorted. */
export function listRunNames(dbDir: string): string[] {
  requireDirectory(dbDir);
  if (!existsSync(dbDir)) return [];
  return readdirSync(dbDir)
    .filter((f) => f.startsWith(FILE_PREFIX) && f.endsWith(FILE_SUFFIX))
    .map((f) => f.slice(FILE_PREFIX.length, -FILE_SUFFIX.length))
    .sort();
}

interface ServiceRow {
  name: string;
  level: number;
  state: ServiceState;
  driver: string | null;
  launch_token: string | null;
  instance_id: string | null;
  hostname: string | null;
  contextualized: number;
  published: string;
  machine_attributes: string;
  failed_phase: ServicePhase | null;
  failure: string | null;
  stdout_tail: string | null;
  stderr_tail: string | null;
  updated_at: number;
}

function toRecord(row: ServiceRow): ServiceRecord {
  return {
    name: row.name,
    level: row.level,
    state: row.state,
    driver: row.driver,
    launchToken: row.launch_token,
    instanceId: row.instance_id,
    hostname: row.hostname,
    contextualized: row.contextualized === 1,
    published: JSON.parse(row.published) as Record<string, string>,
    machineAttributes: JSON.parse(row.machine_attributes) as Record<string, string>,
    failure:
      row.failed_phase === null
        ? null
        : {
            phase: row.failed_phase,
            message: row.failure ?? '',
            stdoutTail: row.stdout_tail ?? '',
            stderrTail: row.stderr_tail ?? '',
          },
    updatedAt: row.updated_at,
  };
}

/**
 * How long writes that guard nothing may wait in the group transaction.
 * Writes that guard a side effect are committed at the end of their tick.
 */
export const GROUP_COMMIT_MS = 20;

/** Open stores, committed when the process exits. */
const OPEN_STORES = new Set<RunStore>();
let exitHook = false;

/** The SQLite state of one run. */
export class RunStore {
  readonly #db: Database.Database;
  /** Identifies this handle as a lock holder (several handles may live in one process). */
  readonly #owner = randomUUID();
  /** The run's name. */
  readonly runName: string;
  /** Absolute path of the database file. */
  readonly file: string;

  readonly #statements = new Map<string, Database.Statement>();
  #machineMark: string | undefined;
  /**
   * Every service's record in plan order, as this handle last wrote or read
   * it; read from the database on first use and after {@link reloadServices}.
   */
  #records: Map<string, ServiceRecord> | undefined;
  /** The scheduled commit of the open group transaction ({@link GROUP_COMMIT_MS}). */
  #timer: NodeJS.Timeout | undefined;
  /** The commit at the end of this tick, for {@link committed}. */
  #tick: NodeJS.Immediate | undefined;
  /** Callers of {@link committed} waiting for the open transaction. */
  #waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  #commits = 0;

  /** A prepared statement, compiled once per handle. */
  #sql(text: string): Database.Statement {
    let statement = this.#statements.get(text);
    if (statement === undefined) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  private constructor(db: Database.Database, runName: string, file: string) {
    this.#db = db;
    this.runName = runName;
    this.file = file;
  }

  /**
   * Runs `write` in the group transaction (opened, IMMEDIATE, when none is:
   * it waits for other writers up to the busy timeout) as a savepoint, so a
   * write that throws leaves the others of the group in place.
   */
  #write<T>(write: () => T): T {
    if (!this.#db.inTransaction) {
      this.#sql('BEGIN IMMEDIATE').run();
      this.#timer = setTimeout(() => this.#commitGroup(), GROUP_COMMIT_MS);
      OPEN_STORES.add(this);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => {
          for (const store of OPEN_STORES) store.#commitGroup();
        });
      }
    }
    return this.#db.transaction(write)();
  }

  #commitGroup(): void {
    clearTimeout(this.#timer);
    clearImmediate(this.#tick);
    this.#timer = undefined;
    this.#tick = undefined;
    OPEN_STORES.delete(this);
    const waiters = this.#waiters.splice(0);
    if (!this.#db.open || !this.#db.inTransaction) {
      for (const w of waiters) w.resolve();
      return;
    }
    try {
      this.#sql('COMMIT').run();
      this.#commits++;
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      for (const w of waiters) w.reject(error);
      if (waiters.length === 0) throw error;
      return;
    }
    for (const w of waiters) w.resolve();
  }

  /** Commits what the group transaction holds, now. */
  commit(): void {
    this.#commitGroup();
  }

  /**
   * Resolves once every write made so far is committed: at the end of this
   * tick, together with the writes of every other service made meanwhile. Await it between a
   * write that guards a side effect and the side effect.
   */
  committed(): Promise<void> {
    if (!this.#db.inTransaction) return Promise.resolve();
    this.#tick ??= setImmediate(() => this.#commitGroup());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** How many transactions this handle has committed (group commits, for measurement). */
  get commits(): number {
    return this.#commits;
  }

  /**
   * Creates the database of a new run with its plan and services, all
   * `pending`. The file appears complete or not at all: it is written under
   * a temporary name and linked into place, so another process never opens
   * a half-made run, and two creators of one name cannot both succeed.
   * @throws RunExistsError when a run of that name exists.
   */
  static create(dbDir: string, runName: string, plan: Plan): RunStore {
    requireDirectory(dbDir);
    mkdirSync(dbDir, { recursive: true, mode: 0o700 });
    const file = runDatabasePath(dbDir, runName);
    if (existsSync(file)) throw new RunExistsError(runName, dbDir);
    const draft = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.new`;
    try {
      const db = new Database(draft);
      chmodSync(draft, 0o600);
      const now = Date.now();
      db.exec(SCHEMA);
      db.exec(LATER_TABLES);
      db.transaction(() => {
        const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
        meta.run('schema_version', String(SCHEMA_VERSION));
        meta.run('run_name', runName);
        meta.run('created_at', String(now));
        new RunStore(db, runName, draft).#writePlan(plan, now);
      })();
      db.close();
      linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST')
        throw new RunExistsError(runName, dbDir);
      throw error;
    } finally {
      rmSync(draft, { force: true });
    }
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
    requireDirectory(dbDir);
    const file = runDatabasePath(dbDir, runName);
    if (!existsSync(file)) throw new RunNotFoundError(runName, dbDir);
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { fileMustExist: true });
      const store = new RunStore(db, runName, file);
      store.#configure();
      return store;
    } catch (error) {
      db?.close();
      throw error instanceof RunDatabaseError ? error : (unusableDatabase(file, error) ?? error);
    }
  }

  /** Reads every page once and the tables cloudboot needs, so a damaged file fails here. */
  #check(): void {
    const verdict = this.#db.pragma('quick_check', { simple: true });
    if (verdict !== 'ok') {
      throw new Database.SqliteError(
        `database disk image is malformed (${verdict})`,
        'SQLITE_CORRUPT',
      );
    }
    if (this.#meta('schema_version') === undefined) {
      throw new RunDatabaseError(
        this.file,
        `${this.file} is not a cloudboot run database (it records no schema version); expected a file made by cloudboot`,
      );
    }
    this.#sql('SELECT name FROM services LIMIT 1').get();
  }

  #configure(): void {
    this.#db.pragma('busy_timeout = 5000');
    // Before anything writes to the file: a file that is not a run database is left as it is.
    this.#check();
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a crash of this process; launch intents
    // additionally force a full sync (see recordLaunchIntent).
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.exec(LATER_TABLES);
    this.#addMissingColumns();
  }

  /** Brings a database made by an older version up to the current columns. */
  #addMissingColumns(): void {
    const missing = () =>
      ADDED_COLUMNS.filter(([table, column]) => {
        const columns = this.#db.pragma(`table_info(${table})`) as Array<{ name: string }>;
        return !columns.some((c) => c.name === column);
      });
    if (missing().length === 0) return;
    // Another process may open the same old database at the same moment: look
    // again under the write lock, so that only one of them adds each column.
    this.#db
      .transaction(() => {
        for (const [table, column, definition] of missing()) {
          this.#db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
        }
      })
      .immediate();
  }

  #writePlan(plan: Plan, now: number): void {
    this.#records = undefined;
    this.#setMeta('plan', JSON.stringify(plan));
    const insert = this.#sql(
      `INSERT INTO services (name, level, position, state, updated_at) VALUES (?, ?, ?, 'pending', ?)
       ON CONFLICT(name) DO UPDATE SET level = excluded.level, position = excluded.position`,
    );
    let position = 0;
    for (const level of plan.levels) {
      for (const service of level.services) insert.run(service.name, level.level, position++, now);
    }
  }

  #setMeta(key: string, value: string): void {
    this.#sql(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    ).run(key, value);
  }

  #meta(key: string): string | undefined {
    const row = this.#sql('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  /** The plan stored with the run. */
  plan(): Plan {
    return JSON.parse(this.#meta('plan') ?? 'null') as Plan;
  }

  /** When the run was created (ms since epoch). */
  createdAt(): number {
    return Number(this.#meta('created_at') ?? 0);
  }

  /**
   * Replaces the stored plan (reload). Services that are new start `pending`;
   * services that are gone from the plan are returned so the caller can shut them down first.
   */
  replacePlan(plan: Plan): void {
    this.#write(() => this.#writePlan(plan, Date.now()));
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
    this.#db.pragma('secure_delete = ON');
    try {
      this.replacePlan(plan);
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.#db.pragma('secure_delete = OFF');
    }
  }

  /** Removes services no longer in the plan (after they were shut down). */
  forgetServices(names: readonly string[]): void {
    const del = this.#sql('DELETE FROM services WHERE name = ?');
    this.#write(() => {
      for (const name of names) del.run(name);
    });
    this.#records = undefined;
  }

  /**
   * Every service's current record, in plan order. This handle keeps them in
   * memory and writes them through, so reading costs no query; call
   * {@link reloadServices} when another handle or process may have written.
   */
  services(): ServiceRecord[] {
    return [...this.#current().values()];
  }

  /** One service's current record (see {@link services}). */
  service(name: string): ServiceRecord | undefined {
    return this.#current().get(name);
  }

  /** Forgets the records held in memory: the next read takes them from the database. */
  reloadServices(): void {
    this.#records = undefined;
  }

  #current(): Map<string, ServiceRecord> {
    if (this.#records === undefined) {
      const rows = this.#sql(
        'SELECT * FROM services ORDER BY level, position',
      ).all() as ServiceRow[];
      this.#records = new Map(rows.map((row) => [row.name, toRecord(row)]));
    }
    return this.#records;
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
    const apply = () => {
      const before = this.#sql('SELECT * FROM services WHERE name = ?').get(name) as
        | ServiceRow
        | undefined;
      if (before === undefined) throw new Error(`unknown service ${name}`);
      checkTransition(name, before.state, to, fields);
      const sets = ['state = @state', 'updated_at = @now'];
      const now = Date.now();
      const params: Record<string, unknown> = { name, state: to, now };
      if (fields.driver !== undefined) {
        sets.push('driver = @driver');
        params.driver = fields.driver;
      }
      if (fields.launchToken !== undefined) {
        sets.push('launch_token = @launch_token');
        params.launch_token = fields.launchToken;
      }
      if (fields.instanceId !== undefined) {
        sets.push('instance_id = @instance_id');
        params.instance_id = fields.instanceId;
      }
      if (fields.hostname !== undefined) {
        sets.push('hostname = @hostname');
        params.hostname = fields.hostname;
      }
      if (fields.contextualized !== undefined) {
        sets.push('contextualized = @contextualized');
        params.contextualized = fields.contextualized ? 1 : 0;
      }
      if (fields.published !== undefined) {
        sets.push('published = @published');
        params.published = JSON.stringify(fields.published);
      }
      if (fields.machineAttributes !== undefined) {
        sets.push('machine_attributes = @machine_attributes');
        params.machine_attributes = JSON.stringify(fields.machineAttributes);
      }
      if (fields.failure !== undefined || to !== 'failed') {
        const failure = to === 'failed' ? (fields.failure ?? null) : null;
        sets.push(
          'failed_phase = @failed_phase',
          'failure = @failure',
          'stdout_tail = @stdout_tail',
          'stderr_tail = @stderr_tail',
        );
        params.failed_phase = failure?.phase ?? null;
        params.failure = failure?.message ?? null;
        params.stdout_tail = failure?.stdoutTail ?? null;
        params.stderr_tail = failure?.stderrTail ?? null;
      }
      this.#sql(`UPDATE services SET ${sets.join(', ')} WHERE name = @name`).run(params);
      this.#sql(
        'INSERT INTO transitions (service, from_state, to_state, at, detail) VALUES (?, ?, ?, ?, ?)',
      ).run(name, before.state, to, now, fields.detail ?? null);
      // The row as written, without reading it back.
      const after: ServiceRow = { ...before, state: to, updated_at: now };
      for (const [column, value] of Object.entries(params)) {
        if (column in after) (after as unknown as Record<string, unknown>)[column] = value;
      }
      return after;
    };
    // The group transaction begins IMMEDIATE: one that reads first and then writes would get
    // SQLITE_BUSY at once, without waiting, when another process (taking the run's lock) writes.
    const record = toRecord(this.#write(apply));
    this.#records?.set(name, record);
    return record;
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
      this.#write(() => {
        this.#sql(
          `INSERT INTO instances (token, service, driver, launched_at, replaces) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(token) DO NOTHING`,
        ).run(token, name, driver, Date.now(), replaces ?? null);
        return this.transition(name, 'launching', { driver, launchToken: token, detail: token });
      });
    if (!durable) return intent();
    this.commit();
    this.#db.pragma('synchronous = FULL');
    try {
      const record = intent();
      this.commit();
      return record;
    } finally {
      if (durable) this.#db.pragma('synchronous = NORMAL');
    }
  }

  /** Records the instance id the cloud returned for a launch token, and moves the service to `launched`. */
  recordLaunched(name: string, token: string, instanceId: string): ServiceRecord {
    return this.#write(() => {
      this.#sql('UPDATE instances SET instance_id = ? WHERE token = ?').run(instanceId, token);
      return this.transition(name, 'launched', { instanceId, detail: instanceId });
    });
  }

  /**
   * Forgets a launch the driver refused (it created nothing): its history row
   * goes, and the service keeps no token, so terminate has nothing to find.
   */
  forgetLaunch(token: string): void {
    this.#write(() =>
      this.#sql('DELETE FROM instances WHERE token = ? AND instance_id IS NULL').run(token),
    );
  }

  /** Fills in the instance id of a launch whose answer was lost, in the history only. */
  recordInstanceId(token: string, instanceId: string): void {
    this.#write(() =>
      this.#sql('UPDATE instances SET instance_id = ? WHERE token = ?').run(instanceId, token),
    );
  }

  /**
   * Marks the instances launched with `tokens` as terminated in the history.
   * By token, not by instance id: services on one existing machine share its
   * id, and releasing one of them must not end the others' rows.
   */
  recordTerminated(tokens: readonly string[]): void {
    const update = this.#sql(
      'UPDATE instances SET terminated_at = ? WHERE token = ? AND terminated_at IS NULL',
    );
    const now = Date.now();
    this.#write(() => {
      for (const token of tokens) update.run(now, token);
    });
  }

  /** Every instance ever launched for the run, oldest first. */
  instances(): InstanceRecord[] {
    const rows = this.#sql(
      `SELECT i.*, (SELECT r.token FROM instances r WHERE r.replaces = i.token) AS replaced_by
       FROM instances i ORDER BY i.launched_at, i.rowid`,
    ).all() as Array<{
      token: string;
      service: string;
      driver: string;
      instance_id: string | null;
      launched_at: number;
      terminated_at: number | null;
      replaces: string | null;
      replaced_by: string | null;
    }>;
    return rows.map((r) => ({
      token: r.token,
      service: r.service,
      driver: r.driver,
      instanceId: r.instance_id,
      launchedAt: r.launched_at,
      terminatedAt: r.terminated_at,
      replaces: r.replaces,
      replacedBy: r.replaced_by,
    }));
  }

  /** The transition log, oldest first (optionally of one service). */
  transitions(service?: string): TransitionRecord[] {
    const rows = (
      service === undefined
        ? this.#sql('SELECT * FROM transitions ORDER BY id').all()
        : this.#sql('SELECT * FROM transitions WHERE service = ? ORDER BY id').all(service)
    ) as Array<{
      service: string;
      from_state: ServiceState;
      to_state: ServiceState;
      at: number;
      detail: string | null;
    }>;
    return rows.map((r) => ({
      service: r.service,
      from: r.from_state,
      to: r.to_state,
      at: r.at,
      detail: r.detail,
    }));
  }

  /**
   * The random id that, with the run's name, marks the working directories
   * this run makes on machines (made and committed on first use).
   */
  machineMark(): string {
    this.#machineMark ??= this.#write(() => {
      this.#sql(
        "INSERT INTO meta (key, value) VALUES ('machine_mark', ?) ON CONFLICT(key) DO NOTHING",
      ).run(randomUUID().replaceAll('-', ''));
      return this.#meta('machine_mark') ?? '';
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
    return this.#write(() => {
      const { lastInsertRowid } = this.#sql(
        `INSERT INTO processes (service, host, token, owner, program, started_at) VALUES (?, ?, '', ?, ?, ?)`,
      ).run(service, host, this.#owner, program, Date.now());
      const id = Number(lastInsertRowid);
      // Ends with "." so that no token is a prefix of another.
      const token = `${this.machineMark()}.${id}.`;
      this.#sql('UPDATE processes SET token = ? WHERE id = ?').run(token, id);
      return { id, token };
    });
  }

  /** Records the process group a started program runs in. */
  setProcessGroup(id: number, pgid: number): void {
    this.#write(() => this.#sql('UPDATE processes SET pgid = ? WHERE id = ?').run(pgid, id));
  }

  /** Forgets programs that ended (or were stopped). */
  endProcesses(ids: readonly number[]): void {
    const del = this.#sql('DELETE FROM processes WHERE id = ?');
    this.#write(() => {
      for (const id of ids) del.run(id);
    });
  }

  /**
   * Programs of `service` started by another handle of this run that never
   * recorded their end: left running by a cloudboot that died (this handle
   * holds the run's lock, so no live one is using them).
   */
  leftoverProcesses(service: string): ProcessRecord[] {
    const rows = this.#sql(
      'SELECT id, host, token, program, pgid FROM processes WHERE service = ? AND owner != ? ORDER BY id',
    ).all(service, this.#owner) as Array<{
      id: number;
      host: string;
      token: string;
      program: string;
      pgid: number | null;
    }>;
    return rows;
  }

  /**
   * Stores local files the run needs later (programs, bootconf templates),
   * by path, each content once (by its SHA-256). A path stored before is
   * pointed at its new content.
   */
  storeInputs(files: Iterable<readonly [path: string, data: Buffer]>): void {
    const blob = this.#sql(
      'INSERT INTO blobs (hash, data) VALUES (?, ?) ON CONFLICT(hash) DO NOTHING',
    );
    const input = this.#sql(
      'INSERT INTO inputs (path, hash) VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET hash = excluded.hash',
    );
    this.#write(() => {
      for (const [path, data] of files) {
        const hash = createHash('sha256').update(data).digest('hex');
        blob.run(hash, data);
        input.run(path, hash);
      }
    });
  }

  /** The stored copy of a local file the run uses, if it has one. */
  input(path: string): Buffer | undefined {
    const row = this.#sql(
      'SELECT data FROM blobs JOIN inputs ON inputs.hash = blobs.hash WHERE inputs.path = ?',
    ).get(path) as { data: Buffer } | undefined;
    return row?.data;
  }

  /** Globals given on the command line, stored so later commands need not repeat them. */
  storedGlobals(): Record<string, string> {
    return JSON.parse(this.#meta('cli_globals') ?? '{}') as Record<string, string>;
  }

  /** Stores command-line globals (merged over earlier ones). */
  storeGlobals(globals: Readonly<Record<string, string>>): void {
    this.#write(() =>
      this.#setMeta('cli_globals', JSON.stringify({ ...this.storedGlobals(), ...globals })),
    );
  }

  /** The pinned SSH host key of `host:port`, if any. */
  hostKey(host: string, port: number): string | undefined {
    const row = this.#sql('SELECT key FROM host_keys WHERE host = ? AND port = ?').get(
      host,
      port,
    ) as { key: string } | undefined;
    return row?.key;
  }

  /** Forgets the pinned host keys of `host` (its machine was terminated; the address may be reused). */
  unpinHostKeys(host: string): void {
    this.#write(() => this.#sql('DELETE FROM host_keys WHERE host = ?').run(host));
  }

  /** Pins the SSH host key of `host:port` for this run. */
  pinHostKey(host: string, port: number, key: string): void {
    this.#write(() =>
      this.#sql(
        'INSERT INTO host_keys (host, port, key, pinned_at) VALUES (?, ?, ?, ?) ON CONFLICT(host, port) DO NOTHING',
      ).run(host, port, key, Date.now()),
    );
  }

  /**
   * Takes the run's lock for `operation`. A lock held by a process that is
   * gone (same machine) is taken over.
   * @throws RunLockedError when a live process holds it.
   */
  lock(operation: string): void {
    const me = machineName();
    try {
      this.#write(() => {
        const row = this.#sql('SELECT * FROM run_lock WHERE id = 1').get() as
          | { pid: number; host: string; owner: string; operation: string; acquired_at: number }
          | undefined;
        if (row !== undefined && row.owner !== this.#owner) {
          const stale = row.host === me && !processAlive(row.pid);
          if (!stale) {
            throw new RunLockedError(
              this.runName,
              `"${row.operation}" (pid ${row.pid} on ${row.host}, since ${new Date(row.acquired_at).toISOString()})`,
            );
          }
        }
        this.#db
          .prepare(
            `INSERT INTO run_lock (id, pid, host, owner, operation, acquired_at) VALUES (1, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, host = excluded.host, owner = excluded.owner,
               operation = excluded.operation, acquired_at = excluded.acquired_at`,
          )
          .run(process.pid, me, this.#owner, operation, Date.now());
      });
    } finally {
      this.commit();
    }
  }

  /** Releases the lock if this handle holds it. */
  unlock(): void {
    this.#write(() =>
      this.#sql('DELETE FROM run_lock WHERE id = 1 AND owner = ?').run(this.#owner),
    );
    this.commit();
  }

  /** Commits what is pending, then closes the database. */
  close(): void {
    this.#commitGroup();
    if (this.#db.open) this.#db.close();
  }
}
