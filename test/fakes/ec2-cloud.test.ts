/**
 * The fake EC2 itself, on the wire: what it refuses, how long terminated
 * instances stay listed, and the separate-process entry point.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createDriver } from '@cloudboot/driver-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEc2Cloud, type FakeEc2State, STATE_PATH, startEc2Cloud } from './ec2-cloud.js';

let cloud: FakeEc2Cloud;
beforeAll(async () => {
  cloud = await startEc2Cloud({ bootDelayMs: 0, shuttingDownMs: 0, terminatedVisibleMs: 300 });
});
afterAll(() => cloud?.close());

const driverOf = (url: string, key: string) =>
  createDriver({ iaas: 'us-east-1', iaas_url: url, iaas_key: key, iaas_secret: 'x' });
const launch = (token: string) =>
  driverOf(cloud.url, cloud.accessKeyId).launch(
    { service: 's', image: 'ami-0123', securityGroups: [], options: {} },
    { token, tags: { 'cloudboot-run': 'r', 'cloudboot-service': 's', 'cloudboot-token': token } },
  );

describe('the fake EC2', () => {
  it('refuses an unsigned request with an EC2 error document', async () => {
    const response = await fetch(cloud.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeRegions&Version=2016-11-15',
    });
    expect(response.status).toBe(401);
    expect(await response.text()).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Response><Errors><Error><Code>AuthFailure<\/Code><Message>AWS was not able to validate the provided access credentials<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/,
    );
  });

  it('lists terminated instances for a while, then no longer knows them', async () => {
    const { instanceId } = await launch('visible-1');
    const driver = driverOf(cloud.url, cloud.accessKeyId);
    await driver.terminate([instanceId]);
    expect((await driver.describe([instanceId]))[0]?.state).toBe('terminated');
    await new Promise((r) => setTimeout(r, 400));
    expect((await driver.describe([instanceId]))[0]?.state).toBe('vanished');
    expect(cloud.instances().find((i) => i.id === instanceId)).toMatchObject({
      state: 'terminated',
      purged: true,
    });
  });

  it('runs as a process of its own, printing its URL, inspectable, stopped by SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'test/fakes/serve-ec2.ts', '--boot-delay-ms', '0'],
      { cwd: new URL('../..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const line = (await lines.next()).value as string;
      const served = JSON.parse(line) as { url: string; accessKeyId: string };
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const driver = driverOf(served.url, served.accessKeyId);
      const { instanceId } = await driver.launch(
        { service: 's', image: 'ami-0123', securityGroups: [], options: {} },
        { token: 'served-1', tags: {} },
      );
      const state = (await (await fetch(`${served.url}${STATE_PATH}`)).json()) as FakeEc2State;
      expect(state.instances).toEqual([{ id: instanceId, token: 'served-1', state: 'running' }]);
      expect(state.calls).toEqual({ RunInstances: 1 });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
