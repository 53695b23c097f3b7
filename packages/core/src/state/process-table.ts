/**
 * The programs a run started on machines and has not seen end, so that a
 * later cloudboot can stop those a dead one left running.
 */
import type { GroupCommit } from './group-commit.js';
import type { ProcessRecord } from './records.js';
import type { RunDatabase } from './run-database.js';

/** The program records of one run database handle; every write joins the group transaction. */
export class ProcessTable {
  readonly #db: RunDatabase;
  readonly #group: GroupCommit;
  /** Identifies the handle that records programs, as {@link leftovers} sees it. */
  readonly #owner: string;
  /** The run's machine mark, which starts every program token. */
  readonly #machineMark: () => string;

  constructor(db: RunDatabase, group: GroupCommit, owner: string, machineMark: () => string) {
    this.#db = db;
    this.#group = group;
    this.#owner = owner;
    this.#machineMark = machineMark;
  }

  /** Records that a program is about to start on `host`; returns its row id and its token. */
  record(service: string, host: string, program: string): { id: number; token: string } {
    return this.#group.write(() => {
      const { lastInsertRowid } = this.#db
        .sql(
          `INSERT INTO processes (service, host, token, owner, program, started_at) VALUES (?, ?, '', ?, ?, ?)`,
        )
        .run(service, host, this.#owner, program, Date.now());
      const id = Number(lastInsertRowid);
      // Ends with "." so that no token is a prefix of another.
      const token = `${this.#machineMark()}.${id}.`;
      this.#db.sql('UPDATE processes SET token = ? WHERE id = ?').run(token, id);
      return { id, token };
    });
  }

  /** Records the process group a started program runs in. */
  setGroup(id: number, pgid: number): void {
    this.#group.write(() =>
      this.#db.sql('UPDATE processes SET pgid = ? WHERE id = ?').run(pgid, id),
    );
  }

  /** Forgets programs that ended (or were stopped). */
  end(ids: readonly number[]): void {
    const del = this.#db.sql('DELETE FROM processes WHERE id = ?');
    this.#group.write(() => {
      for (const id of ids) del.run(id);
    });
  }

  /** Programs of `service` recorded by another handle and not recorded as ended. */
  leftovers(service: string): ProcessRecord[] {
    return this.#db
      .sql(
        'SELECT id, host, token, program, pgid FROM processes WHERE service = ? AND owner != ? ORDER BY id',
      )
      .all(service, this.#owner) as ProcessRecord[];
  }
}
