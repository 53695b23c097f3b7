/**
 * Prints an error that ended a command (or one run of `terminate`):
 * `cloudboot: <message>` on stderr, never a stack trace for cloudboot's own
 * errors; unexpected errors get their stack only with `-v`. Messages are
 * made safe for a terminal and long lists (every problem of a plan) are cut
 * short; `--json` carries them whole.
 */
import { isCloudbootError } from '@cloudboot/core';
import { exitCodeOfError } from './exit-codes.js';
import { type CliIo, printable } from './io.js';

/** Lines of a message shown after its first line; the rest is counted. */
export const MAX_MESSAGE_LINES = 20;

/** `message` made printable, with at most {@link MAX_MESSAGE_LINES} lines after the first. */
function shown(message: string): string {
  const [first = '', ...rest] = printable(message).split('\n');
  if (rest.length <= MAX_MESSAGE_LINES) return [first, ...rest].join('\n');
  const more = rest.length - MAX_MESSAGE_LINES;
  return [
    first,
    ...rest.slice(0, MAX_MESSAGE_LINES),
    `  … and ${more} more (--json lists them all)`,
  ].join('\n');
}

/** Prints `error` and returns its exit status. */
export function reportError(io: CliIo, error: unknown, verbose: boolean): number {
  if (isCloudbootError(error)) {
    io.stderr.write(`cloudboot: ${shown(error.message)}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`cloudboot: internal error: ${shown(message)}\n`);
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
