/**
 * The SSH host keys a run pinned, by host and port: the first key a machine
 * showed is the one it must show again.
 */
import type { GroupCommit } from './group-commit.js';
import type { RunDatabase } from './run-database.js';

/** The pinned host keys of one run database handle; writes join the group transaction. */
export class HostKeys {
  readonly #db: RunDatabase;
  readonly #group: GroupCommit;

  constructor(db: RunDatabase, group: GroupCommit) {
    this.#db = db;
    this.#group = group;
  }

  /** The pinned key of `host:port`, if any. */
  get(host: string, port: number): string | undefined {
    const row = this.#db
      .sql('SELECT key FROM host_keys WHERE host = ? AND port = ?')
      .get(host, port) as { key: string } | undefined;
    return row?.key;
  }

  /** Pins `key` for `host:port`, unless a key is pinned already. */
  pin(host: string, port: number, key: string): void {
    this.#group.write(() =>
      this.#db
        .sql(
          'INSERT INTO host_keys (host, port, key, pinned_at) VALUES (?, ?, ?, ?) ON CONFLICT(host, port) DO NOTHING',
        )
        .run(host, port, key, Date.now()),
    );
  }

  /** Forgets the pinned keys of `host`. */
  unpin(host: string): void {
    this.#group.write(() => this.#db.sql('DELETE FROM host_keys WHERE host = ?').run(host));
  }
}
