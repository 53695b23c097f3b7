/**
 * What reaching a service's machine and running programs there needs: where
 * (this machine, or SSH with its user, port, key and host key), the working
 * directory base and the time limit. Nothing that only launching needs, so a
 * machine already recorded can be reached whatever became of those values.
 */
import { userInfo } from 'node:os';
import { TemplateError } from '../../errors.js';
import type { MachineTarget } from '../../exec/machine.js';
import type { Attributes } from '../attributes.js';
import { ruledValue } from './resolved-value.js';

/** Default `pgm_timeout`, in seconds. */
export const DEFAULT_PGM_TIMEOUT_S = 1200;

/** Default `ssh_port`. */
const DEFAULT_SSH_PORT = 22;

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

function sshTarget(attrs: Attributes, name: string): MachineTarget {
  const key = (k: string) => attrs.key(name, k);
  const port = ruledValue(attrs, name, 'ssh_port') ?? DEFAULT_SSH_PORT;
  const username = key('ssh_username') ?? localUserName();
  const scpUsername = key('scp_username');
  if (scpUsername !== undefined && scpUsername !== username) {
    throw new TemplateError(
      `scp_username is "${scpUsername}" but ssh_username is "${username}"; cloudboot uploads files and runs programs over one SSH connection, so they must be the same user`,
    );
  }
  const privateKeyPath = key('localsshkeypath');
  const expectedHostKey = key('host_key');
  return {
    kind: 'ssh',
    host: '',
    port,
    username,
    ...(privateKeyPath !== undefined && { privateKeyPath }),
    ...(expectedHostKey !== undefined && { expectedHostKey }),
  };
}

/**
 * How to reach the service's machine and run programs on it (its address
 * comes from the run's record), without any launch-only value.
 * @throws TemplateError when a value cannot be resolved or has the wrong form.
 */
export function machineSettings(attrs: Attributes, name: string): MachineSettings {
  const localExe = ruledValue(attrs, name, 'local_exe') ?? false;
  const target: MachineTarget = localExe ? { kind: 'local' } : sshTarget(attrs, name);
  const timeoutS = ruledValue(attrs, name, 'pgm_timeout') ?? DEFAULT_PGM_TIMEOUT_S;
  return {
    name,
    target,
    workdirBase: ruledValue(attrs, name, 'workdir'),
    timeoutMs: timeoutS * 1000,
  };
}
