/**
 * Tears one service down: terminate program (unless dash-nine), removal of
 * its working directory, then termination of the VM if cloudboot launched it.
 */
import type { LaunchSpec } from '../driver/driver.js';
import { launchTags } from '../driver/launch-tags.js';
import type { ManagedDriver } from '../driver/managed-driver.js';
import { RemoteError, TemplateError } from '../errors.js';
import type { MachineSession, MachineTarget } from '../exec/machine.js';
import type { ServiceRecord } from '../state/run-store.js';
import type { OperationContext, ServiceOutcome } from './operation-context.js';
import { reapLeftovers } from './reap.js';
import { programFailure, runProgram } from './run-program.js';
import type { ServiceRun } from './service-run.js';
import {
  driverAccount,
  launchSettings,
  type MachineSettings,
  machineSettings,
  type ProgramSetting,
  programSetting,
} from './service-settings.js';
import {
  ownsServiceDir,
  removeOwnedServiceDir,
  removeServiceDir,
  type ServiceDir,
  serviceDir,
} from './workdirs.js';

/** Options of {@link shutdownService}. */
export interface ShutdownServiceOptions {
  /** Skip terminate programs and working-directory removal; just kill VMs. */
  readonly dashNine?: boolean;
}

/**
 * How long shutdown tries to reach a machine. Shorter than a boot's wait: the
 * machine was up before, and a VM that is gone must not hold up its own
 * termination for `pgm_timeout`.
 */
const SHUTDOWN_CONNECT_MS = 60_000;

/** States and failure phases after which the machine had been reached. */
const REACHED_STATES: ReadonlySet<string> = new Set([
  'reachable',
  'contextualizing',
  'contextualized',
  'ready',
  'terminating',
]);
const REACHED_PHASES: ReadonlySet<string> = new Set(['contextualize', 'ready', 'terminate']);

/** True when the service's machine had been reached: its shutdown connects to it (unless dash-nine). */
export function wasReached(record: ServiceRecord): boolean {
  return (
    record.contextualized ||
    REACHED_STATES.has(record.state) ||
    (record.state === 'failed' && REACHED_PHASES.has(record.failure?.phase ?? ''))
  );
}

/** Shuts one service down; never throws for service failures (the caller guards the rest). */
export async function shutdownService(
  run: ServiceRun,
  options: ShutdownServiceOptions = {},
): Promise<ServiceOutcome> {
  const { ctx, name } = run;
  const record = run.record;
  if (record.state === 'terminated') return run.notExecuted();
  let driver: ManagedDriver | undefined;
  // One step up to the machine's termination: an abort stops the shutdown
  // before it starts, or after the terminate program (the service stays
  // `terminating`, for the shutdown to be repeated).
  const outcome = await run.steps([
    {
      run: async () => {
        run.starting();
        await reapLeftovers(ctx, name);
        if (record.instanceId === null && record.launchToken === null) {
          ctx.move(name, 'terminated', { detail: 'never launched' });
          return run.complete();
        }
        await ctx.moveGuarding(
          name,
          'terminating',
          options.dashNine ? { detail: 'dash-nine' } : {},
        );
        // Only the account is needed to terminate: a boot-only value that no
        // longer resolves must not keep a VM running.
        const account = driverAccount(ctx.attrs, name);
        driver = await ctx.drivers.get(
          record.driver ?? 'static-ip',
          account.driverBase,
          account.driverSettings,
          account.policy,
        );
        if (options.dashNine || record.hostname === null || !wasReached(record)) return undefined;
        const failure = await cleanUpMachine(ctx, name, record.hostname, driver);
        ctx.signal?.throwIfAborted();
        return failure === undefined
          ? undefined
          : run.fail({ phase: 'terminate', message: failure.message, tails: failure.tails });
      },
    },
  ]);
  if (outcome !== undefined) return outcome;
  if (driver !== undefined) await terminateInstance(ctx, record, driver);
  ctx.move(name, 'terminated');
  return run.complete();
}

type CleanUpFailure = { message: string; tails: { stdoutTail?: string; stderrTail?: string } };

/**
 * Runs the terminate program in the working directory and removes it. A VM
 * that cannot be reached any more is noted and left to be terminated; an
 * existing machine that cannot be reached fails (its terminate program
 * matters, and the machine will still be there).
 */
async function cleanUpMachine(
  ctx: OperationContext,
  name: string,
  hostname: string,
  driver: ManagedDriver,
): Promise<CleanUpFailure | undefined> {
  let settings: MachineSettings;
  let terminatepgm: ProgramSetting | undefined;
  try {
    settings = machineSettings(ctx.attrs, name);
    terminatepgm = programSetting(ctx.attrs, name, 'terminatepgm');
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    if (driver.capabilities.launchesMachines) {
      ctx.logs.note(
        name,
        `cannot run the terminate program (${error.message}); terminating the machine without it`,
      );
      return undefined;
    }
    return {
      message: `cannot run the terminate program: ${error.message}; use dash-nine to forget the machine without it`,
      tails: {},
    };
  }
  const target: MachineTarget =
    settings.target.kind === 'ssh' ? { ...settings.target, host: hostname } : settings.target;
  let session: MachineSession;
  try {
    session = await ctx.machines.session(
      target,
      Math.min(settings.timeoutMs, SHUTDOWN_CONNECT_MS),
      { signal: ctx.signal, existing: true },
    );
  } catch (error) {
    if (!(error instanceof RemoteError) || ctx.aborted) throw error;
    if (driver.capabilities.launchesMachines) {
      ctx.logs.note(
        name,
        `cannot reach the machine (${error.message}); terminating it without the terminate program`,
      );
      return undefined;
    }
    return {
      message: `cannot reach the machine to run its terminate program: ${error.message}; use dash-nine to forget it without`,
      tails: {},
    };
  }
  // Terminate makes nothing: a directory that is gone, or that this run did not make, is left alone.
  const dirs = await serviceDir(ctx, session, settings);
  const notOurs = (): undefined => {
    ctx.logs.note(
      name,
      `${dirs.dir} is not there or was not made by this run: no terminate program run in it, nothing removed`,
    );
    return undefined;
  };
  // Without a terminate program, the check and the removal are one request.
  if (terminatepgm === undefined) {
    return (await removeOwnedServiceDir(session, dirs)) ? undefined : notOurs();
  }
  if (!(await ownsServiceDir(session, dirs))) return notOurs();
  const failure = await runTerminateProgram(ctx, session, settings, terminatepgm, dirs);
  if (failure !== undefined) return failure;
  await removeServiceDir(session, dirs);
  return undefined;
}

async function runTerminateProgram(
  ctx: OperationContext,
  session: MachineSession,
  settings: MachineSettings,
  terminatepgm: ProgramSetting,
  dirs: ServiceDir,
): Promise<CleanUpFailure | undefined> {
  const result = await runProgram(ctx, session, settings, terminatepgm, dirs.dir);
  const failure = programFailure(terminatepgm, result, settings.timeoutMs);
  if (failure === undefined) return undefined;
  return {
    message: `${failure}; the machine was left as it is (use dash-nine to skip terminate programs)`,
    tails: result,
  };
}

async function terminateInstance(
  ctx: OperationContext,
  record: ServiceRecord,
  driver: ManagedDriver,
): Promise<void> {
  const instanceId = record.instanceId ?? (await recoverInstanceId(ctx, driver, record));
  if (instanceId === undefined) return;
  if (driver.capabilities.launchesMachines) {
    await driver.terminate([instanceId]);
    // The address may be given to another machine: its host key with it.
    if (record.hostname !== null) ctx.store.unpinHostKeys(record.hostname);
  }
  // An existing machine is only released: it is not ours to kill.
  if (record.launchToken !== null) ctx.store.recordTerminated([record.launchToken]);
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
  record: ServiceRecord,
): Promise<string | undefined> {
  const token = record.launchToken;
  if (token === null || !driver.capabilities.launchesMachines) return undefined;
  const tags = launchTags(ctx.store.runName, record.name, token);
  let instanceId: string | undefined;
  if (driver.findByTags !== undefined) {
    instanceId = (await driver.findByTags(tags))[0]?.instanceId;
  } else {
    let launchSpec: LaunchSpec;
    try {
      launchSpec = launchSettings(ctx.attrs, record.name).launchSpec;
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      throw new TemplateError(
        `the launch with token ${token} was interrupted before the cloud answered, and driver ${driver.name} cannot search by tags, so finding its machine means repeating the launch, which needs the launch settings: ${error.message}; make them resolvable again, or look for tag cloudboot-token=${token} in the cloud`,
      );
    }
    instanceId = (await driver.launch(launchSpec, { token, tags })).instanceId;
  }
  if (instanceId !== undefined) ctx.store.recordInstanceId(token, instanceId);
  return instanceId;
}
