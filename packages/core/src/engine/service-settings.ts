/**
 * Typed, resolved settings of one service, derived from its plan keys at the
 * moment they are needed (so references to earlier levels see current values).
 */
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import type { DriverSettings, LaunchSpec } from '../driver/driver.js';
import { TemplateError } from '../errors.js';
import type { MachineTarget } from '../exec/machine.js';
import { KNOWN_SERVICE_KEYS, PROGRAM_ARG_KEYS } from '../plan/model.js';
import { parseBoolean } from '../plan/values.js';
import type { Attributes } from './attributes.js';

/** Default `pgm_timeout`, in seconds. */
export const DEFAULT_PGM_TIMEOUT_S = 1200;

/** A program the service runs: a file here, uploaded and run with raw (unsplit) args. */
export interface ProgramSetting {
  readonly path: string;
  /** The `*_args` text, split and substituted when the program runs. */
  readonly args: string;
  /** Plan key, e.g. `bootpgm`. */
  readonly key: 'bootpgm' | 'readypgm' | 'terminatepgm';
}

/** Everything the engine needs to know about a service. */
export interface ServiceSettings {
  readonly name: string;
  /** True when cloudboot launches a VM; false for existing machines. */
  readonly launch: boolean;
  /** Driver name or module specifier; `static-ip` for existing machines. */
  readonly driver: string;
  /** Directory that relative driver module specifiers are resolved against. */
  readonly driverBase: string;
  /** Account/endpoint settings the driver is created with (contains secrets: never log). */
  readonly driverSettings: DriverSettings;
  readonly launchSpec: LaunchSpec;
  readonly target: MachineTarget;
  /**
   * The plan's `workdir`: base of the run's working directories on the
   * machine (`~/…` is the login user's home); undefined for the default,
   * `~/.cloudboot/work`. See `workdirs.ts`.
   */
  readonly workdirBase: string | undefined;
  readonly bootconf?: string;
  readonly bootpgm?: ProgramSetting;
  readonly readypgm?: ProgramSetting;
  readonly terminatepgm?: ProgramSetting;
  /** Limit of each program, and of reaching the machine. */
  readonly timeoutMs: number;
}

/** Keys that select the account/endpoint of a driver. */
const ACCOUNT_KEYS = ['iaas', 'iaas_url', 'iaas_key', 'iaas_secret'];

function parseBool(value: string | undefined, key: string): boolean | undefined {
  if (value === undefined) return undefined;
  const parsed = parseBoolean(value);
  if (parsed !== undefined) return parsed;
  throw new TemplateError(`${key} is "${value}"; expected true or false`);
}

function parseNumber(value: string | undefined, key: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new TemplateError(`${key} is "${value}"; expected a positive number`);
  }
  return n;
}

/** The local user's name, the default SSH login (like ssh itself). */
function localUserName(): string {
  try {
    return userInfo().username;
  } catch {
    // A uid without a passwd entry (some containers).
    const name = process.env.USER ?? process.env.LOGNAME;
    if (name) return name;
    throw new TemplateError(
      'ssh_username is not set and the local user has no name; set ssh_username',
    );
  }
}

/** The `workdir` base: programs are run by path from inside it, so it must be absolute (or `~/…`). */
function absoluteWorkdir(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!value.startsWith('/') && value !== '~' && !value.startsWith('~/')) {
    throw new TemplateError(`workdir is "${value}"; expected an absolute path on the machine`);
  }
  return value;
}

/** The account/endpoint a service's driver is created with. */
export interface DriverAccount {
  /** Directory that relative driver module specifiers are resolved against. */
  readonly driverBase: string;
  /** Account/endpoint settings (contain secrets: never log). */
  readonly driverSettings: DriverSettings;
}

/**
 * Only what is needed to talk to a service's cloud: the account keys and
 * driver-specific keys. Terminating a VM must not depend on values that only
 * mattered for booting it (an image given as `env.IMAGE`, say).
 * @throws TemplateError when one of those values cannot be resolved.
 */
export function driverAccount(attrs: Attributes, name: string): DriverAccount {
  const plan = attrs.service(name);
  const driverSettings: Record<string, string> = {};
  for (const k of Object.keys(plan.keys)) {
    if (ACCOUNT_KEYS.includes(k) || !KNOWN_SERVICE_KEYS.has(k)) {
      const v = attrs.key(name, k);
      if (v !== undefined) driverSettings[k] = v;
    }
  }
  return { driverBase: dirname(plan.keys.driver?.source.file ?? plan.source.file), driverSettings };
}

/**
 * Derives a service's settings.
 * @throws TemplateError when a value cannot be resolved or has the wrong form.
 */
export function serviceSettings(attrs: Attributes, name: string): ServiceSettings {
  const plan = attrs.service(name);
  const key = (k: string) => attrs.key(name, k);
  const hostname = key('hostname');
  const launch = parseBool(key('iaas_launch'), 'iaas_launch') ?? hostname === undefined;
  if (!launch && hostname === undefined) {
    throw new TemplateError(`iaas_launch is false but there is no hostname to run on`);
  }
  const image = key('image');
  if (launch && image === undefined) {
    throw new TemplateError(`a machine is to be launched but there is no image`);
  }
  const driver = launch ? (key('driver') ?? 'ec2') : 'static-ip';
  const driverFile = plan.keys.driver?.source.file ?? plan.source.file;
  const localExe = parseBool(key('local_exe'), 'local_exe') ?? false;
  const port = parseNumber(key('ssh_port'), 'ssh_port') ?? 22;
  const timeoutS = parseNumber(key('pgm_timeout'), 'pgm_timeout') ?? DEFAULT_PGM_TIMEOUT_S;
  const program = (k: ProgramSetting['key']): ProgramSetting | undefined => {
    const path = key(k);
    // Raw: split and substituted word by word when the program runs (see `programArgs`).
    const args = attrs.rawKey(name, `${k}_args`) ?? '';
    return path === undefined ? undefined : { path, args, key: k };
  };

  const { driverSettings } = driverAccount(attrs, name);
  const options: Record<string, string> = {};
  for (const k of Object.keys(plan.keys)) {
    if (PROGRAM_ARG_KEYS.has(k)) continue;
    const v = key(k);
    if (v !== undefined) options[k] = v;
  }
  const username = key('ssh_username') ?? localUserName();
  const scpUsername = key('scp_username');
  if (!localExe && scpUsername !== undefined && scpUsername !== username) {
    throw new TemplateError(
      `scp_username is "${scpUsername}" but ssh_username is "${username}"; cloudboot uploads files and runs programs over one SSH connection, so they must be the same user`,
    );
  }
  const keyName = key('sshkeyname');
  const privateKeyPath = key('localsshkeypath');
  const expectedHostKey = key('host_key');
  const connectHost = hostname ?? '';

  return {
    name,
    launch,
    driver,
    driverBase: dirname(driverFile),
    driverSettings,
    launchSpec: {
      service: name,
      ...(image !== undefined && { image }),
      ...(key('allocation') !== undefined && { allocation: key('allocation') }),
      ...(hostname !== undefined && { hostname }),
      ...(keyName !== undefined && { keyName }),
      securityGroups: (key('securitygroups') ?? '').split(/[,\s]+/).filter((g) => g !== ''),
      options,
    },
    target: localExe
      ? { kind: 'local' }
      : {
          kind: 'ssh',
          host: connectHost,
          port,
          username,
          ...(privateKeyPath !== undefined && { privateKeyPath }),
          ...(expectedHostKey !== undefined && { expectedHostKey }),
        },
    workdirBase: absoluteWorkdir(key('workdir')),
    ...(key('bootconf') !== undefined && { bootconf: key('bootconf') }),
    ...(program('bootpgm') && { bootpgm: program('bootpgm') }),
    ...(program('readypgm') && { readypgm: program('readypgm') }),
    ...(program('terminatepgm') && { terminatepgm: program('terminatepgm') }),
    timeoutMs: timeoutS * 1000,
  };
}
