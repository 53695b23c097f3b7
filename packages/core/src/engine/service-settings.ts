/**
 * Typed, resolved settings of one service, derived from its plan keys at the
 * moment they are needed (so references to earlier levels see current values).
 *
 * Each purpose has its own module under `settings/` and reads only the keys
 * it needs, so that a value one purpose cannot resolve does not block another:
 *
 * - `driver-account.ts`: talking to the service's cloud (terminate, describe, history);
 * - `machine-settings.ts`: reaching the machine and running programs there;
 * - `program-settings.ts`: one program and its arguments;
 * - `launch-settings.ts`: launching the machine (driver choice, launch spec).
 *
 * This module puts together what bringing a service up needs once its
 * machine is known, and is where the engine imports them from.
 */

import { driverOf } from '../plan/service-driver.js';
import type { Attributes } from './attributes.js';
import { type DriverAccount, driverAccount } from './settings/driver-account.js';
import { driverChoice } from './settings/launch-settings.js';
import { type MachineSettings, machineSettings } from './settings/machine-settings.js';
import { type ProgramSetting, programSetting } from './settings/program-settings.js';

export { type DriverAccount, driverAccount } from './settings/driver-account.js';
export {
  driverChoice,
  type LaunchSettings,
  launchSettings,
} from './settings/launch-settings.js';
export {
  DEFAULT_PGM_TIMEOUT_S,
  type MachineSettings,
  machineSettings,
} from './settings/machine-settings.js';
export { type ProgramSetting, programSetting } from './settings/program-settings.js';

/**
 * What the engine needs to bring a service up once its machine is known:
 * the machine, the driver account and the programs. Launching needs
 * `launchSettings` besides.
 */
export interface ServiceSettings extends MachineSettings, DriverAccount {
  /** Driver name or module specifier; `static-ip` for existing machines. */
  readonly driver: string;
  readonly bootconf?: string;
  readonly bootpgm?: ProgramSetting;
  readonly readypgm?: ProgramSetting;
  readonly terminatepgm?: ProgramSetting;
}

/**
 * Derives what bringing a service up needs. `recordedDriver` is the driver
 * of a machine that was already launched: then the values that chose it
 * need not resolve again. No launch-only value (an image given as
 * `env.IMAGE`, say) is read here, so `status` and `repair` work on a running
 * service whatever became of those.
 * @throws TemplateError when a value cannot be resolved or has the wrong form.
 */
export function serviceSettings(
  attrs: Attributes,
  name: string,
  recordedDriver?: string,
): ServiceSettings {
  const driver = recordedDriver ?? driverOf(driverChoice(attrs, name));
  const machine = machineSettings(attrs, name);
  const account = driverAccount(attrs, name);
  const bootconf = attrs.key(name, 'bootconf');
  const bootpgm = programSetting(attrs, name, 'bootpgm');
  const readypgm = programSetting(attrs, name, 'readypgm');
  const terminatepgm = programSetting(attrs, name, 'terminatepgm');
  return {
    driver,
    ...machine,
    ...account,
    ...(bootconf !== undefined && { bootconf }),
    ...(bootpgm !== undefined && { bootpgm }),
    ...(readypgm !== undefined && { readypgm }),
    ...(terminatepgm !== undefined && { terminatepgm }),
  };
}
