/** `cloudboot terminate NAME...`: shut runs down in reverse level order. */
import { UsageError } from '@cloudboot/core';
import { EXIT, exitCodeOfOutcome } from '../exit-codes.js';
import { errorJson, reportError } from '../report-error.js';
import type { Command } from './command.js';
import { openRun, useRun } from './run-session.js';

/**
 * The `terminate` command. Every named run is shut down even when an
 * earlier one fails; the exit status is that of the first run that failed.
 */
export const terminateCommand: Command = {
  name: 'terminate',
  usage: 'terminate NAME... [--dash-nine]',
  summary: 'run terminate programs in reverse level order, remove working dirs, kill launched VMs',
  options: ['logdir', 'parallel', 'dash-nine'],
  async run(ctx) {
    if (ctx.args.length === 0)
      throw new UsageError(`terminate needs at least one run name: cloudboot ${this.usage}`);
    const dashNine = ctx.options.dashNine;
    const note = dashNine ? ' (dash-nine: no terminate programs)' : '';
    const runs: Record<string, unknown>[] = [];
    let exitCode: number = EXIT.ok;
    for (const name of ctx.args) {
      let code: number;
      try {
        const boot = openRun(ctx, name);
        const { success, interrupted, summary } = await useRun(ctx, boot, (s) =>
          s.operate('shutdown', () => boot.shutdown({ dashNine }), { note }),
        );
        code = exitCodeOfOutcome(success, interrupted);
        runs.push(summary);
      } catch (error) {
        code = reportError(ctx.io, error, ctx.options.verbosity === 'debug');
        runs.push({ run: name, error: errorJson(error) });
      }
      if (exitCode === EXIT.ok) exitCode = code;
    }
    return { exitCode, details: { runs } };
  },
};
