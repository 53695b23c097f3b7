/**
 * Group commit: writes join one open transaction, committed at most
 * {@link GROUP_COMMIT_MS} after its first write (at the end of the tick when a
 * write that guards a side effect awaits it; by {@link GroupCommit.commit}
 * and at process exit), not once per write. A write that guards a side effect
 * (a launch, a program start, a termination) is committed before that side
 * effect: the caller awaits {@link GroupCommit.committed} (which shares the
 * commit with every other write of the tick), or commits itself. Writes that
 * guard nothing may be lost by a crash within the tick; they are redone or
 * repaired by `resume`.
 */
import type { RunDatabase } from './run-database.js';

/**
 * How long writes that guard nothing may wait in the group transaction.
 * Writes that guard a side effect are committed at the end of their tick.
 */
export const GROUP_COMMIT_MS = 20;

/** Groups with an open transaction, committed when the process exits. */
const OPEN_GROUPS = new Set<GroupCommit>();
let exitHook = false;

/** The group transaction of one run database handle. */
export class GroupCommit {
  readonly #db: RunDatabase;
  /** The scheduled commit of the open group transaction ({@link GROUP_COMMIT_MS}). */
  #timer: NodeJS.Timeout | undefined;
  /** The commit at the end of this tick, for {@link committed}. */
  #tick: NodeJS.Immediate | undefined;
  /** Callers of {@link committed} waiting for the open transaction. */
  #waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  #commits = 0;
  /**
   * Runs a function as a savepoint. Made once: better-sqlite3's
   * `transaction()` builds four wrapper functions (with their properties) per
   * call, the largest single source of garbage in a boot of many services.
   */
  readonly #savepoint: <T>(write: () => T) => T;

  constructor(db: RunDatabase) {
    this.#db = db;
    const wrapped = db.connection.transaction((write: () => unknown) => write());
    this.#savepoint = <T>(write: () => T) => wrapped(write) as T;
  }

  /**
   * Runs `write` in the group transaction (opened, IMMEDIATE, when none is:
   * it waits for other writers up to the busy timeout) as a savepoint, so a
   * write that throws leaves the others of the group in place.
   */
  write<T>(write: () => T): T {
    const connection = this.#db.connection;
    if (!connection.inTransaction) {
      // Another handle of this process holding the write lock would make this
      // one wait in SQLite, blocking the event loop its commit needs: commit it first.
      for (const other of OPEN_GROUPS) if (other !== this) other.commit();
      this.#db.sql('BEGIN IMMEDIATE').run();
      this.#timer = setTimeout(() => this.commit(), GROUP_COMMIT_MS);
      OPEN_GROUPS.add(this);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => {
          for (const group of OPEN_GROUPS) group.commit();
        });
      }
    }
    return this.#savepoint(write);
  }

  /** Commits what the group transaction holds, now. */
  commit(): void {
    clearTimeout(this.#timer);
    clearImmediate(this.#tick);
    this.#timer = undefined;
    this.#tick = undefined;
    OPEN_GROUPS.delete(this);
    const waiters = this.#waiters.splice(0);
    const connection = this.#db.connection;
    if (!connection.open || !connection.inTransaction) {
      for (const w of waiters) w.resolve();
      return;
    }
    try {
      this.#db.sql('COMMIT').run();
      this.#commits++;
    } catch (error) {
      if (connection.inTransaction) connection.exec('ROLLBACK');
      for (const w of waiters) w.reject(error);
      if (waiters.length === 0) throw error;
      return;
    }
    for (const w of waiters) w.resolve();
  }

  /**
   * Resolves once every write made so far is committed: at the end of this
   * tick, together with every other write made meanwhile.
   */
  committed(): Promise<void> {
    if (!this.#db.connection.inTransaction) return Promise.resolve();
    this.#tick ??= setImmediate(() => this.commit());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** How many transactions this group has committed. */
  get commits(): number {
    return this.#commits;
  }
}
