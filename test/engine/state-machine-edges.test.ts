import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { CloudBoot, RunStore } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
const track = planDirs();

/** One local service whose programs count their runs in files under the plan's root. */
function countingPlan() {
  return track(
    writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
      'l1.conf': '[svc-a]\nbootpgm: boot.sh\nreadypgm: ready.sh\nterminatepgm: term.sh\n',
      'boot.sh':
        '#!/bin/sh\necho boot >> ${ROOT}/runs\nif [ -f ${ROOT}/slow ]; then touch ${ROOT}/started; sleep 30; fi\n',
      'ready.sh': '#!/bin/sh\necho ready >> ${ROOT}/runs\n[ ! -f ${ROOT}/ready-fails ]\n',
      'term.sh': '#!/bin/sh\necho terminate >> ${ROOT}/runs\n',
    }),
  );
}

describe('moves the state machine does not allow are not made', () => {
  it('does not boot or check a service whose shutdown was interrupted, and finishes its shutdown', async () => {
    const plan = countingPlan();
    const first = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'half-down',
      drivers,
    });
    expect((await first.run()).ok).toBe(true);
    first.close();
    // As if a shutdown died right after recording that it started.
    const store = RunStore.open(plan.dbDir, 'half-down');
    store.transition('a', 'terminating');
    store.close();

    const again = new CloudBoot({ dbDir: plan.dbDir, runName: 'half-down', drivers });
    again.checkStatus();
    const status = await again.wait();
    expect(status.levels[0]?.services[0]?.status).toBe('not-executed');
    expect(again.record('a').state).toBe('terminating');

    const resumed = await again.run();
    expect(resumed.failures.map((f) => [f.phase, f.message])).toEqual([
      [
        'terminate',
        'a: terminate failed: its shutdown was interrupted; finish it (cloudboot terminate half-down) before booting it again',
      ],
    ]);
    expect(again.record('a')).toMatchObject({ state: 'failed', failure: { phase: 'terminate' } });
    expect(plan.read('runs')).toBe('boot\nready\n');

    expect((await again.shutdown()).ok).toBe(true);
    expect(again.record('a').state).toBe('terminated');
    expect(plan.read('runs')).toBe('boot\nready\nterminate\n');
    again.close();
    const log = RunStore.open(plan.dbDir, 'half-down');
    expect(
      log
        .transitions('a')
        .slice(-4)
        .map((t) => `${t.from}->${t.to}`),
    ).toEqual([
      'ready->terminating',
      'terminating->failed',
      'failed->terminating',
      'terminating->terminated',
    ]);
    log.close();
  });

  it('runs an interrupted boot program of a restarted service again on resume', async () => {
    const plan = countingPlan();
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'rerun',
      drivers,
    });
    expect((await boot.run()).ok).toBe(true);
    // The ready program fails: repair restarts the service, and is
    // interrupted while its boot program runs.
    writeFileSync(plan.path('ready-fails'), '');
    writeFileSync(plan.path('slow'), '');
    boot.repair();
    while (!existsSync(plan.path('started'))) await new Promise((r) => setTimeout(r, 20));
    boot.abort();
    expect((await boot.wait()).interrupted).toBe(true);
    expect(boot.record('a')).toMatchObject({ state: 'contextualizing', contextualized: false });

    rmSync(plan.path('ready-fails'));
    rmSync(plan.path('slow'));
    const resumed = await boot.run();
    expect(resumed.failures).toEqual([]);
    expect(boot.record('a')).toMatchObject({ state: 'ready', contextualized: true });
    expect(plan.read('runs')).toBe('boot\nready\nready\nboot\nboot\nready\n');
    await boot.shutdown();
    boot.close();
  });
});
