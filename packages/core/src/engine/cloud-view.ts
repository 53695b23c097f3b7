/**
 * What the clouds say about a run's launched machines now: one batched
 * `describe` per driver account for every service that has an instance, so
 * `status`, `repair` and `CloudBoot.describe()` notice a VM that was stopped,
 * terminated or deleted outside cloudboot.
 */
import type { InstanceInfo, InstanceState } from '../driver/driver.js';
import type { ManagedDriver } from '../driver/managed-driver.js';
import type { DriverRegistry } from '../driver/registry.js';
import { EXISTING_MACHINE_DRIVER } from '../plan/service-driver.js';
import type { ServiceRecord } from '../state/run-store.js';
import type { Attributes } from './attributes.js';
import { driverAccount } from './service-settings.js';

/** The cloud's view of one service's recorded instance. */
export interface CloudView {
  readonly instanceId: string;
  /** What the cloud says; absent when it could not be asked (see `error`). */
  readonly state?: InstanceState;
  readonly nativeState?: string;
  readonly address?: string;
  /** Why the cloud could not be asked. */
  readonly error?: string;
}

/** States in which an instance is not, and will not by itself become, usable. */
const DOWN: ReadonlySet<InstanceState> = new Set(['stopping', 'stopped', 'terminated', 'vanished']);

/** Record states whose instance is not (or not yet) the service's machine. */
const NO_MACHINE: ReadonlySet<string> = new Set([
  'pending',
  'launching',
  'terminating',
  'terminated',
]);

/** True when the cloud says the instance is stopped, going away, terminated or unknown. */
export function isDown(view: CloudView | undefined): boolean {
  return view?.state !== undefined && DOWN.has(view.state);
}

/** One sentence saying that a service's machine is down and what to do. */
export function downMessage(run: string, view: CloudView): string {
  return `instance ${view.instanceId} is ${view.state} (the cloud says '${view.nativeState}'); run \`cloudboot repair ${run}\` to replace it`;
}

/** The managed driver of a service's recorded instance, from its account settings only. */
export function recordDriver(
  record: ServiceRecord,
  attrs: Attributes,
  drivers: DriverRegistry,
): Promise<ManagedDriver> {
  const account = driverAccount(attrs, record.name);
  return drivers.get(
    record.driver ?? EXISTING_MACHINE_DRIVER,
    account.driverBase,
    account.driverSettings,
    account.policy,
  );
}

/**
 * Asks each driver account once (one batched `describe`) about the recorded
 * instances of `records` that cloudboot launched. Services without an
 * instance, and machines that existed before (not launched), are left out.
 * Never throws: a service whose cloud cannot be asked gets an `error`.
 */
export async function askClouds(
  records: readonly ServiceRecord[],
  attrs: Attributes,
  drivers: DriverRegistry,
  signal?: AbortSignal,
): Promise<Map<string, CloudView>> {
  const views = new Map<string, CloudView>();
  const groups = new Map<ManagedDriver, ServiceRecord[]>();
  for (const record of records) {
    const instanceId = record.instanceId;
    if (instanceId === null || NO_MACHINE.has(record.state)) continue;
    try {
      const driver = await recordDriver(record, attrs, drivers);
      if (!driver.capabilities.launchesMachines) continue;
      groups.set(driver, [...(groups.get(driver) ?? []), record]);
    } catch (error) {
      views.set(record.name, { instanceId, error: `cannot ask its cloud: ${message(error)}` });
    }
  }
  await Promise.all(
    [...groups].map(async ([driver, list]) => {
      const ids = [...new Set(list.map((r) => r.instanceId ?? ''))];
      let infos: InstanceInfo[];
      try {
        infos = await driver.describe(ids, signal !== undefined ? { signal } : {});
      } catch (error) {
        for (const r of list) {
          views.set(r.name, {
            instanceId: r.instanceId ?? '',
            error: `describe failed: ${message(error)}`,
          });
        }
        return;
      }
      const byId = new Map(infos.map((info) => [info.instanceId, info]));
      for (const r of list) {
        const instanceId = r.instanceId ?? '';
        // A driver that leaves an id out of its answer does not know it.
        const info = byId.get(instanceId);
        views.set(r.name, {
          instanceId,
          state: info?.state ?? 'vanished',
          nativeState: info?.nativeState ?? 'not described',
          ...(info?.address !== undefined && { address: info.address }),
        });
      }
    }),
  );
  return views;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
