/**
 * An account whose real call limit is below the plan's
 * `api_calls_per_second`: the fake EC2 limits calls with a token bucket, as
 * EC2 does (40 calls/s here, the plan allows 200). cloudboot's pace comes
 * down to the limit, so most calls are answered rather than throttled,
 * every launch succeeds within its retries, and the user is told.
 */
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-ec2';
import { runCli } from 'cloudboot';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeEc2Cloud, startEc2Cloud } from '../fakes/ec2-cloud.js';
import { type PlanDir, planDirs, writePlan } from '../support/plan-files.js';
import { ec2Env, ec2Profile } from './ec2-plans.js';

const SERVICES = 40;
let cloud: FakeEc2Cloud;
const track = planDirs();

beforeAll(async () => {
  cloud = await startEc2Cloud({ addresses: ['127.0.0.1'], bootDelayMs: 50 });
});
afterAll(() => cloud?.close());
// A new bucket (full) for each test.
beforeEach(() => {
  cloud.faults.rateLimit = { perSecond: 40, burst: 5 };
});

function limitedPlan(): PlanDir {
  return track(
    writePlan({
      'top.conf': `[defaults]\ncloud: fake\nimage: ami-0c10dbo0700000001\nallocation: t3.micro\nlocal_exe: true\nworkdir: \${WORKDIR}\n${ec2Profile(cloud, 'api_calls_per_second: 200\n')}[runlevels]\nlevel1: l1.conf\n`,
      'l1.conf': `[svc-web]\nreplica_count: ${SERVICES}\n`,
    }),
  );
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

describe('an account limited below api_calls_per_second', () => {
  it('boots every service with few throttled answers, and the result counts them as the cloud did', async () => {
    const plan = limitedPlan();
    const callsBefore = sum(cloud.callCounts());
    const throttledBefore = cloud.faultCounts().throttled ?? 0;
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'paced',
      drivers: { ec2: createDriver },
      env: ec2Env(cloud),
    });
    try {
      const result = await boot.run();
      expect(result.failures.map((f) => f.message)).toEqual([]);
      const throttled = (cloud.faultCounts().throttled ?? 0) - throttledBefore;
      // About 30 throttled answers; keeping the plan's pace, 60 to 80.
      expect(throttled).toBeGreaterThan(0);
      expect(throttled).toBeLessThanOrEqual(40);
      expect(result.throttledAccounts).toEqual([
        {
          account: `ec2 ${cloud.region}`,
          calls: sum(cloud.callCounts()) - callsBefore,
          throttled,
          limitPerSecond: 200,
        },
      ]);
    } finally {
      await boot.shutdown();
      boot.close();
    }
  });

  it('says at the end of the boot which account was throttled and what to change', async () => {
    const plan = limitedPlan();
    let out = '';
    const write = (t: string) => {
      out += t;
    };
    const code = await runCli(['boot', 'top.conf', '-n', 'told', '-d', plan.dbDir], {
      stdout: { write },
      stderr: { write },
      env: ec2Env(cloud),
      cwd: plan.root,
    });
    expect(code, out).toBe(0);
    expect(out).toMatch(
      new RegExp(
        `^cloud ec2 ${cloud.region} throttled \\d+ of \\d+ calls: cloudboot slowed down and retried them; a lower api_calls_per_second \\(now 200\\) saves those calls$`,
        'm',
      ),
    );
    const down = await runCli(['terminate', 'told', '-d', plan.dbDir, '-q'], {
      stdout: { write },
      stderr: { write },
      env: ec2Env(cloud),
      cwd: plan.root,
    });
    expect(down, out).toBe(0);
  });
});
