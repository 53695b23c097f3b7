/**
 * The long-lived remote shell makes its private directory (under the login
 * user's TMPDIR) only when a step needs it: a program whose working
 * directory it cannot write, or a helper command. A boot's usual steps do
 * without, so a connection costs no `mktemp` at its start and no `rm` at its
 * end. The directory it makes is private and goes when the shell ends; one
 * left by a shell that was killed goes when the next shell makes its own.
 * Root only: it creates a login user whose TMPDIR is its own.
 */
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MachineSession } from '../../packages/core/src/exec/machine.js';
import { MemoryHostKeyStore, SshPool } from '../../packages/core/src/exec/ssh-pool.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { passwdEntry, targetOf } from './targets.js';

const USER = 'cloudboot-tmpdir';

describe.skipIf(process.getuid?.() !== 0)('the remote shell’s private directory', () => {
  let hosts: SshHosts;
  let home: string;
  let tmp: string;
  let owner: { uid: number; gid: number };
  let pool: SshPool;

  /** The shells' private directories in the user's TMPDIR. */
  const privateDirs = () => readdirSync(tmp).filter((name) => name.startsWith('cloudboot-sh-'));

  const connect = async (): Promise<MachineSession> => {
    pool = new SshPool({ hostKeys: new MemoryHostKeyStore(), agent: '' });
    return pool.session(targetOf(hosts, 0), { timeoutMs: 10_000 });
  };

  /** Makes `dir` as the login user would (owned by it, mode 0700). */
  const userDir = (dir: string): void => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, owner.uid, owner.gid);
  };

  beforeAll(async () => {
    hosts = await startSshHosts({ count: 1, login: { user: USER, shell: '/bin/bash' } });
    const user = passwdEntry(USER);
    home = user.home;
    owner = { uid: user.uid, gid: user.gid };
    tmp = join(home, 'tmp');
    // bash reads ~/.bashrc for the commands sshd runs.
    writeFileSync(join(home, '.bashrc'), 'export TMPDIR="$HOME/tmp"\n', { mode: 0o644 });
  });

  beforeEach(() => {
    // An earlier test's shell may still be removing its programs' files.
    for (const dir of [tmp, join(home, 'work')]) {
      rmSync(dir, { recursive: true, force: true });
      userDir(dir);
    }
  });

  afterAll(async () => {
    await pool?.close();
    await hosts?.stop();
    rmSync(join(home, '.bashrc'), { force: true });
    rmSync(tmp, { recursive: true, force: true });
    rmSync(join(home, 'work'), { recursive: true, force: true });
  });

  it('is not made for a program whose working directory is writable', async () => {
    const session = await connect();
    const run = await session.run({
      program: 'pwd',
      args: [],
      cwd: join(home, 'work'),
      timeoutMs: 10_000,
    });
    expect(run).toMatchObject({ exitCode: 0, stdoutTail: `${join(home, 'work')}\n` });
    expect(privateDirs()).toEqual([]);
    await pool.close();
  });

  it('is made, private, for a program that cannot write where it runs, and removed when the shell ends', async () => {
    const session = await connect();
    const run = await session.run({ program: 'pwd', args: [], cwd: '/', timeoutMs: 10_000 });
    expect(run).toMatchObject({ exitCode: 0, stdoutTail: '/\n' });
    const made = privateDirs();
    expect(made).toHaveLength(1);
    const stat = statSync(join(tmp, made[0] ?? ''));
    expect(stat.mode & 0o777).toBe(0o700);
    expect(stat.uid).toBe(owner.uid);
    await pool.close();
    await expect.poll(privateDirs, { timeout: 5_000 }).toEqual([]);
  });

  it('removes one left by a dead shell only when it makes its own', async () => {
    // No process has this pid: Linux pids stay below 2^22.
    const stale = join(tmp, 'cloudboot-sh-99999999-abcdef');
    userDir(stale);
    const session = await connect();
    await session.run({ program: 'true', args: [], cwd: join(home, 'work'), timeoutMs: 10_000 });
    expect(privateDirs()).toEqual(['cloudboot-sh-99999999-abcdef']);
    await session.run({ program: 'true', args: [], cwd: '/', timeoutMs: 10_000 });
    expect(privateDirs()).not.toContain('cloudboot-sh-99999999-abcdef');
    expect(privateDirs()).toHaveLength(1);
    await pool.close();
  });

  it('says so when it cannot be made, and the program or command does not run', async () => {
    rmSync(tmp, { recursive: true, force: true });
    const session = await connect();
    const run = await session.run({
      program: 'sh',
      args: ['-c', `touch ${join(home, 'work', 'ran')}`],
      cwd: '/',
      timeoutMs: 10_000,
    });
    expect(run.exitCode).not.toBe(0);
    expect(run.stderrTail).toContain(`cannot make a private directory in ${tmp}`);
    expect(existsSync(join(home, 'work', 'ran'))).toBe(false);
    // A helper command needs it for its output.
    userDir(join(home, 'work', 'gone'));
    await expect(session.removeDir(join(home, 'work', 'gone'))).rejects.toThrow(
      `failed (exit status 125): cannot make a private directory in ${tmp}`,
    );
    expect(existsSync(join(home, 'work', 'gone'))).toBe(true);
    await pool.close();
  });
});
