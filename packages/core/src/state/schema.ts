/** Version of the run database layout; bumped with every incompatible change. */
export const SCHEMA_VERSION = 1;

/** Tables of a run database. */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS services (
  name           TEXT PRIMARY KEY,
  level          INTEGER NOT NULL,
  position       INTEGER NOT NULL,
  state          TEXT NOT NULL,
  driver         TEXT,
  launch_token   TEXT,
  instance_id    TEXT,
  hostname       TEXT,
  contextualized INTEGER NOT NULL DEFAULT 0,
  published      TEXT NOT NULL DEFAULT '{}',
  failed_phase   TEXT,
  failure        TEXT,
  stdout_tail    TEXT,
  stderr_tail    TEXT,
  updated_at     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  service    TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state   TEXT NOT NULL,
  at         INTEGER NOT NULL,
  detail     TEXT
);
CREATE TABLE IF NOT EXISTS instances (
  token         TEXT PRIMARY KEY,
  service       TEXT NOT NULL,
  driver        TEXT NOT NULL,
  instance_id   TEXT,
  launched_at   INTEGER NOT NULL,
  terminated_at INTEGER,
  replaces      TEXT
);
CREATE TABLE IF NOT EXISTS host_keys (
  host      TEXT NOT NULL,
  port      INTEGER NOT NULL,
  key       TEXT NOT NULL,
  pinned_at INTEGER NOT NULL,
  PRIMARY KEY (host, port)
);
CREATE TABLE IF NOT EXISTS run_lock (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  pid         INTEGER NOT NULL,
  host        TEXT NOT NULL,
  owner       TEXT NOT NULL,
  operation   TEXT NOT NULL,
  acquired_at INTEGER NOT NULL
);
`;

/**
 * Columns added since a table was first created, applied to older run
 * databases when they are opened (table, column, definition).
 */
export const ADDED_COLUMNS: ReadonlyArray<readonly [string, string, string]> = [
  // The token of the instance a repair replaced with this one.
  ['instances', 'replaces', 'TEXT'],
  // Facts of the service's machine published as attributes (addresses, zone …).
  ['services', 'machine_attributes', "TEXT NOT NULL DEFAULT '{}'"],
];

/**
 * Tables added after the first release; created when a run is created and
 * when an existing run is opened (so older run databases gain them).
 */
export const LATER_TABLES = `
CREATE TABLE IF NOT EXISTS processes (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  service    TEXT NOT NULL,
  host       TEXT NOT NULL,
  token      TEXT NOT NULL,
  owner      TEXT NOT NULL,
  program    TEXT NOT NULL,
  pgid       INTEGER,
  started_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
  hash TEXT PRIMARY KEY,
  data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS inputs (
  path TEXT PRIMARY KEY,
  hash TEXT NOT NULL REFERENCES blobs (hash)
);
`;
