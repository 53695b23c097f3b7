/**
 * Several runs on the same sshd machines, logged in as a user that is not
 * root: each run and service gets its own private directory under the
 * login user's `~/.cloudboot/work`, and no run touches another's files or
 * processes. Also: a base that user cannot write, and directories that are
 * someone else's or symbolic links.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, symlink } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MachineSession } from '../../packages/core/src/exec/machine.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { Cleanup, eventually, onHost, runlevels, sh } from './boot-plans.js';
import { isRunning } from './targets.js';

let hosts: SshHosts;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 2 });
});
afterEach(() => cleanup.run());
afterAll(async () => {
  await hosts?.stop();
});

const asRoot = process.getuid?.() === 0;

/** `[defaults]` without `workdir`: the login user's `~/.cloudboot/work`. */
function defaults(extra = ''): string {
  return `[defaults]\nlocal_exe: false\nssh_username: ${hosts.username}\nlocalsshkeypath: ${hosts.clientKeyPath}\npgm_timeout: 10\n${extra}`;
}

/** web on host 0 and db on host 1, each leaving a daemon that its terminate program stops. */
function daemonPlan(extra = '') {
  return cleanup.plan({
    'top.conf': `${defaults(extra)}bootpgm: boot.sh\nreadypgm: ready.sh\nterminatepgm: stop.sh\n${runlevels(2)}`,
    'l1.conf': `[svc-db]\n${onHost(hosts, 1)}`,
    'l2.conf': `[svc-web]\n${onHost(hosts, 0)}`,
    'boot.sh':
      '#!/bin/sh\nsetsid sleep 300 </dev/null >/dev/null 2>&1 &\necho $! > daemon.pid\necho "{\\"dir\\": \\"$(pwd)\\", \\"pid\\": \\"$!\\"}" > bootout.json\n',
    'ready.sh': '#!/bin/sh\nkill -0 "$(cat daemon.pid)"\n',
    'stop.sh': '#!/bin/sh\nkill "$(cat daemon.pid)"\n',
  });
}

/** A run name no other test process uses (they share the login user's home). */
const runName = (tag: string) => `${tag}-${randomBytes(4).toString('hex')}`;

describe('two runs with the same services on the same machines', () => {
  it('boot and terminate interleaved, each touching only its own directories and daemons', async () => {
    const plan = daemonPlan();
    const [nameA, nameB] = [runName('a'), runName('b')];
    const machines = await Promise.all([0, 1].map((i) => cleanup.machine(hosts, i)));
    const web = machines[0] as MachineSession;
    const home = (await sh(web, 'printf %s "$HOME"')).stdoutTail;
    expect(home).not.toBe('');
    const work = `${home}/.cloudboot/work`;

    const a = cleanup.boot(plan, nameA);
    expect((await a.run()).failures.map((f) => f.message)).toEqual([]);
    const b = cleanup.boot(plan, nameB);
    expect((await b.run()).failures.map((f) => f.message)).toEqual([]);
    expect(a.record('web').published.dir).toBe(`${work}/${nameA}/web`);
    expect(b.record('web').published.dir).toBe(`${work}/${nameB}/web`);
    const pid = (run: typeof a, service: string) => Number(run.record(service).published.pid);

    // Private directories of the login user.
    const modes = await sh(
      web,
      `stat -c '%a %U' ${home}/.cloudboot ${work} ${work}/${nameA} ${work}/${nameA}/web ${work}/${nameA}/web/boot.sh ${work}/${nameA}/web/bootconf.json`,
    );
    expect(modes.stdoutTail.trim().split('\n')).toEqual([
      ...Array(5).fill(`700 ${hosts.username}`),
      `600 ${hosts.username}`,
    ]);

    // Terminating A leaves B alone.
    expect((await a.shutdown()).failures).toEqual([]);
    for (const [i, service] of [
      [0, 'web'],
      [1, 'db'],
    ] as const) {
      const machine = machines[i] as MachineSession;
      expect(await eventually(async () => !(await isRunning(machine, pid(a, service))))).toBe(true);
      expect(await isRunning(machine, pid(b, service))).toBe(true);
      expect(await machine.readFile(`${work}/${nameB}/${service}/daemon.pid`)).toBeDefined();
      expect(await machine.readFile(`${work}/${nameA}/${service}/daemon.pid`)).toBeUndefined();
    }
    expect((await b.checkStatus()).ok).toBe(true);

    // A boots again while B runs; then B goes first.
    expect((await a.run()).ok).toBe(true);
    expect((await b.shutdown()).ok).toBe(true);
    for (const [i, service] of [
      [0, 'web'],
      [1, 'db'],
    ] as const) {
      const machine = machines[i] as MachineSession;
      expect(await eventually(async () => !(await isRunning(machine, pid(b, service))))).toBe(true);
      expect(await isRunning(machine, pid(a, service))).toBe(true);
    }
    expect((await a.checkStatus()).ok).toBe(true);
    expect((await a.shutdown()).ok).toBe(true);
    for (const machine of machines) {
      const left = await sh(machine, `ls -A ${work}`);
      expect(left.stdoutTail.split('\n')).not.toContain(nameA);
      expect(left.stdoutTail.split('\n')).not.toContain(nameB);
    }
  });
});

describe.skipIf(!asRoot)('directories the login user must not use', () => {
  it('names the base and the workdir key when the login user cannot write the base', async () => {
    const base = cleanup.base();
    await mkdir(base, { mode: 0o755 });
    await chmod(base, 0o755);
    const plan = daemonPlan(`workdir: ${base}\n`);
    const boot = cleanup.boot(plan, 'unwritable');
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([
      `db: contextualize failed: cannot use ${base} as the base of working directories (plan key workdir): it is not writable by user ${hosts.username}; set workdir to a directory the user can write`,
    ]);
    expect((await boot.shutdown()).ok).toBe(true);
  });

  it('refuses a run directory of another user, and a symbolic link, creating nothing in them', async () => {
    const base = cleanup.base();
    await mkdir(base, { mode: 0o1777 });
    await chmod(base, 0o1777);
    // Made by root, world-writable: the login user could write into it, but must not use it.
    await mkdir(`${base}/rooted`, { mode: 0o777 });
    await chmod(`${base}/rooted`, 0o777);
    await mkdir(`${base}/elsewhere`, { mode: 0o777 });
    await chmod(`${base}/elsewhere`, 0o777);
    await symlink(`${base}/elsewhere`, `${base}/linked`);
    const plan = daemonPlan(`workdir: ${base}\n`);
    const rooted = cleanup.boot(plan, 'rooted');
    expect((await rooted.run()).failures.map((f) => f.message)).toEqual([
      `db: contextualize failed: cannot use ${base}/rooted as a working directory: it belongs to another user (uid 0); remove it, or set workdir to another base`,
    ]);
    const linked = cleanup.boot(plan, 'linked');
    expect((await linked.run()).failures.map((f) => f.message)).toEqual([
      `db: contextualize failed: cannot use ${base}/linked as a working directory: it is a symbolic link; cloudboot follows none: remove it`,
    ]);
    expect((await rooted.shutdown()).ok).toBe(true);
    expect((await linked.shutdown()).ok).toBe(true);
    const machine = await cleanup.machine(hosts, 1);
    expect((await sh(machine, `ls -A ${base}/rooted ${base}/elsewhere`)).stdoutTail).toBe(
      `${base}/elsewhere:\n\n${base}/rooted:\n`,
    );
  });
});
