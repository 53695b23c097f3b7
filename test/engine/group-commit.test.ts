import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { RunStore } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenRun } from '../../packages/core/src/api/open-run.js';
import { executeOperation } from '../../packages/core/src/api/operation-runner.js';
import { type PlanDir, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
const child = new URL('../support/boot-child.ts', import.meta.url).pathname;
let dirs: PlanDir[] = [];
afterEach(() => {
  for (const d of dirs) d.remove();
  dirs = [];
});

describe('group commit', () => {
  it('boots 100 services in far fewer transactions than transitions', async () => {
    const services = (level: number) =>
      Array.from(
        { length: 50 },
        (_, i) => `[svc-s${level}-${i}]\nbootpgm: ok.sh\nreadypgm: ok.sh\n`,
      );
    const plan = writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n',
      'l1.conf': services(1).join(''),
      'l2.conf': services(2).join(''),
      'ok.sh': '#!/bin/sh\nexit 0\n',
    });
    dirs.push(plan);
    // The run's own database handle counts its commits: the operation is run on it directly.
    const run = new OpenRun({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'many',
      drivers,
    });
    const before = run.store.commits;
    const result = await executeOperation(run, 'boot', {}, new AbortController().signal, () => {});
    expect(result.failures).toEqual([]);
    const commits = run.store.commits - before;
    const transitions = run.store.transitions().length;
    // pending -> launching -> launched -> addressed -> reachable -> contextualizing
    // -> contextualized -> ready, and two program records, for each of 100 services.
    expect(transitions).toBe(700);
    expect(commits).toBeGreaterThan(0);
    // About 20 on a quiet machine, up to about 80 on a saturated one; one per write would be 900.
    expect(commits).toBeLessThan(transitions / 5);
    run.store.close();
  });

  it('commits the record of a program before starting it, even when the program kills cloudboot at once', async () => {
    // The boot program SIGKILLs the cloudboot process that started it (its
    // nearest `node` ancestor) as its first act: whatever is not committed
    // before the start is lost, and unguarded writes wait longer than that.
    const plan = writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
      'l1.conf': '[svc-victim]\nbootpgm: die.sh\n',
      'die.sh': [
        '#!/bin/sh',
        'p=$$',
        'while [ "$p" -gt 1 ]; do',
        // Says whom it kills before it does: the test reads this once cloudboot is dead.
        '  if [ "$(cat /proc/$p/comm)" = node ]; then echo "$p" > ${ROOT}/killed; kill -9 "$p"; break; fi',
        "  p=$(awk '{print $4}' /proc/$p/stat)",
        'done',
        '',
      ].join('\n'),
    });
    dirs.push(plan);
    const proc = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', child, plan.path('top.conf'), plan.dbDir, 'die'],
      { cwd: new URL('..', import.meta.url).pathname, stdio: 'ignore' },
    );
    const [, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      proc.once('exit', (code, sig) => resolve([code, sig])),
    );
    expect(signal).toBe('SIGKILL');
    expect(readFileSync(plan.path('killed'), 'utf8').trim()).toBe(String(proc.pid));

    const store = RunStore.open(plan.dbDir, 'die');
    try {
      expect(store.service('victim')?.state).toBe('contextualizing');
      expect(store.transitions('victim').map((t) => `${t.from}->${t.to}`)).toEqual([
        'pending->launching',
        'launching->launched',
        'launched->addressed',
        'addressed->reachable',
        'reachable->contextualizing',
      ]);
      expect(store.leftoverProcesses('victim')).toMatchObject([
        { host: 'local', program: 'bootpgm', token: expect.stringMatching(/\.1\.$/) },
      ]);
    } finally {
      store.close();
      // The output directory of the killed process, which it could not remove.
      for (const entry of readdirSync('/dev/shm')) {
        if (entry.startsWith(`cloudboot-out-${proc.pid}-`)) {
          rmSync(`/dev/shm/${entry}`, { recursive: true, force: true });
        }
      }
    }
  });
});
