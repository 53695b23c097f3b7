/**
 * `status` and `repair` on the fake OpenStack cloud over real SSH: a server
 * is deleted outside cloudboot; status names it, repair replaces it.
 */
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import {
  type FakeOpenstackCloud,
  fakePlanDefaults,
  startOpenstackCloud,
} from '../fakes/openstack-cloud.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { Cleanup } from '../ssh/boot-plans.js';
import { type ScenarioCloud, statusRepairScenario } from './status-repair-scenario.js';

let hosts: SshHosts;
let cloud: FakeOpenstackCloud;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 3, samePort: true });
  cloud = await startOpenstackCloud({
    addresses: hosts.hosts.map((h) => h.address),
    bootDelayMs: 100,
  });
});
afterEach(() => cleanup.run());
afterAll(async () => {
  await cloud?.close();
  await hosts?.stop();
});

function scenarioCloud(): ScenarioCloud {
  return {
    planKeys: `${fakePlanDefaults(cloud)}sshkeyname: cloudboot\nos_network: private\n`,
    env: { ...(process.env as Record<string, string>) },
    instances: (run) =>
      cloud
        .instances()
        .filter((i) => i.metadata['cloudboot-run'] === run)
        .map((i) => ({
          id: i.id,
          token: i.token,
          service: i.metadata['cloudboot-service'],
          live: i.state !== 'DELETED',
        })),
    // Nova forgets a deleted server at once: the driver reports it vanished.
    kill: async (id) => cloud.kill(id),
    killedAs: { state: 'vanished', native: 'not found' },
  };
}

describe('status and repair on OpenStack', () => {
  it('status names a server deleted outside cloudboot and exits 1; repair launches a new one and re-checks what depends on it', async () => {
    await statusRepairScenario(scenarioCloud(), hosts, cleanup, 'os-repair');
  });
});
