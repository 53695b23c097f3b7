/**
 * The one place that turns outcomes and error `code`s into exit statuses.
 * The table is also what `cloudboot --help` and the README document.
 */
import { isCloudbootError } from '@cloudboot/core';

/** Exit statuses of the `cloudboot` binary. */
export const EXIT = {
  /** Full success: every service of the operation is where it should be. */
  ok: 0,
  /** A service failed (boot, ready, terminate …), or `status` found one not ready. */
  serviceFailed: 1,
  /** Bad command line, or an invalid plan. */
  usage: 2,
  /**
   * The run does not exist, already exists, or is locked by another process;
   * or its database (or the database directory) cannot be used.
   */
  run: 3,
  /** A driver module could not be loaded or has the wrong shape. */
  driverLoad: 4,
  /** Interrupted (Ctrl-C): the run keeps its state; `resume` continues it. */
  interrupted: 130,
  /** A bug: an error cloudboot did not expect. */
  internal: 70,
} as const;

/** Exit status by `CloudbootError.code`; codes not listed map to `serviceFailed`. */
const BY_CODE: Readonly<Record<string, number>> = {
  USAGE: EXIT.usage,
  PLAN_INVALID: EXIT.usage,
  TEMPLATE: EXIT.usage,
  RUN_NOT_FOUND: EXIT.run,
  RUN_EXISTS: EXIT.run,
  RUN_LOCKED: EXIT.run,
  RUN_DATABASE: EXIT.run,
  DRIVER_LOAD: EXIT.driverLoad,
  INTERRUPTED: EXIT.interrupted,
  SERVICE_FAILED: EXIT.serviceFailed,
  BOOT_FAILED: EXIT.serviceFailed,
  DRIVER: EXIT.serviceFailed,
  REMOTE: EXIT.serviceFailed,
};

/** Exit status for an error that ended a command. */
export function exitCodeOfError(error: unknown): number {
  if (!isCloudbootError(error)) return EXIT.internal;
  return BY_CODE[error.code] ?? EXIT.serviceFailed;
}

/** Exit status for a command that ran to the end: 0 only when it fully succeeded. */
export function exitCodeOfOutcome(success: boolean, interrupted = false): number {
  if (interrupted) return EXIT.interrupted;
  return success ? EXIT.ok : EXIT.serviceFailed;
}

/** Lines of the exit-status table, for the help text. */
export const EXIT_HELP: readonly string[] = [
  `${EXIT.ok}   full success`,
  `${EXIT.serviceFailed}   a service failed, or status found a service that is not ready`,
  `${EXIT.usage}   usage error or invalid plan`,
  `${EXIT.run}   run not found, already exists, locked by another process, or its database is unusable`,
  `${EXIT.driverLoad}   a driver module could not be loaded`,
  `${EXIT.interrupted} interrupted (Ctrl-C); "cloudboot resume NAME" continues`,
  `${EXIT.internal}  internal error (a bug; run with -v for the stack trace)`,
];
