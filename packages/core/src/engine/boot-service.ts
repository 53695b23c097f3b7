/**
 * Brings one service to `ready` from wherever its record says it is:
 * launch (intent recorded first) → address → reach → contextualize → ready.
 * A service that is already contextualized only has its ready program run.
 * The steps run through {@link ServiceRun.steps}, which stops at an abort.
 */
import type { LaunchSpec } from '../driver/driver.js';
import type { ManagedDriver } from '../driver/managed-driver.js';
import {
  DriverError,
  DriverLoadError,
  RemoteError,
  type ServicePhase,
  TemplateError,
} from '../errors.js';
import type { MachineSession, MachineTarget } from '../exec/machine.js';
import { STARTING_OVER } from '../state/service-transitions.js';
import { contextualize, installTails, readyCheck } from './boot-contextualize.js';
import { launchInstance, waitForAddress } from './boot-launch.js';
import type { ServiceOutcome } from './operation-context.js';
import { reapLeftovers } from './reap.js';
import type { PipelineStep, ServiceRun } from './service-run.js';
import { launchSettings, type ServiceSettings, serviceSettings } from './service-settings.js';
import { type ServiceDir, serviceDir } from './workdirs.js';

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

/** A step's errors of class `kind` fail the service in `phase`. */
function failsOn(
  phase: ServicePhase,
  kind: abstract new (...args: never[]) => Error,
): PipelineStep['failsAs'] {
  return { phase, when: (error) => error instanceof kind };
}

/** Runs the boot pipeline of one service; never throws for service failures. */
export async function bootService(
  run: ServiceRun,
  options: BootServiceOptions = {},
): Promise<ServiceOutcome> {
  const boot = new Boot(run, options);
  const outcome = await run.steps([
    { run: () => boot.begin() },
    { run: () => boot.resolve(), failsAs: failsOn('resolve', TemplateError) },
    { run: () => boot.loadDriver(), failsAs: failsOn('launch', DriverLoadError) },
    { run: () => boot.resolveLaunch(), failsAs: failsOn('resolve', TemplateError) },
    { run: () => boot.launch() },
    { run: () => boot.address(), failsAs: failsOn('address', DriverError) },
    { run: () => boot.connect(), failsAs: failsOn('connect', RemoteError) },
    {
      run: () => boot.contextualize(),
      failsAs: { phase: 'contextualize', when: () => true, tails: installTails },
    },
    {
      run: () => readyCheck(run, boot.session, boot.settings, boot.dirs),
      failsAs: { phase: 'ready', when: () => true, tails: installTails },
    },
  ]);
  if (outcome !== undefined) return outcome;
  if (run.record.state !== 'ready') run.ctx.move(run.name, 'ready');
  return run.complete();
}

/** What one boot pipeline learns, step by step, for the steps after. */
class Boot {
  readonly #run: ServiceRun;
  readonly #options: BootServiceOptions;
  #settings: ServiceSettings | undefined;
  #driver: ManagedDriver | undefined;
  #launchSpec: LaunchSpec | undefined;
  #session: MachineSession | undefined;
  #dirs: ServiceDir | undefined;

  constructor(run: ServiceRun, options: BootServiceOptions) {
    this.#run = run;
    this.#options = options;
  }

  get settings(): ServiceSettings {
    return made(this.#settings);
  }
  get driver(): ManagedDriver {
    return made(this.#driver);
  }
  get session(): MachineSession {
    return made(this.#session);
  }
  get dirs(): ServiceDir {
    return made(this.#dirs);
  }

  /** Reaps leftovers and decides whether there is anything to do. */
  async begin(): Promise<ServiceOutcome | undefined> {
    const run = this.#run;
    const { checkOnly, restart } = this.#options;
    run.starting();
    await reapLeftovers(run.ctx, run.name);
    const record = run.record;
    // Nothing to check on a service that never got that far or was shut down.
    if (
      checkOnly &&
      (!record.contextualized || record.state === 'terminated' || record.state === 'terminating')
    ) {
      return run.notExecuted();
    }
    // Its terminate program may have run, its directory or its machine may be
    // gone: a service is booted again only once its shutdown is finished.
    if (record.state === 'terminating') {
      return run.fail({
        phase: 'terminate',
        message: `its shutdown was interrupted; finish it (cloudboot terminate ${run.ctx.store.runName}) before booting it again`,
      });
    }
    // A launch that failed without knowing whether the cloud made the
    // instance is not finished: resuming repeats it with its token.
    const launchUnknown =
      record.state === 'failed' && record.launchToken !== null && record.instanceId === null;
    if (record.state === 'failed' && !launchUnknown && !restart && !checkOnly) {
      const f = record.failure;
      return run.fail({
        phase: f?.phase ?? 'ready',
        message: f?.message ?? 'failed earlier',
        tails: f ?? {},
      });
    }
    if (record.state === 'terminated') {
      run.ctx.move(run.name, 'pending', { ...STARTING_OVER, detail: 'booting again' });
    }
    return undefined;
  }

  /** The service's settings (the driver it launched with, once it has an instance). */
  resolve(): undefined {
    const { ctx, name, record } = this.#run;
    const launched = record.instanceId !== null ? (record.driver ?? undefined) : undefined;
    this.#settings = serviceSettings(ctx.attrs, name, launched);
    return undefined;
  }

  async loadDriver(): Promise<undefined> {
    const s = this.settings;
    this.#driver = await this.#run.ctx.drivers.get(
      s.driver,
      s.driverBase,
      s.driverSettings,
      s.policy,
    );
    return undefined;
  }

  /** What a launch needs, when the service has no instance yet. */
  resolveLaunch(): undefined {
    const { ctx, name, record } = this.#run;
    if (record.instanceId === null) this.#launchSpec = launchSettings(ctx.attrs, name).launchSpec;
    return undefined;
  }

  launch(): Promise<ServiceOutcome | undefined> | undefined {
    if (this.#run.record.instanceId !== null) return undefined;
    return launchInstance(this.#run, {
      driver: this.driver,
      driverName: this.settings.driver,
      launchSpec: made(this.#launchSpec),
      replaces: this.#options.replaces,
    });
  }

  async address(): Promise<undefined> {
    if (this.#run.record.hostname === null) {
      await waitForAddress(this.#run, this.driver, this.settings.timeoutMs);
    }
    return undefined;
  }

  /** Opens the machine session (`reachable`) and finds the service's directory. */
  async connect(): Promise<undefined> {
    const { ctx, name } = this.#run;
    const settings = this.settings;
    const target: MachineTarget =
      settings.target.kind === 'ssh'
        ? { ...settings.target, host: this.#run.record.hostname ?? '' }
        : settings.target;
    const session = await ctx.machines.session(target, settings.timeoutMs, {
      signal: ctx.signal,
      existing: !this.driver.capabilities.launchesMachines,
    });
    this.#session = session;
    if (this.#run.record.state === 'addressed') {
      ctx.move(name, 'reachable', { detail: session.label });
    }
    this.#dirs = await serviceDir(ctx, session, settings);
    return undefined;
  }

  contextualize(): Promise<ServiceOutcome | undefined> | undefined {
    const record = this.#run.record;
    // A restarted service that failed (even after contextualizing: its ready
    // program failed) is contextualized again, as `restart` promises.
    if (record.contextualized && !(this.#options.restart && record.state === 'failed')) {
      return undefined;
    }
    return contextualize(this.#run, this.session, this.settings, this.dirs);
  }
}

/** A value an earlier step made; steps run in order, so it is there. */
function made<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('a boot step ran before the step that makes its input');
  return value;
}
