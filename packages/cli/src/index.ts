/**
 * `cloudboot`: the command line of cloudboot. `runCli` runs a command line
 * in-process (tests, wrappers); the binary is `main.ts`.
 */
export { runCli } from './cli.js';
export { EXIT, exitCodeOfError, exitCodeOfOutcome } from './exit-codes.js';
export type { CliIo, TextSink } from './io.js';
