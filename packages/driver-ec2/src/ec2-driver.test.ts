import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Driver, DriverError, type LaunchSpec } from '@cloudboot/core';
import { testDriver } from '@cloudboot/core/conformance';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeEc2Cloud, startEc2Cloud } from '../../../test/fakes/ec2-cloud.js';
import { createDriver } from './ec2-driver.js';
import { EC2_DRIVER_NAME } from './ec2-errors.js';
import { EC2_NATIVE_STATES, EC2_STATE_MAP, type Ec2NativeState } from './ec2-states.js';

let cloud: FakeEc2Cloud;
let dir: string;

beforeAll(async () => {
  cloud = await startEc2Cloud({
    addresses: ['127.0.0.11', '127.0.0.12'],
    bootDelayMs: 150,
    faults: { missing: { images: ['ami-0000000000000gone'] } },
  });
  dir = await mkdtemp(join(tmpdir(), 'cloudboot-ec2-driver-'));
});

afterAll(async () => {
  await cloud?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  for (const key of Object.keys(cloud.faults))
    delete cloud.faults[key as keyof typeof cloud.faults];
  cloud.faults.missing = { images: ['ami-0000000000000gone'] };
});

const account = (extra: Record<string, string> = {}) => ({
  iaas: 'us-east-1',
  iaas_url: cloud.url,
  iaas_key: cloud.accessKeyId,
  iaas_secret: cloud.secretAccessKey,
  ...extra,
});
const driver = (extra: Record<string, string> = {}): Driver => createDriver(account(extra));
const spec = (
  options: Record<string, string> = {},
  extra: Partial<LaunchSpec> = {},
): LaunchSpec => ({
  service: 'web',
  image: 'ami-0123456789abcdef0',
  allocation: 't3.micro',
  securityGroups: [],
  options: { ...account(), ...options },
  ...extra,
});
let tokens = 0;
const context = (run = 'run-a') => {
  tokens += 1;
  const token = `token-${process.pid}-${tokens}`;
  return {
    token,
    tags: { 'cloudboot-run': run, 'cloudboot-service': 'web', 'cloudboot-token': token },
  };
};
const calls = (action: string) => cloud.callCounts()[action] ?? 0;
const rejection = async (promise: Promise<unknown>): Promise<DriverError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DriverError);
  return error as DriverError;
};

testDriver({
  name: EC2_DRIVER_NAME,
  create: () => driver(),
  spec: () => spec(),
  invalidSpec: () => spec({}, { image: 'ami-0000000000000gone' }),
  unknownId: 'i-0000000000000dead',
  states: {
    native: EC2_NATIVE_STATES,
    map: EC2_STATE_MAP,
    put: (id, state) => cloud.setState(id, state as Ec2NativeState),
  },
  runningWithinMs: 5_000,
  requests: () => cloud.requests(),
  extra: () => {
    it('sends one RunInstances with ClientToken, tags on instance and volume, and every launch key', async () => {
      const userData = join(dir, 'user-data.sh');
      writeFileSync(userData, '#!/bin/sh\necho hello\n');
      const ctx = context();
      const { instanceId } = await driver().launch(
        spec(
          {
            subnet: 'subnet-0abc',
            availability_zone: 'us-east-1b',
            iam_instance_profile: 'web-role',
            user_data: userData,
            root_volume_gb: '40',
            spot: 'true',
            ebs_optimized: 'true',
            tags: 'team=data',
          },
          { keyName: 'deploy', securityGroups: ['sg-0a1b', 'web'] },
        ),
        ctx,
      );
      const made = cloud.instances().find((i) => i.id === instanceId);
      const tags = {
        Name: 'run-a/web',
        team: 'data',
        'cloudboot-run': 'run-a',
        'cloudboot-service': 'web',
        'cloudboot-token': ctx.token,
      };
      expect(made).toMatchObject({
        token: ctx.token,
        tags,
        volumeTags: tags,
        keyName: 'deploy',
        securityGroupIds: ['sg-0a1b'],
        securityGroupNames: ['web'],
        subnetId: 'subnet-0abc',
        zone: 'us-east-1b',
        instanceType: 't3.micro',
      });
      expect(made?.request).toMatchObject({
        ClientToken: ctx.token,
        'IamInstanceProfile.Name': 'web-role',
        UserData: Buffer.from('#!/bin/sh\necho hello\n').toString('base64'),
        'BlockDeviceMapping.1.DeviceName': '/dev/xvda',
        'BlockDeviceMapping.1.Ebs.VolumeSize': '40',
        'InstanceMarketOptions.MarketType': 'spot',
        'InstanceMarketOptions.SpotOptions.SpotInstanceType': 'one-time',
        EbsOptimized: 'true',
      });
      expect(cloud.callCounts().CreateTags).toBeUndefined();
    });

    it('returns the instance of a launch whose answer was lost, creating no second one', async () => {
      const d = driver();
      const ctx = context();
      cloud.faults.loseAnswers = 1;
      const { instanceId } = await d.launch(spec(), ctx);
      expect(cloud.faultCounts().lost).toBeGreaterThan(0);
      // The answer and the lookup after it both lost: a transient error; the retry finds it.
      cloud.faults.loseAnswers = 1;
      cloud.faults.failNext = [{ action: 'DescribeInstances', code: 'InternalError', status: 500 }];
      const other = context();
      const error = await rejection(d.launch(spec(), other));
      expect(error.kind).toBe('transient');
      expect((await d.launch(spec(), other)).instanceId).not.toBe(instanceId);
      expect((await d.launch(spec(), ctx)).instanceId).toBe(instanceId);
      const byToken = (t: string) => cloud.instances().filter((i) => i.token === t);
      expect(byToken(ctx.token)).toHaveLength(1);
      expect(byToken(other.token)).toHaveLength(1);
    });

    it('describes more than 1000 ids in calls of 1000, unknown ones vanished, in order', async () => {
      const d = driver();
      const real: string[] = [];
      for (let i = 0; i < 3; i++) real.push((await d.launch(spec(), context())).instanceId);
      const unknown = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
      const ids = Array.from({ length: 2500 }, (_, n) => unknown(n + 1));
      // One real id in each batch of 1000.
      ids[10] = real[0] as string;
      ids[1500] = real[1] as string;
      ids[2499] = real[2] as string;
      ids[7] = 'not-an-ec2-id';
      const before = calls('DescribeInstances');
      const infos = await d.describe(ids);
      // Per batch: refused for its unknown ids (named in the answer), then asked without them.
      expect(calls('DescribeInstances') - before).toBe(6);
      expect(infos.map((i) => i.instanceId)).toEqual(ids);
      const known = infos.filter((i) => i.state !== 'vanished').map((i) => i.instanceId);
      expect(known).toEqual(real);
    });

    it('follows NextToken through every page', async () => {
      const d = driver();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await d.launch(spec(), context())).instanceId);
      cloud.faults.pageSize = 2;
      const before = calls('DescribeInstances');
      const infos = await d.describe(ids);
      expect(calls('DescribeInstances') - before).toBe(3);
      expect(infos.map((i) => i.state)).not.toContain('vanished');
      const run = `paged-${tokens}`;
      for (let i = 0; i < 3; i++) await d.launch(spec(), context(run));
      expect(await d.findByTags?.({ 'cloudboot-run': run })).toHaveLength(3);
    });

    it('terminates in batches, skipping ids EC2 no longer knows', async () => {
      const d = driver();
      const real = [(await d.launch(spec(), context())).instanceId];
      real.push((await d.launch(spec(), context())).instanceId);
      const ids = Array.from(
        { length: 1200 },
        (_, n) => `i-${(n + 7).toString(16).padStart(17, 'a')}`,
      );
      ids[3] = real[0] as string;
      ids[1100] = real[1] as string;
      const before = calls('TerminateInstances');
      await d.terminate(ids);
      expect(calls('TerminateInstances') - before).toBe(4);
      const states = cloud
        .instances()
        .filter((i) => real.includes(i.id))
        .map((i) => i.state);
      expect(states.every((s) => s === 'shutting-down' || s === 'terminated')).toBe(true);
    });

    it('finds instances by their cloudboot tags, of this run only', async () => {
      const d = driver();
      const mine = context('run-find');
      const { instanceId } = await d.launch(spec(), mine);
      await d.launch(spec(), context('run-other'));
      const found = await d.findByTags?.({
        'cloudboot-run': 'run-find',
        'cloudboot-token': mine.token,
      });
      expect(found?.map((i) => i.instanceId)).toEqual([instanceId]);
      expect(found?.[0]?.tags?.['cloudboot-service']).toBe('web');
    });

    it('reports the address ssh_address chooses, once running; slow boots stay pending', async () => {
      cloud.faults.slowBootMs = 600;
      const { instanceId } = await driver().launch(spec(), context());
      cloud.faults.slowBootMs = 0;
      await new Promise((r) => setTimeout(r, 300));
      expect((await driver().describe([instanceId]))[0]).toMatchObject({ state: 'pending' });
      expect((await driver().describe([instanceId]))[0]?.address).toBeUndefined();
      await new Promise((r) => setTimeout(r, 600));
      const [info] = await driver({ ssh_address: 'private' }).describe([instanceId]);
      expect(info).toMatchObject({ state: 'running', nativeState: 'running' });
      expect(info?.address).toBe(info?.privateAddress);
      expect(['127.0.0.11', '127.0.0.12']).toContain(info?.publicAddress);
    });

    it('sees a VM the cloud terminated or stopped by itself', async () => {
      const d = driver();
      const a = (await d.launch(spec(), context())).instanceId;
      const b = (await d.launch(spec(), context())).instanceId;
      cloud.kill(a);
      cloud.stop(b);
      await new Promise((r) => setTimeout(r, 100));
      expect((await d.describe([a, b])).map((i) => [i.state, i.nativeState])).toEqual([
        ['terminated', 'terminated'],
        ['stopped', 'stopped'],
      ]);
    });
  },
});

describe('EC2 errors by kind', () => {
  const launchFails = async (
    options: Record<string, string> = {},
    extra: Partial<LaunchSpec> = {},
  ) => rejection(driver().launch(spec(options, extra), context()));

  it.each([
    ['RequestLimitExceeded', 503, 'throttled'],
    ['Throttling', 400, 'throttled'],
    ['InsufficientHostCapacity', 500, 'capacity'],
    ['Unsupported', 400, 'capacity'],
    ['InstanceLimitExceeded', 400, 'quota'],
    ['VcpuLimitExceeded', 400, 'quota'],
    ['UnauthorizedOperation', 403, 'auth'],
    ['ExpiredToken', 400, 'auth'],
    ['InternalError', 500, 'transient'],
    ['ServiceUnavailable', 503, 'transient'],
    ['InvalidParameterValue', 400, 'invalid-request'],
  ])(
    '%s (HTTP %i) is %s, and the message names EC2, the driver and the code',
    async (code, status, kind) => {
      cloud.faults.failNext = [{ action: 'RunInstances', code, status, message: `said ${code}` }];
      const error = await launchFails();
      expect(error.kind).toBe(kind);
      expect(error.message).toMatch(
        new RegExp(`^ec2: EC2 RunInstances failed \\(EC2 error ${code}: said ${code}\\); \\w`),
      );
    },
  );

  it('throttles every Nth call with RequestLimitExceeded', async () => {
    cloud.faults.throttleEvery = 1;
    const error = await rejection(driver().describe(['i-0000000000000abc']));
    expect(error.kind).toBe('throttled');
    expect(error.message).toBe(
      'ec2: EC2 DescribeInstances failed (EC2 error RequestLimitExceeded: Request limit exceeded.); EC2 limits API calls per account and region; cloudboot retries with backoff, and a lower api_calls_per_second avoids it',
    );
  });

  it('capacity for an instance type or an availability zone', async () => {
    cloud.faults.capacity = { instanceTypes: ['p5.48xlarge'], zones: ['us-east-1f'] };
    const byType = await launchFails({}, { allocation: 'p5.48xlarge' });
    expect(byType.kind).toBe('capacity');
    expect(byType.message).toContain(
      'EC2 error InsufficientInstanceCapacity: We currently do not have sufficient p5.48xlarge capacity',
    );
    expect(byType.message).toContain('try another allocation or availability_zone');
    expect((await launchFails({ availability_zone: 'us-east-1f' })).kind).toBe('capacity');
  });

  it('not-found names what was asked for: image, key pair, security group, subnet', async () => {
    cloud.faults.missing = {
      images: ['ami-0000000000000gone'],
      keyPairs: ['nokey'],
      securityGroups: ['sg-0nope'],
      subnets: ['subnet-0nope'],
    };
    const image = await launchFails({}, { image: 'ami-0000000000000gone' });
    expect(image.kind).toBe('not-found');
    expect(image.message).toBe(
      `ec2: EC2 RunInstances: image "ami-0000000000000gone" does not exist in region us-east-1 or is not visible to this account; check the image key (an AMI id of that region, or resolve:ssm:PARAMETER) (EC2 error InvalidAMIID.NotFound: The image id '[ami-0000000000000gone]' does not exist)`,
    );
    const key = await launchFails({}, { keyName: 'nokey' });
    expect([key.kind, key.message]).toEqual([
      'not-found',
      expect.stringContaining(
        'key pair "nokey" does not exist in region us-east-1; check sshkeyname',
      ),
    ]);
    const group = await launchFails({}, { securityGroups: ['sg-0nope'] });
    expect(group.message).toContain('security group "sg-0nope" does not exist');
    const subnet = await launchFails({ subnet: 'subnet-0nope' });
    expect(subnet.message).toContain(
      'subnet "subnet-0nope" does not exist in region us-east-1; check subnet',
    );
    expect((await launchFails({}, { image: 'nonsense' })).kind).toBe('not-found');
  });

  it('auth: an access key EC2 does not know, for validate and launch', async () => {
    const stranger = createDriver(account({ iaas_key: 'AKIANOTKNOWN' }));
    const error = await rejection(stranger.validate());
    expect(error.kind).toBe('auth');
    expect(error.message).toContain('EC2 DescribeRegions failed (EC2 error AuthFailure:');
    expect(error.message).toContain(
      'check the credentials (iaas_key/iaas_secret/aws_session_token',
    );
    expect((await rejection(stranger.launch(spec(), context()))).kind).toBe('auth');
  });

  it('transient: an endpoint that does not answer', async () => {
    const gone = await startEc2Cloud();
    const url = gone.url;
    await gone.close();
    const error = await rejection(createDriver(account({ iaas_url: url })).validate());
    expect(error.kind).toBe('transient');
    expect(error.message).toContain('EC2 error ECONNREFUSED');
  });

  it('invalid-request: launch keys that are wrong, all at once, before any call', async () => {
    const before = calls('RunInstances');
    const error = await launchFails({ root_volume_gb: 'big', spot: 'often', aws_regoin: 'x' });
    expect(error.kind).toBe('invalid-request');
    expect(error.message).toBe(
      [
        "ec2: service web: the ec2 driver's plan keys have 3 problems:",
        'aws_regoin is not a key of the ec2 driver; expected one of aws_profile, aws_session_token',
        'root_volume_gb is "big"; expected a whole number of GiB from 1 to 65536',
        'spot is "often"; expected true or false',
      ].join('\n  '),
    );
    expect(calls('RunInstances')).toBe(before);
  });
});

describe('EC2 credentials from the AWS default chain', () => {
  it('uses the profile aws_profile names in the shared credentials file', async () => {
    const credentials = join(dir, 'credentials');
    writeFileSync(
      credentials,
      `[dev]\naws_access_key_id = ${cloud.accessKeyId}\naws_secret_access_key = s\n[other]\naws_access_key_id = AKIAOTHERACCOUNT\naws_secret_access_key = s\n`,
      { mode: 0o600 },
    );
    const saved = { ...process.env };
    process.env.AWS_SHARED_CREDENTIALS_FILE = credentials;
    process.env.AWS_CONFIG_FILE = join(dir, 'no-config');
    try {
      const viaProfile = (profile: string) =>
        createDriver({ iaas: 'us-east-1', iaas_url: cloud.url, aws_profile: profile });
      await expect(viaProfile('dev').validate()).resolves.toBeUndefined();
      expect((await rejection(viaProfile('other').validate())).kind).toBe('auth');
    } finally {
      process.env = saved;
    }
  });

  it('says to set iaas when neither the plan, the environment nor a profile names a region', async () => {
    const saved = { ...process.env };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    process.env.AWS_CONFIG_FILE = join(dir, 'no-config');
    try {
      const error = await rejection(
        createDriver({
          iaas_url: cloud.url,
          iaas_key: cloud.accessKeyId,
          iaas_secret: 's',
        }).validate(),
      );
      expect(error.kind).toBe('invalid-request');
      expect(error.message).toContain(
        'no region: set iaas to an EC2 region (or AWS_REGION, or a region in the AWS profile)',
      );
    } finally {
      process.env = saved;
    }
  });
});
