/**
 * Running the `cloudboot` binary from source in a child process (a real
 * terminal, signals), as a user would run it.
 */
import { fileURLToPath } from 'node:url';

/** The repository root (tsx is resolved from there). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The CLI's entry point. */
export const CLI_MAIN = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));

/** The command line that runs `cloudboot ARGS` from source (run it with cwd {@link REPO_ROOT}). */
export function cliCommand(args: readonly string[]): string[] {
  return [process.execPath, '--conditions=source', '--import', 'tsx', CLI_MAIN, ...args];
}
