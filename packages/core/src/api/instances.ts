/**
 * Every instance ever launched for a run, with what its cloud says now, and
 * the termination of orphans: instances that are not (or no longer) the
 * machine of a live service but still exist.
 */
import type { InstanceInfo } from '../driver/driver.js';
import { launchTags } from '../driver/launch-tags.js';
import type { ManagedDriver } from '../driver/managed-driver.js';
import type { DriverRegistry } from '../driver/registry.js';
import type { Attributes } from '../engine/attributes.js';
import { driverAccount } from '../engine/service-settings.js';
import type { InstanceRecord, RunStore } from '../state/run-store.js';

/** One row of a run's instance history. */
export interface InstanceStatus extends InstanceRecord {
  /** True when it is the machine of a service that is not terminated. */
  readonly current: boolean;
  /** What the cloud says now; `undefined` when it was not asked (see `note`). */
  readonly cloud?: Pick<InstanceInfo, 'state' | 'nativeState' | 'address'>;
  /** Why the cloud could not be asked, if it was not. */
  readonly note?: string;
}

/** Cloud states of instances that still exist and are not already going away. */
const ALIVE: ReadonlySet<string> = new Set(['pending', 'running', 'stopped']);

/** True when a history row is an orphan: not current, and still alive in its cloud. */
export function isOrphan(status: InstanceStatus): boolean {
  return !status.current && status.cloud !== undefined && ALIVE.has(status.cloud.state);
}

async function driverFor(
  record: InstanceRecord,
  attrs: Attributes,
  drivers: DriverRegistry,
): Promise<ManagedDriver> {
  // Only the account: a boot-only value that no longer resolves must not hide the instance.
  const account = driverAccount(attrs, record.service);
  return drivers.get(record.driver, account.driverBase, account.driverSettings, account.policy);
}

/**
 * Fills in the ids of interrupted launches (no answer recorded) from the
 * cloud, by their token tag, where the driver can search by tag.
 */
async function findLostInstances(
  store: RunStore,
  attrs: Attributes,
  drivers: DriverRegistry,
): Promise<void> {
  for (const record of store.instances()) {
    if (record.instanceId !== null) continue;
    try {
      const driver = await driverFor(record, attrs, drivers);
      if (driver.findByTags === undefined) continue;
      const found = await driver.findByTags(
        launchTags(store.runName, record.service, record.token),
      );
      if (found[0] !== undefined) store.recordInstanceId(record.token, found[0].instanceId);
    } catch {
      // Reported below as an interrupted launch.
    }
  }
}

/**
 * The run's instance history with each instance's cloud state, asking each
 * driver account once for all of its instances.
 */
export async function instanceHistory(
  store: RunStore,
  attrs: Attributes,
  drivers: DriverRegistry,
): Promise<InstanceStatus[]> {
  const current = new Set(
    store
      .services()
      .filter((s) => s.state !== 'terminated' && s.launchToken !== null)
      .map((s) => s.launchToken),
  );
  await findLostInstances(store, attrs, drivers);
  const records = store.instances();
  const byDriver = new Map<ManagedDriver, InstanceRecord[]>();
  const notes = new Map<InstanceRecord, string>();
  for (const record of records) {
    if (record.instanceId === null) {
      notes.set(
        record,
        `the launch was interrupted before the cloud answered; look for tag cloudboot-token=${record.token}`,
      );
      continue;
    }
    try {
      const driver = await driverFor(record, attrs, drivers);
      byDriver.set(driver, [...(byDriver.get(driver) ?? []), record]);
    } catch (error) {
      notes.set(record, `cannot ask its cloud: ${(error as Error).message}`);
    }
  }
  const states = new Map<InstanceRecord, InstanceInfo>();
  for (const [driver, list] of byDriver) {
    try {
      const infos = await driver.describe(list.map((r) => r.instanceId ?? ''));
      list.forEach((record, i) => {
        const info = infos[i];
        if (info !== undefined) states.set(record, info);
      });
    } catch (error) {
      for (const record of list) notes.set(record, `describe failed: ${(error as Error).message}`);
    }
  }
  return records.map((record) => {
    const info = states.get(record);
    const note = notes.get(record);
    return {
      ...record,
      current: current.has(record.token),
      ...(info !== undefined && {
        cloud: {
          state: info.state,
          nativeState: info.nativeState,
          ...(info.address !== undefined && { address: info.address }),
        },
      }),
      ...(note !== undefined && { note }),
    };
  });
}

/**
 * Terminates instances of the run that are still alive in their cloud:
 * only orphans, or with `all` every one (`history --kill`). Returns the
 * rows that were terminated. Services are not changed: their records are
 * left for `terminate` to finish.
 */
export async function killInstances(
  store: RunStore,
  attrs: Attributes,
  drivers: DriverRegistry,
  options: { all: boolean },
): Promise<InstanceStatus[]> {
  const history = await instanceHistory(store, attrs, drivers);
  const targets = history.filter((s) =>
    options.all ? s.cloud !== undefined && ALIVE.has(s.cloud.state) : isOrphan(s),
  );
  const killed: InstanceStatus[] = [];
  for (const target of targets) {
    const driver = await driverFor(target, attrs, drivers);
    // Existing machines are not ours to kill.
    if (!driver.capabilities.launchesMachines) continue;
    await driver.terminate([target.instanceId ?? '']);
    store.recordTerminated([target.token]);
    killed.push(target);
  }
  return killed;
}
