/**
 * The SQLite file of one run, `<dbDir>/cloudboot-<run>.db` (mode 0600, WAL):
 * making it whole or not at all, checking on open that it is a cloudboot run
 * database, bringing an older one up to the current columns, and naming the
 * file in what SQLite says of one that is not usable.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RunDatabaseError, RunExistsError, RunNotFoundError } from '../errors.js';
import { ADDED_COLUMNS, LATER_TABLES, SCHEMA, SCHEMA_VERSION } from './schema.js';

const FILE_PREFIX = 'cloudboot-';
const FILE_SUFFIX = '.db';

/** Path of a run's database file. */
export function runDatabasePath(dbDir: string, runName: string): string {
  return join(dbDir, `${FILE_PREFIX}${runName}${FILE_SUFFIX}`);
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

/** An open run database: its connection, its prepared statements and its `meta` table. */
export class RunDatabase {
  /** The SQLite connection. */
  readonly connection: Database.Database;
  /** Path of the database file. */
  readonly file: string;
  readonly #statements = new Map<string, Database.Statement>();

  private constructor(connection: Database.Database, file: string) {
    this.connection = connection;
    this.file = file;
  }

  /**
   * Creates the database of run `runName` with its `meta` rows, and what
   * `initialize` writes in the same transaction. The file appears complete
   * or not at all: it is written under a temporary name and linked into
   * place, so another process never opens a half-made run, and two creators
   * of one name cannot both succeed.
   * @throws RunExistsError when a run of that name exists.
   */
  static create(
    dbDir: string,
    runName: string,
    initialize: (db: RunDatabase, now: number) => void,
  ): void {
    requireDirectory(dbDir);
    mkdirSync(dbDir, { recursive: true, mode: 0o700 });
    const file = runDatabasePath(dbDir, runName);
    if (existsSync(file)) throw new RunExistsError(runName, dbDir);
    const draft = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.new`;
    try {
      const connection = new Database(draft);
      chmodSync(draft, 0o600);
      const now = Date.now();
      // One transaction for the tables too: one journal and one sync, not one per statement.
      connection.transaction(() => {
        connection.exec(SCHEMA);
        connection.exec(LATER_TABLES);
        const meta = connection.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
        meta.run('schema_version', String(SCHEMA_VERSION));
        meta.run('run_name', runName);
        meta.run('created_at', String(now));
        initialize(new RunDatabase(connection, draft), now);
      })();
      connection.close();
      linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST')
        throw new RunExistsError(runName, dbDir);
      throw error;
    } finally {
      rmSync(draft, { force: true });
    }
  }

  /**
   * Opens the database of run `runName`, after checking that its file is a
   * whole cloudboot run database, and adds the columns an older version
   * lacks.
   * @throws RunNotFoundError when there is no such run.
   * @throws RunDatabaseError naming the file when it is corrupt, truncated or
   *   not a run database, or naming `dbDir` when that is not a directory.
   */
  static open(dbDir: string, runName: string): RunDatabase {
    requireDirectory(dbDir);
    const file = runDatabasePath(dbDir, runName);
    if (!existsSync(file)) throw new RunNotFoundError(runName, dbDir);
    let connection: Database.Database | undefined;
    try {
      connection = new Database(file, { fileMustExist: true });
      const db = new RunDatabase(connection, file);
      db.#configure();
      return db;
    } catch (error) {
      connection?.close();
      throw error instanceof RunDatabaseError ? error : (unusableDatabase(file, error) ?? error);
    }
  }

  /** A prepared statement, compiled once per handle. */
  sql(text: string): Database.Statement {
    let statement = this.#statements.get(text);
    if (statement === undefined) {
      statement = this.connection.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /** The value of `key` in the `meta` table, if any. */
  meta(key: string): string | undefined {
    const row = this.sql('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  /** Sets `key` in the `meta` table (call it inside a transaction). */
  setMeta(key: string, value: string): void {
    this.sql(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    ).run(key, value);
  }

  /** Closes the connection, if open. */
  close(): void {
    if (this.connection.open) this.connection.close();
  }

  /** Reads every page once and the tables cloudboot needs, so a damaged file fails here. */
  #check(): void {
    const verdict = this.connection.pragma('quick_check', { simple: true });
    if (verdict !== 'ok') {
      throw new Database.SqliteError(
        `database disk image is malformed (${verdict})`,
        'SQLITE_CORRUPT',
      );
    }
    if (this.meta('schema_version') === undefined) {
      throw new RunDatabaseError(
        this.file,
        `${this.file} is not a cloudboot run database (it records no schema version); expected a file made by cloudboot`,
      );
    }
    this.sql('SELECT name FROM services LIMIT 1').get();
  }

  #configure(): void {
    this.connection.pragma('busy_timeout = 5000');
    // Before anything writes to the file: a file that is not a run database is left as it is.
    this.#check();
    this.connection.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a crash of this process; launch intents
    // additionally force a full sync (see RunStore.recordLaunchIntent).
    this.connection.pragma('synchronous = NORMAL');
    this.connection.pragma('foreign_keys = ON');
    this.connection.exec(LATER_TABLES);
    this.#addMissingColumns();
  }

  /** Brings a database made by an older version up to the current columns. */
  #addMissingColumns(): void {
    const missing = () =>
      ADDED_COLUMNS.filter(([table, column]) => {
        const columns = this.connection.pragma(`table_info(${table})`) as Array<{ name: string }>;
        return !columns.some((c) => c.name === column);
      });
    if (missing().length === 0) return;
    // Another process may open the same old database at the same moment: look
    // again under the write lock, so that only one of them adds each column.
    this.connection
      .transaction(() => {
        for (const [table, column, definition] of missing()) {
          this.connection.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
        }
      })
      .immediate();
  }
}
