/**
 * Brings one service to `ready` from wherever its record says it is:
 * launch (intent recorded first) → address → reach → contextualize → ready.
 * A service that is already contextualized only has its ready program run.
 */
import { randomUUID } from 'node:crypto';
import type { LaunchSpec } from '../driver/driver.js';
import type { ManagedDriver } from '../driver/managed-driver.js';
import {
  DriverError,
  type DriverErrorKind,
  DriverLoadError,
  RemoteError,
  TemplateError,
} from '../errors.js';
import type { MachineSession, MachineTarget } from '../exec/machine.js';
import { fillBootconf, renderBootenv } from '../template/bootconf.js';
import { machineAttributes, publishable } from './attributes.js';
import type { OperationContext, ServiceOutcome } from './operation-context.js';
import { bootFiles, InstallError, readBootout } from './programs.js';
import { reapLeftovers } from './reap.js';
import { programFailure, runProgram } from './run-program.js';
import { launchSettings, type ServiceSettings, serviceSettings } from './service-settings.js';
import { ownsServiceDir, prepareServiceDir, type ServiceDir, serviceDir } from './workdirs.js';

/** Options of {@link bootService}. */
export interface BootServiceOptions {
  /**
   * Restart a failed service (repair, `CloudService.start()`): contextualize it
   * again. Without it a failed service is left as it is.
   */
  readonly restart?: boolean;
  /** Only run the ready program of services that got that far (status). */
  readonly checkOnly?: boolean;
  /** Token of the instance the launch replaces (repair of a VM that is gone). */
  readonly replaces?: string;
}

/**
 * Kinds of launch failure that prove the cloud made nothing: it refused the
 * request. After any other (throttled, transient) the instance may exist.
 */
const NOTHING_CREATED: ReadonlySet<DriverErrorKind> = new Set<DriverErrorKind>([
  'auth',
  'quota',
  'capacity',
  'not-found',
  'invalid-request',
]);

/** Runs the boot pipeline of one service; never throws for service failures. */
export async function bootService(
  ctx: OperationContext,
  name: string,
  options: BootServiceOptions = {},
): Promise<ServiceOutcome> {
  const started = performance.now();
  let record = ctx.record(name);
  if (ctx.aborted) return ctx.interrupted(name);
  ctx.starting(name);
  await reapLeftovers(ctx, name);
  // Nothing to check on a service that never got that far or was shut down.
  if (options.checkOnly && (!record.contextualized || record.state === 'terminated')) {
    return { service: name, level: record.level, status: 'not-executed' };
  }
  // A launch that failed without knowing whether the cloud made the
  // instance is not finished: resuming repeats it with its token.
  const launchUnknown =
    record.state === 'failed' && record.launchToken !== null && record.instanceId === null;
  if (record.state === 'failed' && !launchUnknown && !options.restart && !options.checkOnly) {
    const f = record.failure;
    return ctx.fail(name, f?.phase ?? 'ready', f?.message ?? 'failed earlier', f ?? {}, started);
  }
  if (record.state === 'terminated') {
    record = ctx.move(name, 'pending', {
      launchToken: null,
      instanceId: null,
      hostname: null,
      contextualized: false,
      published: {},
      machineAttributes: {},
      detail: 'booting again',
    });
  }
  const fail = (phase: Parameters<OperationContext['fail']>[1], error: unknown, tails = {}) =>
    ctx.fail(name, phase, (error as Error).message, tails, started);

  let settings: ServiceSettings;
  try {
    const launched = record.instanceId !== null ? (record.driver ?? undefined) : undefined;
    settings = serviceSettings(ctx.attrs, name, launched);
  } catch (error) {
    if (error instanceof TemplateError) return fail('resolve', error);
    throw error;
  }

  let driver: ManagedDriver;
  try {
    driver = await ctx.drivers.get(
      settings.driver,
      settings.driverBase,
      settings.driverSettings,
      settings.policy,
    );
  } catch (error) {
    if (error instanceof DriverLoadError) return fail('launch', error);
    throw error;
  }

  if (record.instanceId === null) {
    let launchSpec: LaunchSpec;
    try {
      launchSpec = launchSettings(ctx.attrs, name).launchSpec;
    } catch (error) {
      if (error instanceof TemplateError) return fail('resolve', error);
      throw error;
    }
    // A launch whose outcome is unknown (interrupted, or failed without
    // proof that nothing was made) is repeated with its token: the cloud
    // answers with the instance it may have made instead of making another.
    const token =
      (record.state === 'launching' || record.state === 'failed') && record.launchToken !== null
        ? record.launchToken
        : randomUUID();
    if (record.state !== 'launching') {
      record = await ctx.moveLaunching(
        name,
        settings.driver,
        token,
        driver.capabilities.launchesMachines,
        options.replaces,
      );
    }
    try {
      const { instanceId } = await driver.launch(launchSpec, {
        token,
        tags: {
          'cloudboot-run': ctx.store.runName,
          'cloudboot-service': name,
          'cloudboot-token': token,
        },
        ...(ctx.signal !== undefined && { signal: ctx.signal }),
      });
      record = ctx.moveLaunched(name, token, instanceId);
    } catch (error) {
      if (!(error instanceof DriverError) && !ctx.aborted) throw error;
      if (error instanceof DriverError && error.instanceId !== undefined) {
        ctx.moveLaunched(name, token, error.instanceId);
      }
      // Still `launching` with its token: resume asks again with the same token.
      if (ctx.aborted) return ctx.interrupted(name);
      if (
        error instanceof DriverError &&
        error.instanceId === undefined &&
        NOTHING_CREATED.has(error.kind)
      ) {
        // The cloud refused the launch: there is nothing to find or kill later.
        ctx.store.forgetLaunch(token);
        return ctx.fail(name, 'launch', error.message, {}, started, { launchToken: null });
      }
      // A throttled or transient failure may come after the cloud made the
      // instance (an answer lost on the way back): the token stays recorded,
      // so terminate finds the instance and resume repeats the launch with it.
      return fail('launch', error);
    }
  }

  if (record.hostname === null) {
    try {
      const info = await driver.waitUntilRunning(
        record.instanceId ?? '',
        settings.timeoutMs,
        ctx.signal,
      );
      // An existing machine's address is the hostname the plan gave, not a
      // fact learnt from a cloud: only launched machines publish theirs.
      const machine = driver.capabilities.launchesMachines
        ? machineAttributes(info)
        : { attributes: {}, ignored: [] };
      if (machine.ignored.length > 0) {
        ctx.logs.note(
          name,
          `warning: driver ${driver.name} gave attributes with reserved names, ignored: ${machine.ignored.join(', ')}`,
        );
      }
      record = ctx.move(name, 'addressed', {
        hostname: info.address ?? null,
        machineAttributes: machine.attributes,
        detail: info.address,
      });
    } catch (error) {
      if (ctx.aborted) return ctx.interrupted(name);
      if (error instanceof DriverError) return fail('address', error);
      throw error;
    }
  }
  if (ctx.aborted) return ctx.interrupted(name);

  const target: MachineTarget =
    settings.target.kind === 'ssh'
      ? { ...settings.target, host: record.hostname ?? '' }
      : settings.target;
  let session: MachineSession;
  try {
    session = await ctx.machines.session(target, settings.timeoutMs, {
      signal: ctx.signal,
      existing: !driver.capabilities.launchesMachines,
    });
  } catch (error) {
    if (ctx.aborted) return ctx.interrupted(name);
    if (error instanceof RemoteError) return fail('connect', error);
    throw error;
  }
  if (record.state === 'addressed') record = ctx.move(name, 'reachable', { detail: session.label });

  // A restarted service that failed (even after contextualizing: its ready
  // program failed) is contextualized again, as `restart` promises.
  let dirs: ServiceDir;
  try {
    dirs = await serviceDir(ctx, session, settings);
  } catch (error) {
    if (ctx.aborted) return ctx.interrupted(name);
    if (error instanceof RemoteError) return fail('connect', error);
    throw error;
  }
  if (!record.contextualized || (options.restart && record.state === 'failed')) {
    const outcome = await contextualize(ctx, session, settings, dirs, started);
    if (outcome !== undefined) return outcome;
  }
  if (ctx.aborted) return ctx.interrupted(name);
  return checkReady(ctx, session, settings, dirs, started);
}

async function contextualize(
  ctx: OperationContext,
  session: MachineSession,
  settings: ServiceSettings,
  dirs: ServiceDir,
  started: number,
): Promise<ServiceOutcome | undefined> {
  const name = settings.name;
  const before = ctx.record(name).state;
  await ctx.moveGuarding(name, 'contextualizing');
  try {
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
      // Left `contextualizing`: resume runs the boot program again.
      if (ctx.aborted) return ctx.interrupted(name);
      const failure = programFailure(settings.bootpgm, result, settings.timeoutMs);
      if (failure !== undefined) return ctx.fail(name, 'contextualize', failure, result, started);
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
  } catch (error) {
    if (ctx.aborted) return ctx.interrupted(name);
    return ctx.fail(name, 'contextualize', (error as Error).message, installTails(error), started);
  }
}

async function checkReady(
  ctx: OperationContext,
  session: MachineSession,
  settings: ServiceSettings,
  dirs: ServiceDir,
  started: number,
): Promise<ServiceOutcome> {
  const name = settings.name;
  if (settings.readypgm !== undefined) {
    try {
      const result = await runProgram(ctx, session, settings, settings.readypgm, dirs.dir);
      if (ctx.aborted) return ctx.interrupted(name);
      const failure = programFailure(settings.readypgm, result, settings.timeoutMs);
      if (failure !== undefined) return ctx.fail(name, 'ready', failure, result, started);
    } catch (error) {
      if (ctx.aborted) return ctx.interrupted(name);
      return ctx.fail(name, 'ready', (error as Error).message, installTails(error), started);
    }
  }
  if (ctx.record(name).state !== 'ready') ctx.move(name, 'ready');
  return ctx.complete(name, started);
}

function installTails(error: unknown): { stdoutTail?: string; stderrTail?: string } {
  return error instanceof InstallError && error.result !== undefined ? error.result : {};
}
