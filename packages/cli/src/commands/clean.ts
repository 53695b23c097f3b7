/** `cloudboot clean NAME`: terminate the run's orphaned instances. */
import { EXIT } from '../exit-codes.js';
import { type Command, runNameArg } from './command.js';
import { printInstances } from './history.js';
import { openRun } from './run-session.js';

/**
 * The `clean` command: terminates orphans, i.e. instances launched for the
 * run that are no service's current machine but are still alive in their
 * cloud (left by a relaunch or a crash). Services are not touched.
 */
export const cleanCommand: Command = {
  name: 'clean',
  usage: 'clean NAME',
  summary:
    "terminate orphaned instances of the run (launched for it, no longer any service's machine)",
  options: ['name'],
  async run(ctx) {
    const { out } = ctx;
    const boot = openRun(ctx, runNameArg(ctx, this.name));
    try {
      const killed = await boot.killInstances();
      out.info(
        `run ${boot.name}: ${killed.length} orphan${killed.length === 1 ? '' : 's'} terminated`,
      );
      printInstances(out, boot.name, killed);
      return {
        exitCode: EXIT.ok,
        details: { run: boot.name, killed: killed.map((k) => k.instanceId) },
      };
    } finally {
      boot.close();
    }
  },
};
