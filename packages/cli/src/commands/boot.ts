/** `cloudboot boot PLAN [-n NAME]`: load a plan into a new run and boot it. */
import { type Command, OPERATION_OPTIONS, planArg } from './command.js';
import { dryRun, validatePlan } from './plan-preview.js';
import { createRun, withRun } from './run-session.js';

/** The `boot` command. */
export const bootCommand: Command = {
  name: 'boot',
  usage: 'boot PLAN [-n NAME]',
  summary: 'load a plan into a new run and boot it level by level',
  options: [...OPERATION_OPTIONS, 'globals-file', 'validate', 'dryrun'],
  async run(ctx) {
    const plan = planArg(ctx, this.usage);
    if (ctx.options.validate) return validatePlan(ctx, plan);
    if (ctx.options.dryrun) return dryRun(ctx, plan);
    const boot = await createRun(ctx, plan);
    return withRun(ctx, boot, (s) => s.operate('boot', () => boot.run()));
  },
};
