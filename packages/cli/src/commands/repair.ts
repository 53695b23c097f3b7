/** `cloudboot repair NAME`: check every service and restart the ones that fail. */
import { type Command, OPERATION_OPTIONS, runNameArg } from './command.js';
import { openRun, withRun } from './run-session.js';

/** The `repair` command. */
export const repairCommand: Command = {
  name: 'repair',
  usage: 'repair NAME',
  summary: 'check every service and restart (re-contextualize) the ones that are not ready',
  options: OPERATION_OPTIONS,
  async run(ctx) {
    const boot = openRun(ctx, runNameArg(ctx, this.name));
    return withRun(ctx, boot, (s) => s.operate('repair', () => boot.repair()));
  },
};
