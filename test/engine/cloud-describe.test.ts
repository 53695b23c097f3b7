import { readFileSync, writeFileSync } from 'node:fs';
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const stateDriver = new URL('../fixtures/drivers/state-file-driver.mjs', import.meta.url).pathname;
const track = planDirs();

interface CloudState {
  instances: Array<{ id: string; service: string; state: string }>;
  calls: Array<{ method: string; account: string; ids?: string[] }>;
}

describe('CloudBoot.describe()', () => {
  it('asks each driver account once for all its launched services and reports each view', async () => {
    const plan = track(
      writePlan({
        'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\nimage: img\ndriver: ${stateDriver}\nstate_file: \${ROOT}/cloud.json\n[cloud-east]\niaas: east\n[cloud-west]\niaas: west\n[runlevels]\nlevel1: l1.conf\n`,
        'l1.conf':
          '[svc-a]\ncloud: cloud-east\n[svc-b]\ncloud: cloud-east\n[svc-c]\ncloud: cloud-west\n[svc-here]\nhostname: localhost\n',
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'd',
      drivers: { 'static-ip': createDriver },
    });
    expect((await boot.run()).ok).toBe(true);
    const read = () => JSON.parse(readFileSync(plan.path('cloud.json'), 'utf8')) as CloudState;
    const id = (service: string) => boot.record(service).instanceId ?? '';
    const state = read();
    for (const i of state.instances) if (i.service === 'b') i.state = 'stopped';
    state.instances = state.instances.filter((i) => i.service !== 'c');
    state.calls = [];
    writeFileSync(plan.path('cloud.json'), JSON.stringify(state));

    const description = await boot.describe();
    const services = description.levels[0]?.services ?? [];
    expect(services.map((s) => [s.name, s.state, s.instanceId, s.cloud])).toEqual([
      [
        'a',
        'ready',
        id('a'),
        { instanceId: id('a'), state: 'running', nativeState: 'running', address: '127.0.0.1' },
      ],
      ['b', 'ready', id('b'), { instanceId: id('b'), state: 'stopped', nativeState: 'stopped' }],
      ['c', 'ready', id('c'), { instanceId: id('c'), state: 'vanished', nativeState: 'unknown' }],
      ['here', 'ready', 'static:localhost', null],
    ]);
    const calls = read().calls.map((c) => [c.method, c.account, c.ids]);
    expect(calls).toHaveLength(2);
    expect(calls).toEqual(
      expect.arrayContaining([
        ['describe', 'east', [id('a'), id('b')]],
        ['describe', 'west', [id('c')]],
      ]),
    );
    await boot.shutdown();
    boot.close();
  });
});
