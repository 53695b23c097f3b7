/** `cloudboot reload PLAN -n NAME`: load an edited plan into an existing run and boot it. */
import { DriverRegistry, declaredCredentialKeys, loadPlan, UsageError } from '@cloudboot/core';
import { importDriverModule } from '../drivers.js';
import { type Command, OPERATION_OPTIONS, planArg } from './command.js';
import { dryRun, validatePlan } from './plan-preview.js';
import { openRun, withRun } from './run-session.js';

/**
 * The `reload` command: replaces the run's plan, then boots (new services
 * start, the others have their ready programs run again).
 */
export const reloadCommand: Command = {
  name: 'reload',
  usage: 'reload PLAN -n NAME',
  summary: 'load an edited plan into an existing run, then boot what is new',
  options: [...OPERATION_OPTIONS, 'globals-file', 'validate', 'dryrun'],
  async run(ctx) {
    const plan = planArg(ctx, this.usage);
    if (ctx.options.validate) return validatePlan(ctx, plan);
    if (ctx.options.dryrun) return dryRun(ctx, plan);
    const name = ctx.options.name;
    if (name === undefined)
      throw new UsageError(`reload needs the run name: cloudboot ${this.usage}`);
    const boot = openRun(ctx, name);
    return withRun(ctx, boot, async (s) => {
      const edited = loadPlan(plan, {
        globals: ctx.options.globals,
        globalsFiles: ctx.options.globalsFiles,
        cwd: ctx.io.cwd,
      });
      // The credential keys of driver modules new in the plan, before it is stored.
      const credentialKeys = await declaredCredentialKeys(
        edited,
        ctx.io.env,
        new DriverRegistry({ importModule: importDriverModule }),
      );
      boot.reload(plan, { globalsFiles: ctx.options.globalsFiles, credentialKeys });
      ctx.out.info(`run ${boot.name}: loaded ${boot.plan.topFile}`);
      return s.operate('boot', () => boot.run());
    });
  },
};
