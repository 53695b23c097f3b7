/**
 * Checks before an operation launches anything: every driver the plan names
 * can be loaded and has the right shape. A plan whose level-3 driver is
 * missing must fail before level 1 launches a VM. The same walk finds the
 * credential keys the plan's driver modules declare.
 */
import { dirname } from 'node:path';
import type { DriverRegistry } from '../driver/registry.js';
import { resolveEnv } from '../engine/attributes.js';
import { DriverLoadError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { parseBoolean } from '../plan/values.js';
import { hasReferences } from '../template/references.js';

/** A driver module a plan uses, and where relative specifiers resolve. */
interface PlannedDriver {
  readonly name: string;
  readonly base: string;
}

/** The drivers a plan names (values with `${…}` references are only known at boot). */
function plannedDrivers(
  plan: Plan,
  env: Readonly<Record<string, string | undefined>>,
): PlannedDriver[] {
  const wanted = new Map<string, PlannedDriver>();
  for (const level of plan.levels) {
    for (const service of level.services) {
      const raw = service.keys.driver;
      if (raw !== undefined && hasReferences(raw.value)) continue;
      const launchRaw = service.keys.iaas_launch?.value;
      const launch =
        (launchRaw === undefined ? undefined : parseBoolean(launchRaw)) ??
        service.keys.hostname === undefined;
      const name = launch
        ? ((raw === undefined ? undefined : resolveEnv(raw.value, env)) ?? 'ec2')
        : 'static-ip';
      const base = dirname(raw?.source.file ?? service.source.file);
      wanted.set(`${name}\0${base}`, { name, base });
    }
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
    plannedDrivers(plan, env).map(({ name, base }) => drivers.credentialKeys(name, base)),
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
    plannedDrivers(plan, env).map(({ name, base }) =>
      drivers.credentialKeys(name, base).catch((error: unknown) => {
        if (error instanceof DriverLoadError) return [];
        throw error;
      }),
    ),
  );
  return [...new Set(keys.flat())].sort();
}
