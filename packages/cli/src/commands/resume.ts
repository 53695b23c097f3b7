/** `cloudboot resume NAME`: continue an interrupted or failed boot from the recorded state. */
import { type Command, OPERATION_OPTIONS, runNameArg } from './command.js';
import { openRun, withRun } from './run-session.js';

/** The `resume` command. */
export const resumeCommand: Command = {
  name: 'resume',
  usage: 'resume NAME',
  summary: 'continue a boot from the recorded state (failed services stay failed: use repair)',
  options: OPERATION_OPTIONS,
  async run(ctx) {
    const boot = openRun(ctx, runNameArg(ctx, this.name));
    return withRun(ctx, boot, (s) => s.operate('boot', () => boot.run()));
  },
};
