import { writeFileSync } from 'node:fs';
import { CloudBoot, listRuns, RunDatabaseError } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
const track = planDirs();

describe('listRuns', () => {
  it('sums up every run of the directory without taking their locks, and names an unreadable one', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-one]\nreadypgm: ok.sh\n[svc-two]\nreadypgm: ok.sh\n',
        'ok.sh': '#!/bin/sh\nexit 0\n',
      }),
    );
    expect(listRuns(plan.dbDir)).toEqual([]);
    const top = plan.path('top.conf');
    const booted = new CloudBoot({ dbDir: plan.dbDir, planFile: top, runName: 'booted', drivers });
    expect((await booted.run()).ok).toBe(true);
    const fresh = new CloudBoot({ dbDir: plan.dbDir, planFile: top, runName: 'fresh', drivers });
    fresh.close();
    writeFileSync(`${plan.dbDir}/cloudboot-junk.db`, 'not a database\n'.repeat(100));

    // The status operation holds the run's lock while the runs are listed.
    const status = booted.checkStatus();
    const runs = listRuns(plan.dbDir);
    expect((await status).ok).toBe(true);
    expect(runs.map(({ createdAt, ...rest }) => rest)).toEqual([
      { name: 'booted', planFile: top, services: 2, states: { ready: 2 } },
      { name: 'fresh', planFile: top, services: 2, states: { pending: 2 } },
      {
        name: 'junk',
        planFile: null,
        services: 0,
        states: {},
        error: expect.stringContaining(`${plan.dbDir}/cloudboot-junk.db`),
      },
    ]);
    const [first, second, third] = runs;
    expect(first?.createdAt).toBeLessThanOrEqual(second?.createdAt ?? 0);
    expect(second?.createdAt).toBeLessThanOrEqual(Date.now());
    expect(third?.createdAt).toBeNull();
    await booted.shutdown();
    booted.close();
  });

  it('fails naming the path when the directory is a file', () => {
    const plan = track(writePlan({ 'file.txt': 'x\n' }));
    expect(() => listRuns(plan.path('file.txt'))).toThrow(RunDatabaseError);
    expect(() => listRuns(plan.path('file.txt'))).toThrow(
      `${plan.path('file.txt')} is not a directory; expected the directory that holds run databases`,
    );
  });
});
