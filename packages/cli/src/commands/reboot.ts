/** `cloudboot reboot NAME`: terminate every service, then boot the run again. */
import { type Command, OPERATION_OPTIONS, runNameArg } from './command.js';
import { openRun, withRun } from './run-session.js';

/** The `reboot` command. The boot half is skipped when the shutdown fails. */
export const rebootCommand: Command = {
  name: 'reboot',
  usage: 'reboot NAME [--dash-nine]',
  summary: 'terminate every service, then boot the run again',
  options: [...OPERATION_OPTIONS, 'dash-nine'],
  async run(ctx) {
    const boot = openRun(ctx, runNameArg(ctx, this.name));
    const dashNine = ctx.options.dashNine;
    return withRun(ctx, boot, async (s) => {
      const down = await s.operate('shutdown', () => boot.shutdown({ dashNine }), {
        ...(dashNine && { note: ' (dash-nine: no terminate programs)' }),
      });
      return down && s.operate('boot', () => boot.run());
    });
  },
};
