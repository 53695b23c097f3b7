import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CloudBoot, InterruptedError, RunStore } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { afterEach, describe, expect, it } from 'vitest';
import { type PlanDir, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
const child = new URL('../support/boot-child.ts', import.meta.url).pathname;
const leaseDriver = new URL('../fixtures/drivers/slow-lease-driver.mjs', import.meta.url).pathname;
let dirs: PlanDir[] = [];
let children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) d.remove();
  dirs = [];
  children = [];
});

function startChild(plan: PlanDir, run: string): ChildProcess {
  const proc = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', child, plan.path('top.conf'), plan.dbDir, run],
    {
      cwd: new URL('..', import.meta.url).pathname,
      stdio: 'ignore',
    },
  );
  children.push(proc);
  return proc;
}

/** Waits until `check` holds for the run's database (read while the child writes it). */
async function waitFor(
  plan: PlanDir,
  run: string,
  check: (store: RunStore) => boolean,
): Promise<void> {
  // Long enough for a child that loads the sources through tsx on a loaded machine.
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    if (existsSync(`${plan.dbDir}/cloudboot-${run}.db`)) {
      const store = RunStore.open(plan.dbDir, run);
      try {
        if (check(store)) return;
      } finally {
        store.close();
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out waiting for the child run');
}

async function kill(proc: ChildProcess): Promise<void> {
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

describe('interrupting an operation', () => {
  it('abort() kills running programs, keeps states, and start() continues', async () => {
    const plan = writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n',
      'l1.conf': '[svc-db]\nbootpgm: db.sh\n[svc-cache]\nbootpgm: cache.sh\n',
      'l2.conf': '[svc-web]\n',
      'db.sh': '#!/bin/sh\necho $$ > ${ROOT}/db.pid\n[ -f ${ROOT}/fast ] || sleep 60\n',
      'cache.sh': '#!/bin/sh\nexit 0\n',
    });
    dirs.push(plan);
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'abort',
      drivers,
    });
    boot.start();
    // Abort while db's boot program runs and after cache finished.
    while (!existsSync(plan.path('db.pid')) || boot.record('cache').state !== 'ready') {
      await new Promise((r) => setTimeout(r, 20));
    }
    boot.abort();
    const result = await boot.wait();
    expect(result).toMatchObject({ ok: false, interrupted: true, failures: [] });
    expect(result.levels.map((l) => l.status)).toEqual(['interrupted', 'not-executed']);
    expect(boot.record('db').state).toBe('contextualizing');
    expect(boot.record('cache').state).toBe('ready');
    expect(boot.record('web').state).toBe('pending');
    expect(() => boot.poll()).toThrow('the boot of run abort was interrupted');
    expect(() => boot.poll()).toThrow(InterruptedError);
    const pid = Number(plan.read('db.pid'));
    expect(() => process.kill(pid, 0)).toThrow();

    writeFileSync(plan.path('fast'), '');
    const resumed = await boot.run();
    expect(resumed).toMatchObject({ ok: true, interrupted: false });
    expect(
      boot
        .getServices()
        .flat()
        .map((s) => s.state),
    ).toEqual(['ready', 'ready', 'ready']);
    boot.close();
  });
});

describe('interrupting a launch', () => {
  it('stops waiting for the cloud at once and relaunches with the same token on resume', async () => {
    const plan = writePlan({
      'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\nimage: test-image\ndriver: ${leaseDriver}\nlease_file: \${ROOT}/leases.json\nanswer_delay_ms: \${global.delay}\n[globals]\ndelay: 60000\n[runlevels]\nlevel1: l1.conf\n`,
      'l1.conf': '[svc-vm]\n',
    });
    dirs.push(plan);
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'abort-launch',
      drivers,
    });
    boot.start();
    while (!existsSync(plan.path('leases.json'))) await new Promise((r) => setTimeout(r, 20));
    const aborted = Date.now();
    boot.abort();
    expect(await boot.wait()).toMatchObject({ interrupted: true, failures: [] });
    expect(Date.now() - aborted).toBeLessThan(1000);
    const token = boot.record('vm').launchToken;
    expect(boot.record('vm')).toMatchObject({ state: 'launching', instanceId: null });
    boot.close();

    const resumed = new CloudBoot({
      dbDir: plan.dbDir,
      runName: 'abort-launch',
      globals: { delay: '0' },
      drivers,
    });
    expect((await resumed.run()).ok).toBe(true);
    expect(resumed.record('vm')).toMatchObject({
      state: 'ready',
      instanceId: 'vm-1',
      launchToken: token,
    });
    expect(JSON.parse(plan.read('leases.json'))).toHaveLength(1);
    resumed.close();
  });
});

describe('terminating a run whose launch was interrupted', () => {
  it.each([
    ['asks the cloud by tag', 'true', 1],
    ['repeats the launch with the recorded token', 'false', 2],
  ])(
    'finds the machine whose answer was lost (%s) and terminates it',
    async (_how, findsByTags, launches) => {
      const plan = writePlan({
        'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\nimage: test-image\ndriver: ${leaseDriver}\nlease_file: \${ROOT}/leases.json\nfinds_by_tags: ${findsByTags}\nanswer_delay_ms: \${global.delay}\n[globals]\ndelay: 60000\n[runlevels]\nlevel1: l1.conf\n`,
        'l1.conf': '[svc-vm]\n',
      });
      dirs.push(plan);
      const boot = new CloudBoot({
        dbDir: plan.dbDir,
        planFile: plan.path('top.conf'),
        runName: 'lost',
        drivers,
      });
      boot.start();
      while (!existsSync(plan.path('leases.json'))) await new Promise((r) => setTimeout(r, 20));
      boot.abort();
      await boot.wait();
      boot.close();

      const down = new CloudBoot({
        dbDir: plan.dbDir,
        runName: 'lost',
        globals: { delay: '0' },
        drivers,
      });
      const [seen] = await down.history();
      if (findsByTags === 'true') {
        expect(seen).toMatchObject({
          instanceId: 'vm-1',
          current: true,
          cloud: { state: 'running' },
        });
      } else {
        expect(seen?.instanceId).toBeNull();
        expect(seen?.note).toBe(
          `the launch was interrupted before the cloud answered; look for tag cloudboot-token=${seen?.token}`,
        );
      }
      expect((await down.shutdown()).ok).toBe(true);
      expect(JSON.parse(plan.read('leases.json'))).toMatchObject([
        { id: 'vm-1', state: 'terminated', launches },
      ]);
      expect(down.instances()).toMatchObject([
        { instanceId: 'vm-1', terminatedAt: expect.any(Number) },
      ]);
      expect(down.record('vm').state).toBe('terminated');
      down.close();
    },
  );
});

describe('resuming after a crash', () => {
  it('continues a killed boot without re-running finished work, taking over the stale lock', async () => {
    const plan = writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n',
      'l1.conf': '[svc-db]\nbootpgm: db.sh\n',
      'l2.conf': '[svc-web]\nbootpgm: web.sh\n',
      'db.sh': '#!/bin/sh\necho db >> ${ROOT}/runs\necho \'{"port": "5432"}\' > bootout.json\n',
      'web.sh': '#!/bin/sh\necho web >> ${ROOT}/runs\n[ -f ${ROOT}/fast ] || sleep 60\n',
    });
    dirs.push(plan);
    const proc = startChild(plan, 'crash');
    await waitFor(
      plan,
      'crash',
      (s) =>
        s.service('web')?.state === 'contextualizing' &&
        existsSync(plan.path('runs')) &&
        readFileSync(plan.path('runs'), 'utf8').includes('web'),
    );
    await kill(proc);
    writeFileSync(plan.path('fast'), '');

    const boot = new CloudBoot({ dbDir: plan.dbDir, runName: 'crash', drivers });
    expect(boot.record('web').state).toBe('contextualizing');
    const result = await boot.run();
    expect(result.failures).toEqual([]);
    expect(plan.read('runs')).toBe('db\nweb\nweb\n');
    expect(
      boot
        .getServices()
        .flat()
        .map((s) => s.state),
    ).toEqual(['ready', 'ready']);
    expect(boot.instances()).toHaveLength(2);
    boot.close();
  });

  it('relaunches an interrupted launch with the same token, so no second machine appears', async () => {
    const plan = writePlan({
      'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\nimage: test-image\ndriver: ${leaseDriver}\nlease_file: \${ROOT}/leases.json\nanswer_delay_ms: \${global.delay}\n[globals]\ndelay: 60000\n[runlevels]\nlevel1: l1.conf\n`,
      'l1.conf': '[svc-vm]\n',
    });
    dirs.push(plan);
    const proc = startChild(plan, 'launch');
    await waitFor(plan, 'launch', () => existsSync(plan.path('leases.json')));
    await kill(proc);

    const before = RunStore.open(plan.dbDir, 'launch');
    const token = before.service('vm')?.launchToken;
    expect(before.service('vm')?.state).toBe('launching');
    expect(before.service('vm')?.instanceId).toBeNull();
    before.close();

    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      runName: 'launch',
      globals: { delay: '0' },
      drivers,
    });
    const result = await boot.run();
    expect(result.failures).toEqual([]);
    const leases = JSON.parse(plan.read('leases.json')) as Array<{ id: string; token: string }>;
    // Asked twice with the same token; one machine.
    expect(leases).toEqual([{ id: 'vm-1', token, service: 'vm', state: 'running', launches: 2 }]);
    expect(boot.record('vm')).toMatchObject({
      state: 'ready',
      instanceId: 'vm-1',
      launchToken: token,
    });
    expect(boot.instances().map((i) => [i.token, i.instanceId])).toEqual([[token, 'vm-1']]);

    expect((await boot.shutdown()).ok).toBe(true);
    expect(JSON.parse(plan.read('leases.json'))[0].state).toBe('terminated');
    boot.close();
  });
});
