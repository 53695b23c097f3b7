/**
 * `status` and `repair` on the fake EC2 over real SSH: the cloud terminates
 * a VM outside cloudboot; status names it, repair replaces it.
 */
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { type FakeEc2Cloud, startEc2Cloud } from '../fakes/ec2-cloud.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { Cleanup } from '../ssh/boot-plans.js';
import { ec2Env, ec2Profile } from './ec2-plans.js';
import { type ScenarioCloud, statusRepairScenario } from './status-repair-scenario.js';

let hosts: SshHosts;
let cloud: FakeEc2Cloud;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 3, samePort: true });
  cloud = await startEc2Cloud({
    addresses: hosts.hosts.map((h) => h.address),
    bootDelayMs: 100,
    shuttingDownMs: 30,
  });
});
afterEach(() => cleanup.run());
afterAll(async () => {
  await cloud?.close();
  await hosts?.stop();
});

function scenarioCloud(): ScenarioCloud {
  const gone = new Set(['shutting-down', 'terminated']);
  const ofRun = (run: string) => cloud.instances().filter((i) => i.tags['cloudboot-run'] === run);
  return {
    // The defaults' last lines, then the `[cloud-fake]` profile section.
    planKeys: `cloud: fake\nimage: ami-0c10dbo0700000001\nallocation: t3.micro\n${ec2Profile(cloud)}`,
    env: ec2Env(cloud),
    instances: (run) =>
      ofRun(run).map((i) => ({
        id: i.id,
        token: i.token,
        service: i.tags['cloudboot-service'],
        live: !gone.has(i.state),
      })),
    kill: async (id) => {
      cloud.kill(id);
      while (cloud.instances().find((i) => i.id === id)?.state !== 'terminated') {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    killedAs: { state: 'terminated', native: 'terminated' },
  };
}

describe('status and repair on EC2', () => {
  it('status names a VM the cloud terminated and exits 1; repair launches a new one and re-checks what depends on it', async () => {
    await statusRepairScenario(scenarioCloud(), hosts, cleanup, 'ec2-repair');
  });
});
