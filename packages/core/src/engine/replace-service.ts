/**
 * Repair of a service whose VM is gone (stopped, terminated or deleted
 * outside cloudboot): the old instance is terminated (safe when already
 * gone, and a stopped VM must not linger), the service starts over from
 * `pending`, and the boot launches a new instance with a new token,
 * recorded as replacing the old one.
 */
import { DriverError } from '../errors.js';
import { STARTING_OVER } from '../state/service-transitions.js';
import { type CloudView, downMessage, recordDriver } from './cloud-view.js';
import type { ServiceOutcome } from './operation-context.js';
import type { ServiceRun } from './service-run.js';

/**
 * Terminates the service's old instance and resets the service to `pending`.
 * Returns the old launch token (for the new launch's history row), or the
 * failure outcome when the old instance could not be terminated: a second
 * machine is not launched while the first may still be alive.
 */
export async function retireInstance(
  run: ServiceRun,
  view: CloudView,
): Promise<{ replaces: string | undefined } | { outcome: ServiceOutcome }> {
  const { ctx, name } = run;
  const record = run.record;
  try {
    const driver = await recordDriver(record, ctx.attrs, ctx.drivers);
    await driver.terminate([view.instanceId]);
  } catch (error) {
    if (!(error instanceof DriverError)) throw error;
    return {
      outcome: run.fail({
        phase: 'launch',
        message: `${downMessage(ctx.store.runName, view)}, but terminating it failed, so no replacement was launched: ${error.message}`,
      }),
    };
  }
  if (record.launchToken !== null) ctx.store.recordTerminated([record.launchToken]);
  // The address may be given to another machine: its host key with it.
  if (record.hostname !== null) ctx.store.unpinHostKeys(record.hostname);
  ctx.move(name, 'pending', {
    ...STARTING_OVER,
    detail: `replacing instance ${view.instanceId}, which is ${view.state}`,
  });
  return { replaces: record.launchToken ?? undefined };
}
