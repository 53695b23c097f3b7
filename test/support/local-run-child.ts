/**
 * Runs one shell command through the local session's helper process, prints
 * this process's pid, and exits without closing the session (as a command
 * that ends with `process.exit` does).
 * argv: script
 */
import { LocalSession } from '../../packages/core/src/exec/local-session.js';

const session = new LocalSession();
process.stdout.write(`${process.pid}\n`);
await session.run({
  program: 'sh',
  args: ['-c', process.argv[2] ?? 'true'],
  cwd: '/',
  timeoutMs: 60_000,
});
process.exit(0);
