import { readFileSync, writeFileSync } from 'node:fs';
import { CloudBoot, type Driver, DriverError } from '@cloudboot/core';
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

  it('reports an account whose describe fails, and an id left out of the answer as vanished; status still runs the ready programs it can', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nworkdir: ${WORKDIR}\nimage: img\ndriver: scripted\nreadypgm: ready.sh\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-ok]\niaas: good\n[svc-lost]\niaas: good\n[svc-blind]\niaas: broken\n',
        'ready.sh': '#!/bin/sh\necho ready >> ${ROOT}/ready.log\n',
      }),
    );
    let describing = false;
    const scripted = (settings: Readonly<Record<string, string>>): Driver => ({
      name: 'scripted',
      capabilities: { launchesMachines: true, findsByTags: false },
      launch: async (spec) => ({ instanceId: `${settings.iaas}-${spec.service}` }),
      describe: async (ids) => {
        if (describing && settings.iaas === 'broken') {
          throw new DriverError('auth', 'scripted', 'the key was revoked');
        }
        return ids
          .filter((id) => !describing || !id.endsWith('lost'))
          .map((instanceId) => ({
            instanceId,
            state: 'running',
            nativeState: 'up',
            address: 'localhost',
          }));
      },
      terminate: async () => {},
      validate: async () => {},
    });
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'e',
      drivers: { scripted },
      driverPolicy: { retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } },
    });
    expect((await boot.run()).ok).toBe(true);
    describing = true;
    const views = (await boot.describe()).levels[0]?.services.map((s) => [s.name, s.cloud]);
    expect(views).toEqual([
      ['ok', { instanceId: 'good-ok', state: 'running', nativeState: 'up', address: 'localhost' }],
      ['lost', { instanceId: 'good-lost', state: 'vanished', nativeState: 'not described' }],
      [
        'blind',
        { instanceId: 'broken-blind', error: 'describe failed: scripted: the key was revoked' },
      ],
    ]);
    const events: unknown[] = [];
    boot.on((e) => {
      if (e.type === 'cloud') events.push([e.service, e.state ?? e.error]);
    });
    const status = await boot.checkStatus();
    expect(status.failures.map((f) => f.message)).toEqual([
      "lost: address failed: instance good-lost is vanished (the cloud says 'not described'); run `cloudboot repair e` to replace it",
    ]);
    expect(events).toEqual([
      ['ok', 'running'],
      ['lost', 'vanished'],
      ['blind', 'describe failed: scripted: the key was revoked'],
    ]);
    // ok and blind had their ready programs run (boot ran all three once).
    expect(plan.read('ready.log')).toBe('ready\nready\nready\nready\nready\n');
    boot.close();
  });
});
