import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudBoot } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const stateDriver = new URL('../fixtures/drivers/state-file-driver.mjs', import.meta.url).pathname;
const track = planDirs();

interface CloudState {
  instances: Array<{ id: string; service: string; image: string; state: string }>;
  calls: Array<{ method: string; account: string; at: number; ids?: string[] }>;
  throttle: number;
}

const cloud = (root: string): CloudState =>
  JSON.parse(readFileSync(join(root, 'cloud.json'), 'utf8')) as CloudState;

/** A plan of launched machines whose programs run here (`local_exe`), on the state-file driver. */
function vmPlan(defaults: string, services: string, files: Record<string, string> = {}) {
  return track(
    writePlan({
      'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\ndriver: ${stateDriver}\nstate_file: \${ROOT}/cloud.json\n${defaults}\n[runlevels]\nlevel1: l1.conf\n`,
      'l1.conf': services,
      ...files,
    }),
  );
}

describe('the account policy from the plan', () => {
  it('api_retries sets how often a throttled call is tried', async () => {
    for (const [retries, failures] of [
      ['0', ['a: launch failed: state-file: slow down (throttled by the state file)']],
      ['1', []],
    ] as const) {
      const plan = vmPlan(`image: img\napi_retries: ${retries}`, '[svc-a]\n');
      writeFileSync(
        plan.path('cloud.json'),
        JSON.stringify({ instances: [], calls: [], throttle: 1 }),
      );
      const boot = new CloudBoot({
        dbDir: plan.dbDir,
        planFile: plan.path('top.conf'),
        runName: 'p',
      });
      const result = await boot.run();
      expect(result.failures.map((f) => f.message)).toEqual(failures);
      expect(cloud(plan.root).calls.filter((c) => c.method === 'launch')).toHaveLength(
        Number(retries) + 1,
      );
      await boot.shutdown();
      boot.close();
    }
  });

  it('api_calls_per_second of a cloud profile spaces the calls of that account', async () => {
    const plan = vmPlan(
      'image: img\ncloud: cloud-slow\n[cloud-slow]\niaas: slow\napi_calls_per_second: 5',
      '[svc-a]\n[svc-b]\n[svc-c]\n',
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'r',
    });
    expect((await boot.run()).ok).toBe(true);
    const launches = cloud(plan.root)
      .calls.filter((c) => c.method === 'launch')
      .map((c) => c.at);
    expect(launches).toHaveLength(3);
    // Three calls at 5 per second take 2/5 s (the limiter's exact timing is tested with fake
    // timers in managed-driver.test.ts; here the driver notes the time after some file I/O).
    // The default, 20 per second, would take 1/10 s.
    expect((launches[2] ?? 0) - (launches[0] ?? 0)).toBeGreaterThanOrEqual(300);
    await boot.shutdown();
    boot.close();
  });
});

describe('terminating needs only what terminating needs', () => {
  const files = {
    'stop.sh': '#!/bin/sh\necho "stopped $1" >> ${ROOT}/stops\n',
  };
  const services = '[svc-web]\nterminatepgm: stop.sh\nterminatepgm_args: web\n';

  it('checks and terminates a VM booted with image: env.IMAGE after IMAGE is unset; history and clean still work', async () => {
    const plan = vmPlan('image: env.IMAGE', services, files);
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'img',
      env: { IMAGE: 'ami-boot-only' },
    });
    expect((await boot.run()).ok).toBe(true);
    expect(cloud(plan.root).instances).toMatchObject([
      { id: 'vm-1', image: 'ami-boot-only', state: 'running' },
    ]);
    boot.close();

    const later = new CloudBoot({ dbDir: plan.dbDir, runName: 'img', env: {} });
    // Checking a machine that is up needs no launch-only value either.
    expect((await later.checkStatus()).failures.map((f) => f.message)).toEqual([]);
    expect((await later.repair()).failures.map((f) => f.message)).toEqual([]);
    const history = await later.history();
    expect(history.map((h) => [h.instanceId, h.cloud?.state, h.note])).toEqual([
      ['vm-1', 'running', undefined],
    ]);
    expect(await later.killInstances()).toEqual([]);
    const down = await later.shutdown();
    expect(down.failures.map((f) => f.message)).toEqual([]);
    expect(later.record('web').state).toBe('terminated');
    expect(cloud(plan.root).instances.map((i) => i.state)).toEqual(['terminated']);
    expect(plan.read('stops')).toBe('stopped web\n');
    later.close();
  });

  it('still terminates the VM when the terminate program cannot be set up, and says why', async () => {
    const plan = vmPlan('image: img\npgm_timeout: env.TIMEOUT', services, files);
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'ssh',
      env: { TIMEOUT: '30' },
    });
    expect((await boot.run()).ok).toBe(true);
    boot.close();
    const later = new CloudBoot({
      dbDir: plan.dbDir,
      runName: 'ssh',
      env: { TIMEOUT: 'soon' },
    });
    const down = await later.shutdown();
    expect(down.failures).toEqual([]);
    expect(cloud(plan.root).instances.map((i) => i.state)).toEqual(['terminated']);
    expect(readFileSync(join(later.logDir, 'web.log'), 'utf8')).toContain(
      'cannot run the terminate program (pgm_timeout is "soon"; expected a positive number of seconds, at most 2147483 (about 24 days, the longest timer Node.js allows)); terminating the machine without it',
    );
    later.close();
  });
});
