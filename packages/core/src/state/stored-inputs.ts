/**
 * Copies of the local files a run needs later (programs, bootconf
 * templates), by path, each content stored once by its SHA-256.
 */
import { createHash } from 'node:crypto';
import type { GroupCommit } from './group-commit.js';
import type { RunDatabase } from './run-database.js';

/** The stored inputs of one run database handle; writes join the group transaction. */
export class StoredInputs {
  readonly #db: RunDatabase;
  readonly #group: GroupCommit;

  constructor(db: RunDatabase, group: GroupCommit) {
    this.#db = db;
    this.#group = group;
  }

  /** Stores `files`; a path stored before is pointed at its new content. */
  store(files: Iterable<readonly [path: string, data: Buffer]>): void {
    const blob = this.#db.sql(
      'INSERT INTO blobs (hash, data) VALUES (?, ?) ON CONFLICT(hash) DO NOTHING',
    );
    const input = this.#db.sql(
      'INSERT INTO inputs (path, hash) VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET hash = excluded.hash',
    );
    this.#group.write(() => {
      for (const [path, data] of files) {
        const hash = createHash('sha256').update(data).digest('hex');
        blob.run(hash, data);
        input.run(path, hash);
      }
    });
  }

  /** The stored copy of the file at `path`, if there is one. */
  get(path: string): Buffer | undefined {
    const row = this.#db
      .sql('SELECT data FROM blobs JOIN inputs ON inputs.hash = blobs.hash WHERE inputs.path = ?')
      .get(path) as { data: Buffer } | undefined;
    return row?.data;
  }
}
