/**
 * Which driver a service uses, whether cloudboot launches its machine, and
 * where a relative driver module is resolved: decided here once, for the boot
 * (on resolved values) and for the checks before it (`-x`, `-y` and the
 * preflight of a boot, on the plan's values as written).
 */
import { dirname } from 'node:path';
import type { ServicePlan } from './model.js';
import { envVariableName, VALUE_RULES } from './values.js';

/** The driver of a service that launches a machine and names no `driver`. */
export const DEFAULT_LAUNCH_DRIVER = 'ec2';

/** The driver of a service that runs on an existing machine (`hostname` without launching). */
export const EXISTING_MACHINE_DRIVER = 'static-ip';

/** The values that choose a service's driver, as read (resolved, or literal). */
export interface DriverChoice {
  /** `hostname`, when given. */
  readonly hostname: string | undefined;
  /** `iaas_launch` read as a boolean, when given. */
  readonly iaasLaunch: boolean | undefined;
  /** `driver`, when given. */
  readonly driver: string | undefined;
}

/** Whether cloudboot launches the service's machine: `iaas_launch` when given, else when no `hostname` names an existing one. */
export function launchesMachines(choice: DriverChoice): boolean {
  return choice.iaasLaunch ?? choice.hostname === undefined;
}

/**
 * The driver name or module specifier of a service: `driver` (default
 * {@link DEFAULT_LAUNCH_DRIVER}) when it launches a machine,
 * {@link EXISTING_MACHINE_DRIVER} when it runs on an existing one.
 */
export function driverOf(choice: DriverChoice): string {
  if (!launchesMachines(choice)) return EXISTING_MACHINE_DRIVER;
  return choice.driver ?? DEFAULT_LAUNCH_DRIVER;
}

/** The directory a relative driver module specifier resolves against: that of the file that set `driver`. */
export function driverBase(service: ServicePlan): string {
  return dirname(service.keys.driver?.source.file ?? service.source.file);
}

/** A service's driver as far as the plan's values tell it before the boot. */
export interface PlannedDriver {
  /** Whether the service launches a machine (by default when `iaas_launch` is only known at boot). */
  readonly launches: boolean;
  /** Driver name or module specifier; undefined when only known at boot (a `${…}` reference). */
  readonly driver: string | undefined;
  /** See {@link driverBase}. */
  readonly base: string;
}

/**
 * The driver of a service from its values as written. `env.NAME` values are
 * read from `env`; without `env` they count as only known at boot.
 */
export function plannedDriver(
  service: ServicePlan,
  env?: Readonly<Record<string, string | undefined>>,
): PlannedDriver {
  /** The value, `null` when it is only known at boot. */
  const known = (key: string): string | undefined | null => {
    const value = service.keys[key]?.value;
    if (value === undefined) return undefined;
    if (value.includes('${')) return null;
    const variable = envVariableName(value);
    if (variable === undefined) return value;
    return env === undefined ? null : env[variable];
  };
  const launchText = known('iaas_launch');
  const hostname = known('hostname');
  const choice: DriverChoice = {
    // A hostname only known at boot is still a hostname.
    hostname: hostname === null ? '' : hostname,
    iaasLaunch:
      typeof launchText === 'string' ? VALUE_RULES.iaas_launch.read(launchText) : undefined,
    driver: undefined,
  };
  const launches = launchesMachines(choice);
  const driverText = known('driver');
  return {
    launches,
    driver:
      launches && driverText === null
        ? undefined
        : driverOf({ ...choice, driver: driverText ?? undefined }),
    base: driverBase(service),
  };
}
