/**
 * Every instance launched (or attempted) for a run, by launch token: when it
 * was launched and terminated, its instance id once the cloud answered, and
 * which instance replaced which.
 */
import type { GroupCommit } from './group-commit.js';
import { type InstanceRecord, type InstanceRow, toInstanceRecord } from './records.js';
import type { RunDatabase } from './run-database.js';

/** The instance history of one run database handle; every write joins the group transaction. */
export class InstanceHistory {
  readonly #db: RunDatabase;
  readonly #group: GroupCommit;

  constructor(db: RunDatabase, group: GroupCommit) {
    this.#db = db;
    this.#group = group;
  }

  /** Adds the row of a launch about to be made (kept as it is when `token` has one). */
  recordIntent(token: string, service: string, driver: string, replaces: string | null): void {
    this.#group.write(() =>
      this.#db
        .sql(
          `INSERT INTO instances (token, service, driver, launched_at, replaces) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(token) DO NOTHING`,
        )
        .run(token, service, driver, Date.now(), replaces),
    );
  }

  /** Records the instance id the cloud returned for a launch token. */
  recordInstanceId(token: string, instanceId: string): void {
    this.#group.write(() =>
      this.#db.sql('UPDATE instances SET instance_id = ? WHERE token = ?').run(instanceId, token),
    );
  }

  /** Removes the row of a launch that created nothing. */
  forget(token: string): void {
    this.#group.write(() =>
      this.#db.sql('DELETE FROM instances WHERE token = ? AND instance_id IS NULL').run(token),
    );
  }

  /** Marks the instances launched with `tokens` as terminated. */
  recordTerminated(tokens: readonly string[]): void {
    const update = this.#db.sql(
      'UPDATE instances SET terminated_at = ? WHERE token = ? AND terminated_at IS NULL',
    );
    const now = Date.now();
    this.#group.write(() => {
      for (const token of tokens) update.run(now, token);
    });
  }

  /** Every instance, oldest first. */
  all(): InstanceRecord[] {
    const rows = this.#db
      .sql(
        `SELECT i.*, (SELECT r.token FROM instances r WHERE r.replaces = i.token) AS replaced_by
         FROM instances i ORDER BY i.launched_at, i.rowid`,
      )
      .all() as InstanceRow[];
    return rows.map(toInstanceRecord);
  }
}
