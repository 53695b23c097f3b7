/** `cloudboot clean NAME`: terminate orphaned instances (not yet supported). */
import { UsageError } from '@cloudboot/core';
import { type Command, runNameArg } from './command.js';

/**
 * The `clean` command. Not supported yet: finding orphans needs each
 * instance's driver account (and a tag search for launches the cloud never
 * answered), which the library does not expose yet.
 */
export const cleanCommand: Command = {
  name: 'clean',
  usage: 'clean NAME',
  summary: 'terminate orphaned instances of the run (not yet supported)',
  options: ['name'],
  async run(ctx) {
    const name = runNameArg(ctx, this.name);
    throw new UsageError(
      `clean is not yet supported. "cloudboot history ${name}" lists every instance launched for the run; ` +
        `instances that are not current and not terminated are orphans to terminate with the cloud's own tools.`,
    );
  },
};
