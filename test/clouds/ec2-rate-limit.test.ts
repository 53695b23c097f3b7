/**
 * An account whose real call limit is below the plan's
 * `api_calls_per_second`: the fake EC2 limits calls with a token bucket, as
 * EC2 does (40 calls/s here, the plan allows 200). cloudboot's pace comes
 * down to the limit, so most calls are answered rather than throttled, and
 * every launch succeeds within its retries.
 */
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEc2Cloud, startEc2Cloud } from '../fakes/ec2-cloud.js';
import { planDirs, writePlan } from '../support/plan-files.js';
import { ec2Env, ec2Profile } from './ec2-plans.js';

const SERVICES = 40;
let cloud: FakeEc2Cloud;
const track = planDirs();

beforeAll(async () => {
  cloud = await startEc2Cloud({
    addresses: ['127.0.0.1'],
    bootDelayMs: 50,
    faults: { rateLimit: { perSecond: 40, burst: 5 } },
  });
});
afterAll(() => cloud?.close());

describe('an account limited below api_calls_per_second', () => {
  it('boots every service with few throttled answers: the pace comes down to what the account gets', async () => {
    const plan = track(
      writePlan({
        'top.conf': `[defaults]\ncloud: fake\nimage: ami-0c10dbo0700000001\nallocation: t3.micro\nlocal_exe: true\nworkdir: \${WORKDIR}\n${ec2Profile(cloud, 'api_calls_per_second: 200\n')}[runlevels]\nlevel1: l1.conf\n`,
        'l1.conf': `[svc-web]\nreplica_count: ${SERVICES}\n`,
      }),
    );
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
      expect(cloud.instances()).toHaveLength(SERVICES);
      // About 30 throttled answers; keeping the plan's pace, 60 to 80.
      expect(cloud.faultCounts().throttled).toBeLessThanOrEqual(40);
    } finally {
      await boot.shutdown();
      boot.close();
    }
  });
});
