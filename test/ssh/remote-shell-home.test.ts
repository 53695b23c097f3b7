/**
 * The long-lived remote shell tells cloudboot the directory it starts in
 * (the login user's home) on one line, base64-encoded when the name holds a
 * line break. /etc/passwd cannot hold such a home, but a login shell's
 * start-up file can `cd` into such a directory: this test's user does.
 * Root only: it creates a login user of its own.
 */
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MachineSession } from '../../packages/core/src/exec/machine.js';
import { MemoryHostKeyStore, SshPool } from '../../packages/core/src/exec/ssh-pool.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { passwdEntry, targetOf } from './targets.js';

const USER = 'cloudboot-odd-home';
const ODD = 'line\nbreak';

describe.skipIf(process.getuid?.() !== 0)(
  'a login shell starting in a directory with a line break',
  () => {
    let hosts: SshHosts;
    let pool: SshPool;
    let session: MachineSession;
    let home: string;

    beforeAll(async () => {
      hosts = await startSshHosts({ count: 1, login: { user: USER, shell: '/bin/bash' } });
      const user = passwdEntry(USER);
      home = user.home;
      mkdirSync(join(home, ODD), { recursive: true, mode: 0o700 });
      chownSync(join(home, ODD), user.uid, user.gid);
      // bash reads ~/.bashrc for the commands sshd runs.
      writeFileSync(join(home, '.bashrc'), `cd "$HOME/line\nbreak"\n`, { mode: 0o644 });
      pool = new SshPool({ hostKeys: new MemoryHostKeyStore(), agent: '' });
      session = await pool.session(targetOf(hosts, 0), { timeoutMs: 10_000 });
    });

    afterAll(async () => {
      await pool?.close();
      await hosts?.stop();
      rmSync(join(home, '.bashrc'), { force: true });
      rmSync(join(home, ODD), { recursive: true, force: true });
    });

    it('takes that directory, line break and all, as the home directory', async () => {
      expect(await session.homeDir()).toBe(join(home, ODD));
    });

    it('prepares a working directory below it and runs a program there', async () => {
      const base = join(await session.homeDir(), 'work');
      const dir = join(base, 'svc');
      const claim = await session.prepareDir({
        base,
        chain: [dir],
        markFile: '.cloudboot-run',
        mark: 'run odd-home',
        files: [{ name: 'bootconf.json', data: '{}\n', mode: 0o600 }],
      });
      expect(claim).toEqual({ ok: true, existed: false });
      const pwd = await session.run({ program: 'pwd', args: [], cwd: dir, timeoutMs: 10_000 });
      expect(pwd).toMatchObject({ exitCode: 0, stdoutTail: `${dir}\n` });
      expect((await session.readFile(join(dir, 'bootconf.json')))?.toString()).toBe('{}\n');
    });
  },
);
