#!/usr/bin/env node
/** The `cloudboot` binary: runs the command line and sets the exit status. */
import { runCli } from './cli.js';

// The AWS SDK warns on stderr, once per process, that its releases from 2027
// on need a newer Node; that says nothing about the user's run and would be
// printed by every EC2 command. A user who sets the variable keeps their choice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The first Ctrl-C (or SIGTERM) stops the operation cleanly: programs are
// killed, state is kept for `resume`, the run's lock is released. A second
// one exits at once.
const interrupt = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupt.signal.aborted) process.exit(130);
  // Aborting first takes the live progress block off the terminal.
  interrupt.abort();
  process.stderr.write(`\ncloudboot: ${signal}: stopping (again to exit at once)\n`);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: interrupt.signal,
});
