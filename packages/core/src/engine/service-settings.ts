/**
 * Typed, resolved settings of one service, derived from its plan keys at the
 * moment they are needed (so references to earlier levels see current values).
 */
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import type { DriverSettings, LaunchSpec } from '../driver/driver.js';
import type { AccountPolicy } from '../driver/registry.js';
import { TemplateError } from '../errors.js';
import type { MachineTarget } from '../exec/machine.js';
import { KNOWN_SERVICE_KEYS, PROGRAM_ARG_KEYS } from '../plan/model.js';
import { isPgmTimeout, PGM_TIMEOUT_EXPECTED, parseBoolean } from '../plan/values.js';
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

/** How to reach a service's machine and run programs there: what SSH and program runs need. */
export interface MachineSettings {
  readonly name: string;
  /** Where programs run; an SSH target's `host` is filled in from the recorded address. */
  readonly target: MachineTarget;
  /**
   * The plan's `workdir`: base of the run's working directories on the
   * machine (`~/…` is the login user's home); undefined for the default,
   * `~/.cloudboot/work`. See `workdirs.ts`.
   */
  readonly workdirBase: string | undefined;
  /** Limit of each program, and of reaching the machine. */
  readonly timeoutMs: number;
}

/** The account/endpoint a service's driver is created with. */
export interface DriverAccount {
  /** Directory that relative driver module specifiers are resolved against. */
  readonly driverBase: string;
  /** Account/endpoint settings (contain secrets: never log). */
  readonly driverSettings: DriverSettings;
  /** Rate limit and retries of the account; part of its identity. */
  readonly policy: AccountPolicy;
}

/** What launching a service's machine needs. */
export interface LaunchSettings {
  /** True when cloudboot launches a VM; false for existing machines. */
  readonly launch: boolean;
  /** Driver name or module specifier; `static-ip` for existing machines. */
  readonly driver: string;
  readonly launchSpec: LaunchSpec;
}

/**
 * What the engine needs to bring a service up once its machine is known:
 * the machine, the driver account and the programs. Launching needs
 * {@link launchSettings} besides.
 */
export interface ServiceSettings extends MachineSettings, DriverAccount {
  /** Driver name or module specifier; `static-ip` for existing machines. */
  readonly driver: string;
  readonly bootconf?: string;
  readonly bootpgm?: ProgramSetting;
  readonly readypgm?: ProgramSetting;
  readonly terminatepgm?: ProgramSetting;
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

function parseCount(value: string | undefined, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) {
    throw new TemplateError(`${key} is "${value}"; expected a whole number, 0 or more`);
  }
  return Number(value);
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
    throw new TemplateError(
      `workdir is "${value}"; expected an absolute path on the machine, or ~/…`,
    );
  }
  return value;
}

/**
 * Only what is needed to talk to a service's cloud: the account keys,
 * driver-specific keys and the account's rate limit and retries.
 * Terminating a VM must not depend on values that only mattered for
 * booting it (an image given as `env.IMAGE`, say).
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
  const callsPerSecond = parseNumber(
    attrs.key(name, 'api_calls_per_second'),
    'api_calls_per_second',
  );
  const retries = parseCount(attrs.key(name, 'api_retries'), 'api_retries');
  return {
    driverBase: dirname(plan.keys.driver?.source.file ?? plan.source.file),
    driverSettings,
    policy: {
      ...(callsPerSecond !== undefined && { callsPerSecond }),
      ...(retries !== undefined && { retries }),
    },
  };
}

/**
 * How to reach the service's machine and run programs on it (its address
 * comes from the run's record), without any launch-only value.
 * @throws TemplateError when a value cannot be resolved or has the wrong form.
 */
export function machineSettings(attrs: Attributes, name: string): MachineSettings {
  const key = (k: string) => attrs.key(name, k);
  const localExe = parseBool(key('local_exe'), 'local_exe') ?? false;
  const port = parseNumber(key('ssh_port'), 'ssh_port') ?? 22;
  const timeoutText = key('pgm_timeout');
  if (timeoutText !== undefined && !isPgmTimeout(timeoutText)) {
    throw new TemplateError(`pgm_timeout is "${timeoutText}"; expected ${PGM_TIMEOUT_EXPECTED}`);
  }
  const timeoutS = timeoutText === undefined ? DEFAULT_PGM_TIMEOUT_S : Number(timeoutText);
  let target: MachineTarget = { kind: 'local' };
  if (!localExe) {
    const username = key('ssh_username') ?? localUserName();
    const scpUsername = key('scp_username');
    if (scpUsername !== undefined && scpUsername !== username) {
      throw new TemplateError(
        `scp_username is "${scpUsername}" but ssh_username is "${username}"; cloudboot uploads files and runs programs over one SSH connection, so they must be the same user`,
      );
    }
    const privateKeyPath = key('localsshkeypath');
    const expectedHostKey = key('host_key');
    target = {
      kind: 'ssh',
      host: '',
      port,
      username,
      ...(privateKeyPath !== undefined && { privateKeyPath }),
      ...(expectedHostKey !== undefined && { expectedHostKey }),
    };
  }
  return {
    name,
    target,
    workdirBase: absoluteWorkdir(key('workdir')),
    timeoutMs: timeoutS * 1000,
  };
}

/**
 * One of the service's programs, resolved on its own (shutdown needs only
 * the terminate program).
 * @throws TemplateError when its path cannot be resolved.
 */
export function programSetting(
  attrs: Attributes,
  name: string,
  key: ProgramSetting['key'],
): ProgramSetting | undefined {
  const path = attrs.key(name, key);
  // Raw: split and substituted word by word when the program runs (see `programArgs`).
  const args = attrs.rawKey(name, `${key}_args`) ?? '';
  return path === undefined ? undefined : { path, args, key };
}

/**
 * What launching the service's machine needs: whether to launch, the driver
 * and the launch spec (image, allocation, every resolved key).
 * @throws TemplateError when a value cannot be resolved or has the wrong form.
 */
export function launchSettings(attrs: Attributes, name: string): LaunchSettings {
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
  const options: Record<string, string> = {};
  for (const k of Object.keys(plan.keys)) {
    if (PROGRAM_ARG_KEYS.has(k)) continue;
    const v = key(k);
    if (v !== undefined) options[k] = v;
  }
  const keyName = key('sshkeyname');
  const allocation = key('allocation');
  return {
    launch,
    driver: launch ? (key('driver') ?? 'ec2') : 'static-ip',
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

/**
 * Derives what bringing a service up needs. `recordedDriver` is the driver
 * of a machine that was already launched: then no launch-only value (an
 * image given as `env.IMAGE`, say) needs to resolve, so `status` and
 * `repair` work on a running service whatever became of those.
 * @throws TemplateError when a value cannot be resolved or has the wrong form.
 */
export function serviceSettings(
  attrs: Attributes,
  name: string,
  recordedDriver?: string,
): ServiceSettings {
  const driver = recordedDriver ?? launchSettings(attrs, name).driver;
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
