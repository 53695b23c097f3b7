/**
 * Prints an error that ended a command (or one run of `terminate`):
 * `cloudboot: <message>` on stderr, never a stack trace for cloudboot's own
 * errors; unexpected errors get their stack only with `-v`.
 */
import { isCloudbootError } from '@cloudboot/core';
import { exitCodeOfError } from './exit-codes.js';
import type { CliIo } from './io.js';

/** Prints `error` and returns its exit status. */
export function reportError(io: CliIo, error: unknown, verbose: boolean): number {
  if (isCloudbootError(error)) {
    io.stderr.write(`cloudboot: ${error.message}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`cloudboot: internal error: ${message}\n`);
    if (verbose && error instanceof Error && error.stack !== undefined)
      io.stderr.write(`${error.stack}\n`);
    else io.stderr.write('cloudboot: run with -v for the stack trace\n');
  }
  return exitCodeOfError(error);
}

/** The JSON form of an error, for `--json` result lines. */
export function errorJson(error: unknown): Record<string, unknown> {
  if (!isCloudbootError(error)) {
    return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
  }
  const problems = (error as { problems?: unknown }).problems;
  return { code: error.code, message: error.message, ...(problems !== undefined && { problems }) };
}
