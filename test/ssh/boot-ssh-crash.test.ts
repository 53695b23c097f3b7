/**
 * A cloudboot killed (SIGKILL) at a random moment of a boot over SSH: its
 * programs on the machine outlive it; `resume` and `terminate` stop them
 * first, so afterwards nothing carrying the run's tag runs and no second
 * copy of a boot program ever ran beside the first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { alive, taggedProcesses } from '../support/processes.js';
import { readRunDatabase } from '../support/run-database.js';
import { Cleanup, onHost, runlevels, sshDefaults } from './boot-plans.js';

let hosts: SshHosts;
const cleanup = new Cleanup();
const child = new URL('../support/boot-child.ts', import.meta.url).pathname;
let children: ChildProcess[] = [];

beforeAll(async () => {
  hosts = await startSshHosts({ count: 1 });
});
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL');
  children = [];
  await cleanup.run();
});
afterAll(async () => {
  await hosts?.stop();
});

/**
 * Runs in `<base>/<run>/<service>`; notes go to `<base>`: CONCURRENT when the
 * copy that ran before it is still alive, then its pids; sleeps 40 s, or
 * 0.5 s once `fast` exists (written after the kill).
 */
const BOOT = `#!/bin/sh
p=$(cat ../../running-$1 2>/dev/null)
if [ -n "$p" ] && s=$(cat /proc/$p/stat 2>/dev/null); then
  s=\${s##*) }; [ "\${s%% *}" = Z ] || echo "CONCURRENT $1" >> ../../log
fi
echo $$ > ../../running-$1
if [ -f ../../fast ]; then sleep 0.5 & else sleep 40 & fi
echo "$$ $!" >> ../../pids
wait $!
echo "done $1" >> ../../log
`;

describe('after a SIGKILL of cloudboot during a boot over SSH', () => {
  it.each(['resume', 'terminate'] as const)(
    '%s first stops the programs left running on the machine',
    async (command) => {
      const base = cleanup.base();
      const plan = cleanup.plan({
        'top.conf': `${sshDefaults(hosts, base, 'bootpgm: boot.sh\nbootpgm_args: ${.service}\npgm_timeout: 20\n')}${runlevels(2)}`,
        'l1.conf': `[svc-db]\n${onHost(hosts, 0)}[svc-cache]\n${onHost(hosts, 0)}`,
        'l2.conf': `[svc-web]\n${onHost(hosts, 0)}`,
        'boot.sh': BOOT,
      });
      const proc = spawn(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', child, plan.path('top.conf'), plan.dbDir, 'c'],
        { cwd: new URL('..', import.meta.url).pathname, stdio: 'ignore' },
      );
      children.push(proc);
      const deadline = Date.now() + 30_000;
      while (!existsSync(`${base}/pids`) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, Math.random() * 2_000));
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      // From now on boot programs are quick; the killed run's copies sleep on until stopped.
      writeFileSync(`${base}/fast`, '');

      const boot = cleanup.reopen(plan, 'c');
      const mark = readRunDatabase(plan.dbDir, 'c', (store) => store.machineMark());
      const result = command === 'resume' ? await boot.run() : await boot.shutdown();
      expect(result.failures).toEqual([]);
      expect(taggedProcesses(mark)).toEqual([]);
      const pids = readFileSync(`${base}/pids`, 'utf8').trim().split(/\s+/).map(Number);
      expect(pids.filter(alive)).toEqual([]);
      const log = existsSync(`${base}/log`) ? readFileSync(`${base}/log`, 'utf8') : '';
      expect(log).not.toContain('CONCURRENT');
      if (command === 'resume') expect(log).toContain('done web');
    },
  );
});
