/**
 * The cloud steps of a boot: launch (the intent, with its idempotency token,
 * committed first) and waiting until the instance runs and has an address.
 */
import { randomUUID } from 'node:crypto';
import type { LaunchSpec } from '../driver/driver.js';
import { launchTags } from '../driver/launch-tags.js';
import type { ManagedDriver } from '../driver/managed-driver.js';
import { DriverError, type DriverErrorKind } from '../errors.js';
import { machineAttributes } from './attributes.js';
import type { ServiceOutcome } from './operation-context.js';
import type { ServiceRun } from './service-run.js';

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

/** What {@link launchInstance} launches with. */
export interface LaunchOptions {
  readonly driver: ManagedDriver;
  /** The driver's name, recorded with the intent. */
  readonly driverName: string;
  readonly launchSpec: LaunchSpec;
  /** Token of the instance the launch replaces (repair of a VM that is gone). */
  readonly replaces?: string | undefined;
}

/**
 * Launches the service's instance (`launching`, then `launched`). Returns
 * the failure outcome when the driver fails; throws anything else, and
 * anything after an abort (the service stays `launching` with its token:
 * resume asks again with the same token).
 */
export async function launchInstance(
  run: ServiceRun,
  options: LaunchOptions,
): Promise<ServiceOutcome | undefined> {
  const { ctx, name } = run;
  const { driver, replaces } = options;
  const record = run.record;
  // A launch whose outcome is unknown (interrupted, or failed without
  // proof that nothing was made) is repeated with its token: the cloud
  // answers with the instance it may have made instead of making another.
  const repeated =
    (record.state === 'launching' || record.state === 'failed') && record.launchToken !== null;
  const token = repeated ? record.launchToken : randomUUID();
  if (record.state !== 'launching') {
    await ctx.moveLaunching(name, {
      driver: options.driverName,
      token,
      durable: driver.capabilities.launchesMachines,
      ...(replaces !== undefined && { replaces }),
    });
  }
  try {
    const { instanceId } = await driver.launch(options.launchSpec, {
      token,
      tags: launchTags(ctx.store.runName, name, token),
      firstCall: !repeated,
      ...(ctx.signal !== undefined && { signal: ctx.signal }),
    });
    ctx.moveLaunched(name, token, instanceId);
    return undefined;
  } catch (error) {
    if (error instanceof DriverError && error.instanceId !== undefined) {
      ctx.moveLaunched(name, token, error.instanceId);
    }
    if (ctx.aborted || !(error instanceof DriverError)) throw error;
    if (error.instanceId === undefined && NOTHING_CREATED.has(error.kind)) {
      // The cloud refused the launch: there is nothing to find or kill later.
      ctx.store.forgetLaunch(token);
      return run.fail({ phase: 'launch', message: error.message, fields: { launchToken: null } });
    }
    // A throttled or transient failure may come after the cloud made the
    // instance (an answer lost on the way back): the token stays recorded,
    // so terminate finds the instance and resume repeats the launch with it.
    return run.fail({ phase: 'launch', message: error.message });
  }
}

/**
 * Waits until the service's instance runs and records its address and
 * machine attributes (`addressed`).
 * @throws DriverError when the instance does not come up in `timeoutMs`.
 */
export async function waitForAddress(
  run: ServiceRun,
  driver: ManagedDriver,
  timeoutMs: number,
): Promise<void> {
  const { ctx, name } = run;
  const info = await driver.waitUntilRunning(run.record.instanceId ?? '', timeoutMs, ctx.signal);
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
  ctx.move(name, 'addressed', {
    hostname: info.address ?? null,
    machineAttributes: machine.attributes,
    detail: info.address,
  });
}
