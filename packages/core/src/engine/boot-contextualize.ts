/**
 * The last two steps of a boot: contextualize (the service directory, the
 * bootconf files and the boot program, whose published attributes are
 * stored) and the ready check (the ready program).
 */

import type { MachineSession } from '../exec/machine.js';
import { fillBootconf, renderBootenv } from '../template/bootconf.js';
import { publishable } from './attributes.js';
import type { ServiceOutcome } from './operation-context.js';
import { bootFiles, InstallError, readBootout } from './programs.js';
import { programFailure, runProgram } from './run-program.js';
import type { OutputTails, ServiceRun } from './service-run.js';
import type { ServiceSettings } from './service-settings.js';
import { ownsServiceDir, prepareServiceDir, type ServiceDir } from './workdirs.js';

/**
 * Runs the boot program (committing `contextualizing` first) and stores what
 * it published (`contextualized`). Returns the failure outcome when the boot
 * program fails; throws (to fail the service in phase `contextualize`) on
 * any other problem. Interrupted, the service stays `contextualizing`:
 * resume runs the boot program again.
 */
export async function contextualize(
  run: ServiceRun,
  session: MachineSession,
  settings: ServiceSettings,
  dirs: ServiceDir,
): Promise<ServiceOutcome | undefined> {
  const { ctx, name } = run;
  const before = run.record.state;
  // Until the boot program succeeds again, the service is not contextualized:
  // an interrupted run of it is repeated by resume, not taken as done.
  await ctx.moveGuarding(name, 'contextualizing', { contextualized: false });
  // An earlier attempt may have left files (a stale bootout.json); start clean.
  if (
    (before === 'failed' || before === 'contextualizing') &&
    (await ownsServiceDir(session, dirs))
  )
    await session.removeDir(dirs.dir);
  // The directory is claimed and the files written in one request.
  await prepareServiceDir(session, dirs, settings, ctx.store.runName, async () => {
    const bag = ctx.attrs.bag(name);
    const template =
      settings.bootconf === undefined
        ? '{}'
        : (await ctx.files.read(settings.bootconf)).toString('utf8');
    const bootconf = fillBootconf(
      template,
      bag,
      (ref) => ctx.attrs.substitute(name, ref.text, ''),
      settings.bootconf ?? '(none)',
    );
    const bootenv = renderBootenv(bootconf.document);
    if (bootenv.skipped.length > 0) {
      ctx.logs.note(
        name,
        `bootenv.sh: skipped keys that are not shell names: ${bootenv.skipped.join(', ')}`,
      );
    }
    return bootFiles(bootconf.json, bootenv.text);
  });
  if (settings.bootpgm !== undefined) {
    const result = await runProgram(ctx, session, settings, settings.bootpgm, dirs.dir);
    ctx.signal?.throwIfAborted();
    const failure = programFailure(settings.bootpgm, result, settings.timeoutMs);
    if (failure !== undefined) {
      return run.fail({ phase: 'contextualize', message: failure, tails: result });
    }
  }
  const { attributes: published, ignored } = publishable(await readBootout(session, dirs.dir));
  if (ignored.length > 0) {
    ctx.logs.note(
      name,
      `warning: bootout.json: ignored ${ignored.join(', ')}: reserved names (set by cloudboot or the plan) cannot be published`,
    );
  }
  ctx.move(name, 'contextualized', {
    contextualized: true,
    published,
    detail:
      Object.keys(published).length > 0
        ? `published ${Object.keys(published).join(', ')}`
        : undefined,
  });
  return undefined;
}

/**
 * Runs the ready program, if the service has one. Returns the failure
 * outcome when it fails; throws (to fail the service in phase `ready`) when
 * it cannot be run.
 */
export async function readyCheck(
  run: ServiceRun,
  session: MachineSession,
  settings: ServiceSettings,
  dirs: ServiceDir,
): Promise<ServiceOutcome | undefined> {
  if (settings.readypgm === undefined) return undefined;
  const result = await runProgram(run.ctx, session, settings, settings.readypgm, dirs.dir);
  run.ctx.signal?.throwIfAborted();
  const failure = programFailure(settings.readypgm, result, settings.timeoutMs);
  if (failure === undefined) return undefined;
  return run.fail({ phase: 'ready', message: failure, tails: result });
}

/** The output tails an install failure carries, for the failure record. */
export function installTails(error: unknown): OutputTails {
  return error instanceof InstallError && error.result !== undefined ? error.result : {};
}
