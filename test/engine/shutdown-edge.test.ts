import { writeFileSync } from 'node:fs';
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
const leaseDriver = new URL('../fixtures/drivers/slow-lease-driver.mjs', import.meta.url).pathname;
const poolDriver = new URL('../../examples/inhouse-driver/pool-driver.mjs', import.meta.url)
  .pathname;
const track = planDirs();

type Lease = { id: string; state: string; launches: number };

describe('shutdown, whatever state the boot left', () => {
  it('reports one service failing in an unexpected way and still shuts the others down', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\nterminatepgm: broken.tar.gz\n[svc-b]\nterminatepgm: stop.sh\n',
        'broken.tar.gz': '',
        'stop.sh': '#!/bin/sh\necho b >> ${ROOT}/stops\n',
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'odd',
      drivers,
    });
    expect((await boot.run()).ok).toBe(true);
    // Not a tarball at all: unpacking fails.
    writeFileSync(plan.path('broken.tar.gz'), 'not gzip');
    const down = await boot.shutdown();
    expect(down.failures.map((f) => [f.service, f.phase])).toEqual([['a', 'terminate']]);
    expect(down.failures[0]?.message).toMatch(
      /^a: terminate failed: could not unpack broken\.tar\.gz: tar exited with 2/,
    );
    expect(boot.record('b').state).toBe('terminated');
    expect(plan.read('stops')).toBe('b\n');
    boot.close();
  });

  it('terminates a VM that never became reachable, without trying to reach it again', async () => {
    const plan = track(
      writePlan({
        'top.conf': `[defaults]\nimage: img\ndriver: ${leaseDriver}\nlease_file: \${ROOT}/leases.json\nssh_port: 1\npgm_timeout: 1\nworkdir: \${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n`,
        'l1.conf': '[svc-vm]\n',
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'unreached',
      drivers,
    });
    const up = await boot.run();
    expect(up.failures.map((f) => f.phase)).toEqual(['connect']);
    const started = Date.now();
    const down = await boot.shutdown();
    expect(down.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(500);
    expect((JSON.parse(plan.read('leases.json')) as Lease[]).map((l) => l.state)).toEqual([
      'terminated',
    ]);
    expect(boot.record('vm').state).toBe('terminated');
    boot.close();
  });

  it('forgets a launch the driver refused: terminate launches nothing and finishes', async () => {
    const plan = track(
      writePlan({
        'top.conf': `[defaults]\nimage: img\ndriver: ${poolDriver}\npool_file: \${ROOT}/pool.json\nlocal_exe: true\n[runlevels]\nlevel1: l1.conf\n`,
        'l1.conf': '[svc-vm]\n',
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'refused',
      drivers,
    });
    const up = await boot.run();
    expect(up.failures.map((f) => f.message)).toEqual([
      'vm: launch failed: pool: all 0 hosts of the pool are leased',
    ]);
    expect(boot.record('vm')).toMatchObject({
      state: 'failed',
      launchToken: null,
      instanceId: null,
    });
    expect(boot.instances()).toEqual([]);
    expect((await boot.shutdown({ dashNine: true })).ok).toBe(true);
    expect(boot.record('vm').state).toBe('terminated');
    boot.close();
  });

  it('kills VMs with dash-nine even when values only boot needed no longer resolve', async () => {
    const plan = track(
      writePlan({
        'top.conf': `[defaults]\nimage: env.TEST_BOOT_IMAGE\ndriver: ${leaseDriver}\nlease_file: \${ROOT}/leases.json\nlocal_exe: true\nworkdir: \${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n`,
        'l1.conf': '[svc-vm]\n',
      }),
    );
    const up = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'env-gone',
      drivers,
      env: { TEST_BOOT_IMAGE: 'img-1' },
    });
    expect((await up.run()).ok).toBe(true);
    up.close();
    const down = new CloudBoot({ dbDir: plan.dbDir, runName: 'env-gone', drivers, env: {} });
    expect((await down.shutdown({ dashNine: true })).ok).toBe(true);
    expect((JSON.parse(plan.read('leases.json')) as Lease[]).map((l) => l.state)).toEqual([
      'terminated',
    ]);
    down.close();
  });

  it('a driver that rejects its settings fails the service, not the operation', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nimage: img\ndriver: ./picky.mjs\nlocal_exe: true\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-vm]\n',
        'picky.mjs':
          "export function createDriver(settings) { if (!settings.region) throw new Error('region is required'); }\n",
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'picky',
      drivers,
    });
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([
      'vm: launch failed: driver "./picky.mjs" could not be created from its settings: region is required',
    ]);
    boot.close();
  });
});
