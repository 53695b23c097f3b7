/**
 * Checks before an operation launches anything: every driver the plan names
 * can be loaded and has the right shape. A plan whose level-3 driver is
 * missing must fail before level 1 launches a VM. The same walk finds the
 * credential keys the plan's driver modules declare.
 */
import type { DriverRegistry } from '../driver/registry.js';
import { DriverLoadError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { plannedDriver } from '../plan/service-driver.js';

/** A driver module a plan uses, and the directory a relative specifier resolves against. */
export interface PlanDriver {
  /** Driver name or module specifier. */
  readonly name: string;
  /** Directory of the plan file that named it. */
  readonly base: string;
}

/**
 * The distinct drivers a plan names, in plan order (`env.NAME` values read
 * from `env`; a driver given by a `${…}` reference is only known at boot and
 * left out).
 */
export function planDrivers(
  plan: Plan,
  env: Readonly<Record<string, string | undefined>>,
): PlanDriver[] {
  const wanted = new Map<string, PlanDriver>();
  for (const service of plan.levels.flatMap((level) => level.services)) {
    const { driver, base } = plannedDriver(service, env);
    if (driver !== undefined) wanted.set(`${driver}\0${base}`, { name: driver, base });
  }
  return [...wanted.values()];
}

/**
 * Loads every driver module the plan needs and returns the credential keys
 * they declare. @throws DriverLoadError
 */
export async function preflight(
  plan: Plan,
  env: Readonly<Record<string, string | undefined>>,
  drivers: DriverRegistry,
): Promise<string[]> {
  const keys = await Promise.all(
    planDrivers(plan, env).map(({ name, base }) => drivers.credentialKeys(name, base)),
  );
  return [...new Set(keys.flat())].sort();
}

/**
 * The credential keys declared by the driver modules a plan names, for
 * redacting them before the plan is stored. A module that cannot be loaded
 * is skipped here: the boot reports it.
 */
export async function declaredCredentialKeys(
  plan: Plan,
  env: Readonly<Record<string, string | undefined>>,
  drivers: DriverRegistry,
): Promise<string[]> {
  const keys = await Promise.all(
    planDrivers(plan, env).map(({ name, base }) =>
      drivers.credentialKeys(name, base).catch((error: unknown) => {
        if (error instanceof DriverLoadError) return [];
        throw error;
      }),
    ),
  );
  return [...new Set(keys.flat())].sort();
}
