/**
 * `status` and `repair` on the fake Compute Engine over real SSH: an
 * instance is deleted outside cloudboot; status names it, repair replaces it.
 */
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { type FakeGceCloud, startGceCloud } from '../fakes/gce-cloud.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { Cleanup } from '../ssh/boot-plans.js';
import { type ScenarioCloud, statusRepairScenario } from './status-repair-scenario.js';

let hosts: SshHosts;
let cloud: FakeGceCloud;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 3, samePort: true });
  cloud = await startGceCloud({
    addresses: hosts.hosts.map((h) => h.address),
    bootDelayMs: 100,
    terminatedVisibleMs: 0,
  });
});
afterEach(() => cleanup.run());
afterAll(async () => {
  await cloud?.close();
  await hosts?.stop();
});

function scenarioCloud(): ScenarioCloud {
  return {
    planKeys: [
      'driver: gce',
      'iaas: us-central1-a',
      `iaas_url: ${cloud.url}`,
      'gce_project: cb-test-project',
      'gce_access_token: env.GCE_TEST_TOKEN',
      'image: projects/debian-cloud/global/images/family/debian-12',
      'allocation: e2-small',
      '',
    ].join('\n'),
    env: { ...(process.env as Record<string, string>), GCE_TEST_TOKEN: 'fake-oauth-token' },
    instances: (run) =>
      cloud
        .instances()
        .filter((i) => i.labels['cloudboot-run'] === run)
        .map((i) => ({
          id: `projects/${i.project}/zones/${i.zone}/instances/${i.name}`,
          token: i.token,
          service: i.labels['cloudboot-service'],
          live: i.state !== 'DELETED',
        })),
    // The instance id is its path; the fake deletes by name. A deleted instance is gone (404).
    kill: async (id) => cloud.kill(id.split('/').pop() ?? id),
    killedAs: { state: 'vanished', native: 'not found' },
  };
}

describe('status and repair on GCE', () => {
  it('status names an instance deleted outside cloudboot and exits 1; repair launches a new one and re-checks what depends on it', async () => {
    await statusRepairScenario(scenarioCloud(), hosts, cleanup, 'gce-repair');
  });
});
