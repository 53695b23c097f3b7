/**
 * A launch whose every answer was lost (and whose instance could not be
 * looked up by its client token either) fails with the instance made but
 * unknown to cloudboot: the launch token stays recorded, so terminate finds
 * the instance and resume repeats the launch with the same token instead of
 * making a second one.
 */
import { RunStore } from '@cloudboot/core';
import { runCli } from 'cloudboot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEc2Cloud, startEc2Cloud } from '../fakes/ec2-cloud.js';
import { type PlanDir, planDirs, writePlan } from '../support/plan-files.js';
import { ec2Env, ec2Profile } from './ec2-plans.js';

let cloud: FakeEc2Cloud;
const track = planDirs();

beforeAll(async () => {
  cloud = await startEc2Cloud({ addresses: ['127.0.0.1'], bootDelayMs: 50 });
});
afterAll(() => cloud?.close());

async function cli(plan: PlanDir, argv: string[]) {
  let out = '';
  const code = await runCli([...argv, '-d', plan.dbDir, '-q'], {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (out += t) },
    env: ec2Env(cloud),
    cwd: plan.root,
  });
  return { code, out };
}

/**
 * Boots a one-service plan while every RunInstances answer is lost and the
 * cloud cannot be asked what it made; returns the plan and the instance made.
 */
async function bootLosingAnswers(run: string) {
  const plan = track(
    writePlan({
      'top.conf': `[defaults]\ncloud: fake\nimage: ami-0c10dbo0700000001\nallocation: t3.micro\nlocal_exe: true\nworkdir: \${WORKDIR}\n${ec2Profile(cloud, 'api_retries: 0\n')}[runlevels]\nlevel1: l1.conf\n`,
      'l1.conf': '[svc-db]\n',
    }),
  );
  const before = cloud.instances().length;
  // The driver asks for the instance by client token after a lost answer:
  // that call is throttled too, so the launch ends without knowing.
  cloud.faults.loseAnswers = 1;
  cloud.faults.failNext = Array.from({ length: 100 }, () => ({
    code: 'RequestLimitExceeded',
    status: 503,
    action: 'DescribeInstances',
  }));
  const boot = await cli(plan, ['boot', 'top.conf', '-n', run]);
  cloud.faults.loseAnswers = 0;
  cloud.faults.failNext = [];
  expect(boot.code, boot.out).toBe(1);
  const made = cloud.instances().slice(before);
  // Every attempt carried the one token: one instance, running, unknown to cloudboot.
  expect(made).toHaveLength(1);
  const [instance] = made;
  const store = RunStore.open(plan.dbDir, run);
  try {
    expect(store.service('db')).toMatchObject({
      state: 'failed',
      launchToken: instance?.token,
      instanceId: null,
    });
    expect(store.instances()).toEqual([
      expect.objectContaining({ token: instance?.token, service: 'db', instanceId: null }),
    ]);
  } finally {
    store.close();
  }
  return { plan, instance };
}

describe('a launch whose answers were all lost', () => {
  it('keeps its token: terminate finds the instance by it', async () => {
    const { plan, instance } = await bootLosingAnswers('lost-down');
    const down = await cli(plan, ['terminate', 'lost-down']);
    expect(down.code, down.out).toBe(0);
    const after = cloud.instances().find((i) => i.id === instance?.id);
    expect(['shutting-down', 'terminated']).toContain(after?.state);
  });

  it('keeps its token: resume repeats the launch with it and adopts the instance', async () => {
    const { plan, instance } = await bootLosingAnswers('lost-resume');
    const count = cloud.instances().length;
    const resumed = await cli(plan, ['resume', 'lost-resume']);
    expect(resumed.code, resumed.out).toBe(0);
    expect(cloud.instances()).toHaveLength(count);
    const store = RunStore.open(plan.dbDir, 'lost-resume');
    try {
      expect(store.service('db')).toMatchObject({
        state: 'ready',
        launchToken: instance?.token,
        instanceId: instance?.id,
      });
    } finally {
      store.close();
    }
    expect((await cli(plan, ['terminate', 'lost-resume'])).code).toBe(0);
    expect(cloud.instances().filter((i) => i.state === 'running')).toEqual([]);
  });
});
