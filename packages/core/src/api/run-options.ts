/**
 * The options of a run (`CloudBootOptions`) and what is derived from them
 * alone: the database directory, the log directory, the driver registry and
 * the globals given on the command line.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DriverFactory } from '../driver/driver.js';
import type { ManagedDriverOptions } from '../driver/managed-driver.js';
import { DriverRegistry, type ModuleImporter } from '../driver/registry.js';
import type { LoadOptions } from '../plan/loader.js';

/** Default directory of run databases. */
export const DEFAULT_DB_DIR = join(homedir(), '.cloudboot');

/** Options of {@link CloudBoot}. */
export interface CloudBootOptions {
  /** Directory of run databases (`cloudboot-<run>.db`); default `~/.cloudboot`. */
  readonly dbDir?: string;
  /** Top file of a new plan. Without it, `runName` names an existing run to reopen. */
  readonly planFile?: string;
  /** Name of the run: chosen for a new run (default: generated), required to reopen one. */
  readonly runName?: string;
  /** `-g KEY=VALUE` globals; on a reopened run they override earlier ones and are stored with the run. */
  readonly globals?: Readonly<Record<string, string>>;
  /** `-G FILE` globals files, lowest rank first; on a reopened run, like `globals`. */
  readonly globalsFiles?: readonly string[];
  /** Where per-service logs go (`<logDir>/<run>/<service>.log`); default `<dbDir>/logs`. */
  readonly logDir?: string;
  /** Services started at once within a level; default 128. */
  readonly concurrency?: number;
  /** Driver factories by name, used instead of importing driver packages. */
  readonly drivers?: Readonly<Record<string, DriverFactory>>;
  /** Imports driver packages and in-house driver modules (see `DriverRegistryOptions`). */
  readonly importModule?: ModuleImporter;
  /** Environment for `env.NAME` values; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** SSH connection limits. */
  readonly ssh?: { readonly maxHandshakes?: number; readonly maxHandshakesPerHost?: number };
  /** Retry, rate-limit and polling settings for drivers (a plan's `api_*` keys win per account). */
  readonly driverPolicy?: ManagedDriverOptions;
  /**
   * Plan keys that hold credentials beyond the built-in ones (`SECRET_KEYS`),
   * e.g. those of an in-house driver given in `drivers`. {@link CloudBoot.create}
   * adds the keys the plan's driver modules declare.
   */
  readonly credentialKeys?: readonly string[];
}

/** The absolute database directory of `options`. */
export function dbDirOf(options: CloudBootOptions): string {
  return resolve(options.dbDir ?? DEFAULT_DB_DIR);
}

/** The log directory of run `name`: `<logDir>/<name>`, by default under the database directory. */
export function logDirOf(options: CloudBootOptions, name: string): string {
  return join(resolve(options.logDir ?? join(dbDirOf(options), 'logs')), name);
}

/** The environment `env.NAME` values are read from. */
export function envOf(options: CloudBootOptions): Readonly<Record<string, string | undefined>> {
  return options.env ?? process.env;
}

/** The driver registry a run's options describe (a new one each time: it caches per operation). */
export function registryOf(options: CloudBootOptions): DriverRegistry {
  return new DriverRegistry({
    ...(options.drivers !== undefined && { factories: options.drivers }),
    ...(options.importModule !== undefined && { importModule: options.importModule }),
    ...(options.driverPolicy !== undefined && { managed: options.driverPolicy }),
  });
}

/** `-g` globals and `-G` files as plan-loading options (either may be absent). */
export function globalsOptionsOf(
  globals: Readonly<Record<string, string>> | undefined,
  globalsFiles: readonly string[] | undefined,
): LoadOptions {
  return {
    ...(globals !== undefined && { globals }),
    ...(globalsFiles !== undefined && { globalsFiles }),
  };
}
