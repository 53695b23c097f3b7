/**
 * What launching a service's machine needs: whether cloudboot launches one
 * at all and which driver does it (the driver choice), and the launch spec
 * (image, allocation and every resolved key for the driver). Only the launch reads these, so nothing else
 * fails when one of them no longer resolves.
 */
import type { LaunchSpec } from '../../driver/driver.js';
import { TemplateError } from '../../errors.js';
import { PROGRAM_ARG_KEYS } from '../../plan/model.js';
import { type DriverChoice, launchesMachines } from '../../plan/service-driver.js';
import type { Attributes } from '../attributes.js';
import { ruledValue } from './resolved-value.js';

/**
 * What launching a service's machine needs besides its driver (which
 * {@link driverChoice} decides, and the run records when it launches).
 */
export interface LaunchSettings {
  /** What the driver's `launch` is given. */
  readonly launchSpec: LaunchSpec;
}

/**
 * The resolved values that choose the service's driver (`hostname`,
 * `iaas_launch`, `driver`), and nothing else.
 * @throws TemplateError when one of them cannot be resolved or has the wrong form.
 */
export function driverChoice(attrs: Attributes, name: string): DriverChoice {
  return {
    hostname: attrs.key(name, 'hostname'),
    iaasLaunch: ruledValue(attrs, name, 'iaas_launch'),
    driver: attrs.key(name, 'driver'),
  };
}

/**
 * What launching the service's machine needs: the launch spec (image,
 * allocation, every resolved key); for an existing machine, its hostname.
 * @throws TemplateError when a value cannot be resolved or has the wrong form.
 */
export function launchSettings(attrs: Attributes, name: string): LaunchSettings {
  const plan = attrs.service(name);
  const key = (k: string) => attrs.key(name, k);
  const choice = driverChoice(attrs, name);
  const launch = launchesMachines(choice);
  const { hostname } = choice;
  if (!launch && hostname === undefined) {
    throw new TemplateError(`iaas_launch is false but there is no hostname to run on`);
  }
  const image = key('image');
  if (launch && image === undefined) {
    throw new TemplateError(`a machine is to be launched but there is no image`);
  }
  const options: Record<string, string> = {};
  for (const k of Object.keys(plan.keys)) {
    if (PROGRAM_ARG_KEYS.has(k)) continue;
    const v = key(k);
    if (v !== undefined) options[k] = v;
  }
  const keyName = key('sshkeyname');
  const allocation = key('allocation');
  return {
    launchSpec: {
      service: name,
      ...(image !== undefined && { image }),
      ...(allocation !== undefined && { allocation }),
      ...(hostname !== undefined && { hostname }),
      ...(keyName !== undefined && { keyName }),
      securityGroups: (key('securitygroups') ?? '').split(/[,\s]+/).filter((g) => g !== ''),
      options,
    },
  };
}
