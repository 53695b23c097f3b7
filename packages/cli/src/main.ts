#!/usr/bin/env node
/** The `cloudboot` binary: runs the command line and sets the exit status. */
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
