/** Small helpers shared by the SSH tests. */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { MachineSession, SshTarget } from '../../packages/core/src/exec/machine.js';
import type { SshHosts } from '../harness/sshd.js';

/** The SSH target of test host `i`, logging in with the harness's client key. */
export function targetOf(
  hosts: SshHosts,
  i: number,
  overrides: Partial<SshTarget> = {},
): SshTarget {
  const host = hosts.hosts[i];
  if (host === undefined) throw new RangeError(`no test host #${i}`);
  return {
    kind: 'ssh',
    host: host.address,
    port: host.port,
    username: hosts.username,
    privateKeyPath: hosts.clientKeyPath,
    ...overrides,
  };
}

/** Creates `dir` and its parents on the machine by running `mkdir -p`, as any program would. */
export async function makeDir(session: MachineSession, dir: string): Promise<void> {
  const made = await session.run({
    program: 'mkdir',
    args: ['-p', '--', dir],
    cwd: '/',
    timeoutMs: 10_000,
  });
  if (made.exitCode !== 0) throw new Error(`mkdir -p ${dir} failed: ${made.stderrTail}`);
}

/** `user@address:port` of test host `i`, as errors name it. */
export function labelOf(hosts: SshHosts, i: number): string {
  const target = targetOf(hosts, i);
  return `${target.username}@${target.host}:${target.port}`;
}

/** Generates a fresh ed25519 key pair at `path` (no passphrase). */
export async function generateKey(path: string): Promise<void> {
  await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
}

/**
 * Whether process `pid` is still running on the machine (zombies count as
 * gone: PID 1 of this container does not reap). A process that has just
 * closed its pipes may still be exiting, so callers poll this.
 */
export async function isRunning(session: MachineSession, pid: number): Promise<boolean> {
  const stat = await session.readFile(`/proc/${pid}/stat`);
  if (stat === undefined) return false;
  const text = stat.toString('utf8');
  return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) !== 'Z';
}

/** The home directory and ids of login user `user`, from the password database. */
export function passwdEntry(user: string): { home: string; uid: number; gid: number } {
  const [, , uid, gid, , home] = execFileSync('getent', ['passwd', user], { encoding: 'utf8' })
    .trim()
    .split(':');
  return { home: home ?? '', uid: Number(uid), gid: Number(gid) };
}
