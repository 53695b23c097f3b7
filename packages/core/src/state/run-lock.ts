/**
 * The lock that lets one operation at a time work on a run. It is a row of
 * the run database naming the holder (process, machine, handle, operation);
 * a lock whose process is gone from this machine is taken over.
 */
import { hostname as machineName } from 'node:os';
import { RunLockedError } from '../errors.js';
import { processAlive } from '../process-alive.js';
import type { GroupCommit } from './group-commit.js';
import type { RunDatabase } from './run-database.js';

/** The run's lock as one run database handle takes and releases it; each change is committed at once. */
export class RunLock {
  readonly #db: RunDatabase;
  readonly #group: GroupCommit;
  readonly #runName: string;
  /** Identifies the handle as a lock holder (several handles may live in one process). */
  readonly #owner: string;

  constructor(db: RunDatabase, group: GroupCommit, runName: string, owner: string) {
    this.#db = db;
    this.#group = group;
    this.#runName = runName;
    this.#owner = owner;
  }

  /**
   * Takes the lock for `operation`, or takes it over from a process that is
   * gone (same machine).
   * @throws RunLockedError when a live process holds it.
   */
  lock(operation: string): void {
    const me = machineName();
    try {
      this.#group.write(() => {
        const row = this.#db.sql('SELECT * FROM run_lock WHERE id = 1').get() as
          | { pid: number; host: string; owner: string; operation: string; acquired_at: number }
          | undefined;
        if (row !== undefined && row.owner !== this.#owner) {
          const stale = row.host === me && !processAlive(row.pid);
          if (!stale) {
            throw new RunLockedError(
              this.#runName,
              `"${row.operation}" (pid ${row.pid} on ${row.host}, since ${new Date(row.acquired_at).toISOString()})`,
            );
          }
        }
        this.#db
          .sql(
            `INSERT INTO run_lock (id, pid, host, owner, operation, acquired_at) VALUES (1, ?, ?, ?, ?, ?)
             ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, host = excluded.host, owner = excluded.owner,
               operation = excluded.operation, acquired_at = excluded.acquired_at`,
          )
          .run(process.pid, me, this.#owner, operation, Date.now());
      });
    } finally {
      this.#group.commit();
    }
  }

  /** Releases the lock if this handle holds it. */
  unlock(): void {
    this.#group.write(() =>
      this.#db.sql('DELETE FROM run_lock WHERE id = 1 AND owner = ?').run(this.#owner),
    );
    this.#group.commit();
  }
}
