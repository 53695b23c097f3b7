/**
 * A cloudboot killed (SIGKILL) at a random moment of a boot leaves its
 * programs running; the next `resume`, `status` or `terminate` of the run
 * stops them first (and says so in the service log), so nothing of the run
 * stays alive and resume never runs a second copy beside the first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { CloudBoot, RunStore } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { afterEach, describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';
import { alive, taggedProcesses } from '../support/processes.js';
import { readRunDatabase } from '../support/run-database.js';

const drivers = { 'static-ip': createDriver };
const track = planDirs();
const child = new URL('../support/boot-child.ts', import.meta.url).pathname;
let children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children = [];
});

/**
 * Each boot program notes CONCURRENT when the copy that ran before it is
 * still alive, notes its pids, and sleeps: 40 s, or 0.5 s once the file
 * `fast` exists (written after the kill).
 */
const BOOT = `#!/bin/sh
p=$(cat \${ROOT}/running-$1 2>/dev/null)
if [ -n "$p" ] && s=$(cat /proc/$p/stat 2>/dev/null); then
  s=\${s##*) }; [ "\${s%% *}" = Z ] || echo "CONCURRENT $1" >> \${ROOT}/log
fi
echo $$ > \${ROOT}/running-$1
if [ -f \${ROOT}/fast ]; then sleep 0.5 & else sleep 40 & fi
echo "$$ $!" >> \${ROOT}/pids
wait $!
echo "done $1" >> \${ROOT}/log
`;

function crashPlan() {
  return track(
    writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${ROOT}/work\nbootpgm: boot.sh\nbootpgm_args: ${.service}\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n',
      'l1.conf': '[svc-db]\n[svc-cache]\n',
      'l2.conf': '[svc-web]\n',
      'boot.sh': BOOT,
    }),
  );
}

async function bootAndKill(plan: ReturnType<typeof crashPlan>, run: string): Promise<void> {
  const proc = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', child, plan.path('top.conf'), plan.dbDir, run],
    { cwd: new URL('..', import.meta.url).pathname, stdio: 'ignore' },
  );
  children.push(proc);
  // Wait until some program runs, then kill at a random moment of the boot.
  const deadline = Date.now() + 30_000;
  while (!existsSync(plan.path('pids')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, Math.random() * 2_000));
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
  // From now on boot programs are quick; the killed run's copies sleep on until stopped.
  writeFileSync(plan.path('fast'), '');
}

function pidsStarted(plan: ReturnType<typeof crashPlan>): number[] {
  return plan
    .read('pids')
    .trim()
    .split(/\s+/)
    .map((p) => Number(p));
}

describe('after a SIGKILL of cloudboot during a boot', () => {
  it.each(['resume', 'status', 'terminate'] as const)(
    '%s first stops the programs it left running',
    async (command) => {
      const plan = crashPlan();
      await bootAndKill(plan, 'crash');
      const boot = new CloudBoot({ dbDir: plan.dbDir, runName: 'crash', drivers });
      const mark = readRunDatabase(plan.dbDir, 'crash', (store) => store.machineMark());
      if (command === 'resume') {
        expect((await boot.run()).failures).toEqual([]);
      } else if (command === 'status') {
        await boot.checkStatus();
      } else {
        expect((await boot.shutdown()).failures).toEqual([]);
      }
      expect(taggedProcesses(mark)).toEqual([]);
      expect(pidsStarted(plan).filter(alive)).toEqual([]);
      const log = existsSync(plan.path('log')) ? plan.read('log') : '';
      expect(log).not.toContain('CONCURRENT');
      if (command === 'resume') {
        expect(
          log
            .split('\n')
            .filter((l) => l.startsWith('done'))
            .sort(),
        ).toEqual(expect.arrayContaining(['done web']));
      }
      // The records are gone once reaped (or ended).
      const store = RunStore.open(plan.dbDir, 'crash');
      expect(store.leftoverProcesses('db')).toEqual([]);
      store.close();
      boot.close();
    },
  );
});
