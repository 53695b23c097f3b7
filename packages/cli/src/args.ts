/**
 * Command-line parsing with `node:util` `parseArgs`: the command, its
 * arguments, and typed options with paths resolved against the caller's cwd.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DB_DIR, UsageError } from '@cloudboot/core';
import { type CliIo, VERBOSITIES, type Verbosity } from './io.js';

/** Every option, by long name (the `parseArgs` configuration). */
export const OPTION_SPECS = {
  name: { type: 'string', short: 'n' },
  dbdir: { type: 'string', short: 'd' },
  logdir: { type: 'string', short: 'f' },
  loglevel: { type: 'string', short: 'l' },
  verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' },
  validate: { type: 'boolean', short: 'x' },
  dryrun: { type: 'boolean', short: 'y' },
  output: { type: 'string', short: 'o' },
  global: { type: 'string', short: 'g', multiple: true },
  'globals-file': { type: 'string', short: 'G', multiple: true },
  json: { type: 'boolean' },
  parallel: { type: 'string' },
  'dash-nine': { type: 'boolean' },
  kill: { type: 'boolean', short: 'k' },
  watch: { type: 'string' },
  version: { type: 'boolean', short: 'V' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Seconds between rounds of `status --watch` when none are given. */
export const DEFAULT_WATCH_SECONDS = 5;

/** Long name of an option. */
export type OptionName = keyof typeof OPTION_SPECS;

/** Options after parsing and checking. */
export interface CliOptions {
  /** `-n NAME`. */
  readonly name?: string;
  /** `-d DBDIR`, else `$CLOUDBOOT_DBDIR`, else `~/.cloudboot`; absolute. */
  readonly dbDir: string;
  /** `-f LOGDIR`, absolute. */
  readonly logDir?: string;
  /** From `-l`, `-v` (debug) or `-q` (error); default info. */
  readonly verbosity: Verbosity;
  readonly validate: boolean;
  readonly dryrun: boolean;
  /** `-o FILE`, absolute. */
  readonly output?: string;
  /** `-g KEY=VALUE`, later ones win. */
  readonly globals: Readonly<Record<string, string>>;
  /** `-G FILE`, absolute, in order. */
  readonly globalsFiles: readonly string[];
  readonly json: boolean;
  /** `--parallel N`. */
  readonly parallel?: number;
  readonly dashNine: boolean;
  /** `history --kill`. */
  readonly kill: boolean;
  /** `status --watch [SECONDS]`: seconds between rounds. */
  readonly watch?: number;
  /** `-V/--version`. */
  readonly version: boolean;
  readonly help: boolean;
}

/** A parsed command line. */
export interface ParsedArgs {
  /** First positional argument, if any. */
  readonly command: string | undefined;
  /** Positional arguments after the command. */
  readonly args: readonly string[];
  readonly options: CliOptions;
  /** Options that were given, by long name (to check them against the command). */
  readonly given: ReadonlySet<OptionName>;
}

/** Formats an option for messages: `-n/--name`, `--json`. */
export function optionLabel(name: OptionName): string {
  const spec = OPTION_SPECS[name];
  return !('short' in spec) ? `--${name}` : `-${spec.short}/--${name}`;
}

/** Expands a leading `~` and makes `path` absolute against `cwd`. */
export function userPath(path: string, io: CliIo): string {
  const home = io.env.HOME ?? homedir();
  const expanded = path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
  return resolve(io.cwd, expanded);
}

function parseError(error: unknown): UsageError {
  const { code, message } = error as { code?: string; message: string };
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1] ?? message;
    return new UsageError(`unknown option "${option}" (see "cloudboot --help")`);
  }
  return new UsageError(message);
}

function verbosityOf(values: { verbose?: boolean; quiet?: boolean; loglevel?: string }): Verbosity {
  const chosen = [
    values.verbose && '-v',
    values.quiet && '-q',
    values.loglevel !== undefined && '-l',
  ];
  const given = chosen.filter((c): c is string => typeof c === 'string');
  if (given.length > 1) throw new UsageError(`use only one of ${given.join(', ')}`);
  if (values.verbose) return 'debug';
  if (values.quiet) return 'error';
  if (values.loglevel === undefined) return 'info';
  const level = values.loglevel.toLowerCase();
  if (!(VERBOSITIES as readonly string[]).includes(level)) {
    throw new UsageError(
      `-l/--loglevel is "${values.loglevel}"; expected one of ${VERBOSITIES.join(', ')}`,
    );
  }
  return level as Verbosity;
}

function globalsOf(pairs: readonly string[]): Record<string, string> {
  const globals: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (key === '') throw new UsageError(`-g/--global "${pair}" is not KEY=VALUE`);
    globals[key] = pair.slice(eq + 1);
  }
  return globals;
}

function parallelOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new UsageError(`--parallel is "${text}"; expected a whole number of at least 1`);
  }
  return Number(text);
}

function watchOf(text: string): number {
  if (text === '') return DEFAULT_WATCH_SECONDS;
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || seconds < 0.1) {
    throw new UsageError(`--watch is "${text}"; expected a number of seconds of at least 0.1`);
  }
  return seconds;
}

/**
 * `--watch` takes an optional value, which `parseArgs` cannot express: a
 * number right after it is its value (`--watch 10`), otherwise it has none.
 */
function attachWatchValue(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (arg !== '--watch') {
      out.push(arg);
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && /^\d+(\.\d+)?$/.test(next)) {
      out.push(`--watch=${next}`);
      i++;
    } else {
      out.push('--watch=');
    }
  }
  return out;
}

function parseRaw(argv: readonly string[]) {
  return parseArgs({
    args: attachWatchValue(argv),
    options: OPTION_SPECS,
    allowPositionals: true,
    strict: true,
  });
}

/**
 * Parses `argv` (without node and the script).
 * @throws UsageError for unknown options, missing values and bad values.
 */
export function parseCommandLine(argv: readonly string[], io: CliIo): ParsedArgs {
  let parsed: ReturnType<typeof parseRaw>;
  try {
    parsed = parseRaw(argv);
  } catch (error) {
    throw parseError(error);
  }
  const { values, positionals } = parsed;
  const dbDir = values.dbdir ?? io.env.CLOUDBOOT_DBDIR;
  const options: CliOptions = {
    ...(values.name !== undefined && { name: values.name }),
    dbDir: dbDir === undefined || dbDir === '' ? DEFAULT_DB_DIR : userPath(dbDir, io),
    ...(values.logdir !== undefined && { logDir: userPath(values.logdir, io) }),
    verbosity: verbosityOf(values),
    validate: values.validate ?? false,
    dryrun: values.dryrun ?? false,
    ...(values.output !== undefined && { output: userPath(values.output, io) }),
    globals: globalsOf(values.global ?? []),
    globalsFiles: (values['globals-file'] ?? []).map((f) => userPath(f, io)),
    json: values.json ?? false,
    ...(values.parallel !== undefined && { parallel: parallelOf(values.parallel) }),
    dashNine: values['dash-nine'] ?? false,
    kill: values.kill ?? false,
    ...(values.watch !== undefined && { watch: watchOf(values.watch) }),
    version: values.version ?? false,
    help: values.help ?? false,
  };
  if (options.validate && options.dryrun)
    throw new UsageError('use only one of -x/--validate, -y/--dryrun');
  const given = new Set(Object.keys(values) as OptionName[]);
  return { command: positionals[0], args: positionals.slice(1), options, given };
}
