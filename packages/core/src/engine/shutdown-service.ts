/**
 * Tears one service down: terminate program (unless dash-nine), removal of
 * its working directory, then termination of the VM if cloudboot launched it.
 */

import type { ManagedDriver } from '../driver/managed-driver.js';
import { DriverError, DriverLoadError, RemoteError, TemplateError } from '../errors.js';
import type { MachineTarget } from '../exec/machine.js';
import type { ServiceRecord } from '../state/run-store.js';
import type { OperationContext, ServiceOutcome } from './operation-context.js';
import { removeWorkdir } from './programs.js';
import { programFailure, runProgram } from './run-program.js';
import { type ServiceSettings, serviceSettings } from './service-settings.js';

/** Options of {@link shutdownService}. */
export interface ShutdownServiceOptions {
  /** Skip terminate programs and working-directory removal; just kill VMs. */
  readonly dashNine?: boolean;
}

const KNOWN_ERRORS = [DriverError, DriverLoadError, RemoteError, TemplateError];

/** Shuts one service down; never throws for service failures. */
export async function shutdownService(
  ctx: OperationContext,
  name: string,
  options: ShutdownServiceOptions = {},
): Promise<ServiceOutcome> {
  const started = performance.now();
  const record = ctx.record(name);
  if (record.state === 'terminated') {
    return { service: name, level: record.level, status: 'not-executed' };
  }
  if (ctx.aborted) return ctx.interrupted(name);
  ctx.starting(name);
  if (record.instanceId === null && record.launchToken === null) {
    ctx.move(name, 'terminated', { detail: 'never launched' });
    return ctx.complete(name, started);
  }
  ctx.move(name, 'terminating', options.dashNine ? { detail: 'dash-nine' } : {});
  try {
    const settings = serviceSettings(ctx.attrs, name);
    if (!options.dashNine && record.hostname !== null) {
      const failure = await cleanUpMachine(ctx, settings, record.hostname);
      if (ctx.aborted) return ctx.interrupted(name);
      if (failure !== undefined)
        return ctx.fail(name, 'terminate', failure.message, failure.tails, started);
    }
    if (record.instanceId !== null || record.launchToken !== null) {
      await terminateInstance(ctx, settings, record);
    }
  } catch (error) {
    // Left `terminating`: running terminate again finishes the job.
    if (ctx.aborted) return ctx.interrupted(name);
    if (KNOWN_ERRORS.some((E) => error instanceof E)) {
      return ctx.fail(name, 'terminate', (error as Error).message, {}, started);
    }
    throw error;
  }
  ctx.move(name, 'terminated');
  return ctx.complete(name, started);
}

async function cleanUpMachine(
  ctx: OperationContext,
  settings: ServiceSettings,
  hostname: string,
): Promise<{ message: string; tails: { stdoutTail: string; stderrTail: string } } | undefined> {
  const target: MachineTarget =
    settings.target.kind === 'ssh' ? { ...settings.target, host: hostname } : settings.target;
  // At shutdown every machine has been reached before: a refused key is final.
  const session = await ctx.machines.session(target, settings.timeoutMs, {
    signal: ctx.signal,
    existing: true,
  });
  let createdNow = false;
  if (settings.terminatepgm !== undefined) {
    // The working directory may be gone (a boot that never got that far).
    createdNow = await session.createDir(settings.workdir);
    const result = await runProgram(ctx, session, settings, settings.terminatepgm);
    const failure = programFailure(settings.terminatepgm, result, settings.timeoutMs);
    if (failure !== undefined) {
      return {
        message: `${failure}; the machine was left as it is (use dash-nine to skip terminate programs)`,
        tails: result,
      };
    }
  }
  if (!(await removeWorkdir(session, settings.workdir, createdNow))) {
    ctx.logs.note(
      settings.name,
      `did not remove ${settings.workdir}: it is missing or was not made by cloudboot`,
    );
  }
  return undefined;
}

async function terminateInstance(
  ctx: OperationContext,
  settings: ServiceSettings,
  record: ServiceRecord,
): Promise<void> {
  const name = record.driver ?? settings.driver;
  const driver = await ctx.drivers.get(name, settings.driverBase, settings.driverSettings);
  const instanceId = record.instanceId ?? (await recoverInstanceId(ctx, driver, settings, record));
  if (instanceId === undefined) return;
  // An existing machine is only released: it is not ours to kill.
  if (driver.driver.capabilities.launchesMachines) await driver.terminate([instanceId]);
  ctx.store.recordTerminated([instanceId], name);
}

/**
 * The instance of a launch whose answer was lost (a crash or interrupt while
 * `launching`). The cloud may or may not have created it; to leave nothing
 * behind, ask by tag where the driver can, else repeat the launch with the
 * recorded token: idempotent, it returns the instance if there is one (and
 * creates it, to be terminated at once, if the first call never arrived).
 */
async function recoverInstanceId(
  ctx: OperationContext,
  driver: ManagedDriver,
  settings: ServiceSettings,
  record: ServiceRecord,
): Promise<string | undefined> {
  const token = record.launchToken;
  if (token === null || !driver.driver.capabilities.launchesMachines) return undefined;
  const tags = {
    'cloudboot-run': ctx.store.runName,
    'cloudboot-service': record.name,
    'cloudboot-token': token,
  };
  let instanceId: string | undefined;
  if (driver.driver.capabilities.findsByTags && driver.driver.findByTags !== undefined) {
    instanceId = (await driver.driver.findByTags(tags))[0]?.instanceId;
  } else {
    instanceId = (await driver.launch(settings.launchSpec, { token, tags })).instanceId;
  }
  if (instanceId !== undefined) ctx.store.recordInstanceId(token, instanceId);
  return instanceId;
}
