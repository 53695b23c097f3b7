import { DriverError, ManagedDriver } from '@cloudboot/core';
import { testDriver } from '@cloudboot/core/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FakeOpenstackCloud,
  type OpenstackCloudOptions,
  startOpenstackCloud,
} from '../../../test/fakes/openstack-cloud.js';
import { createDriver, serverName } from './openstack-driver.js';
import { OPENSTACK_NATIVE_STATES, OPENSTACK_STATE_MAP } from './openstack-states.js';

let cloud: FakeOpenstackCloud;
const extraClouds: FakeOpenstackCloud[] = [];

beforeAll(async () => {
  cloud = await startOpenstackCloud({ addresses: ['127.0.0.1'], bootDelayMs: 30 });
});
afterAll(async () => {
  await cloud?.close();
  await Promise.all(extraClouds.map((c) => c.close()));
});

async function another(options: OpenstackCloudOptions): Promise<FakeOpenstackCloud> {
  const c = await startOpenstackCloud(options);
  extraClouds.push(c);
  return c;
}

/** Plan keys for the fake's default user (no OS_* environment, no clouds.yaml). */
function keys(on: FakeOpenstackCloud = cloud, extra: Record<string, string> = {}) {
  return {
    iaas_url: on.url,
    iaas_key: on.user.name,
    iaas_secret: on.user.password,
    os_project_name: on.user.project,
    ...extra,
  };
}

const noEnv = { env: {}, cwd: '/nonexistent', home: '/nonexistent', systemDir: '/nonexistent' };
const driverOn = (on: FakeOpenstackCloud = cloud, extra: Record<string, string> = {}) =>
  createDriver(keys(on, extra), noEnv);

const spec = (extra: Partial<{ image: string; allocation: string; keyName: string }> = {}) => ({
  service: 'web',
  image: 'cirros',
  allocation: 'm1.tiny',
  securityGroups: [],
  options: {},
  ...extra,
});

let launches = 0;
function launchContext(run = 'unit') {
  launches += 1;
  const token = `${launches.toString(16).padStart(8, '0')}-1111-4222-8333-${Date.now().toString(16).padStart(12, '0').slice(-12)}`;
  return {
    token,
    tags: { 'cloudboot-run': run, 'cloudboot-service': 'web', 'cloudboot-token': token },
  };
}

async function untilRunning(driver: ReturnType<typeof driverOn>, id: string) {
  for (let i = 0; i < 100; i++) {
    const [info] = await driver.describe([id]);
    if (info?.state === 'running' && info.address !== undefined) return info;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${id} did not run`);
}

testDriver({
  name: 'openstack',
  create: () => driverOn(),
  spec: () => spec(),
  invalidSpec: () => spec({ image: 'no-such-image' }),
  unknownId: '00000000-0000-4000-8000-000000000000',
  states: {
    native: OPENSTACK_NATIVE_STATES,
    map: OPENSTACK_STATE_MAP,
    put: (id, status) => cloud.setStatus(id, status),
  },
  runningWithinMs: 5000,
  requests: () => cloud.requests(),
  extra: () => {
    describe('launching', () => {
      it('names the server cb-<run>-<service>-<token prefix> and sets the metadata', async () => {
        const driver = driverOn(cloud, { tags: 'team=data' });
        const context = launchContext('names');
        const { instanceId } = await driver.launch(spec(), context);
        const made = cloud.instances().find((i) => i.id === instanceId);
        expect(made?.name).toBe(serverName('names', 'web', context.token));
        expect(made?.name).toBe(`cb-names-web-${context.token.slice(0, 8)}`);
        expect(made?.metadata).toEqual({ team: 'data', ...context.tags });
        const info = await untilRunning(driver, instanceId);
        expect(info).toMatchObject({
          state: 'running',
          nativeState: 'ACTIVE',
          address: '127.0.0.1',
          privateAddress: '127.0.0.1',
          tags: { team: 'data', ...context.tags },
        });
        await driver.terminate([instanceId]);
      });

      it('gives the zone Nova placed a server in as its availability_zone attribute', async () => {
        const placed = driverOn();
        const { instanceId } = await placed.launch(spec(), launchContext());
        expect(await untilRunning(placed, instanceId)).toMatchObject({
          attributes: { availability_zone: 'nova' },
        });
        const asked = driverOn(cloud, { os_availability_zone: 'az-2' });
        const other = await asked.launch(spec(), launchContext());
        expect((await untilRunning(asked, other.instanceId)).attributes).toEqual({
          availability_zone: 'az-2',
        });
        await placed.terminate([instanceId, other.instanceId]);
      });

      it('looks for the server by name first unless this is the token’s first call', async () => {
        const driver = driverOn();
        const lookups = () => cloud.callCounts()['nova GET /servers/detail (one name)'] ?? 0;
        const fresh = launchContext('first');
        const before = lookups();
        const made = await driver.launch(spec(), { ...fresh, firstCall: true });
        // A token on its first call cannot have a server yet: just the create.
        expect(lookups()).toBe(before);
        // The same token again (a resumed launch): found by name, not made twice.
        const again = await driver.launch(spec(), { ...fresh, firstCall: false });
        expect(again.instanceId).toBe(made.instanceId);
        expect(lookups()).toBe(before + 1);
        expect(cloud.instances().filter((i) => i.token === fresh.token)).toHaveLength(1);
        await driver.terminate([made.instanceId]);
      });

      it('finds the server of a lost answer at once: one create, one server, its id', async () => {
        const driver = driverOn();
        const context = launchContext('lost-once');
        cloud.faults.loseAnswers = 1;
        const { instanceId } = await driver.launch(spec(), context);
        expect(cloud.faults.loseAnswers).toBe(0);
        expect(
          cloud
            .instances()
            .filter((i) => i.token === context.token)
            .map((i) => i.id),
        ).toEqual([instanceId]);
        await driver.terminate([instanceId]);
      });

      it('adopts the server of a lost answer on retry: one server per token', async () => {
        const driver = driverOn();
        const context = launchContext('lost');
        cloud.faults.loseAnswers = 1;
        cloud.faults.failAfterLostAnswer = 1;
        const first = driver.launch(spec(), context);
        await expect(first).rejects.toMatchObject({ kind: 'transient' });
        await expect(first).rejects.toThrow(
          /^openstack: Nova: create server cb-lost-web-\w+: no answer from http:\/\/127\.0\.0\.1:\d+/,
        );
        cloud.faults.failAfterLostAnswer = 0;
        const created = cloud.instances().filter((i) => i.token === context.token);
        expect(created).toHaveLength(1);
        const creates = cloud.callCounts()['nova POST /servers'];
        const { instanceId } = await driver.launch(spec(), context);
        expect(instanceId).toBe(created[0]?.id);
        expect(cloud.callCounts()['nova POST /servers']).toBe(creates);
        expect(cloud.instances().filter((i) => i.token === context.token)).toHaveLength(1);
        await driver.terminate([instanceId]);
      });

      it('through core’s retries, a lost answer still gives one server and its id', async () => {
        const managed = new ManagedDriver(driverOn(), {
          retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
        });
        const context = launchContext('lost-managed');
        cloud.faults.loseAnswers = 1;
        cloud.faults.failAfterLostAnswer = 2;
        const { instanceId } = await managed.launch(spec(), context);
        cloud.faults.failAfterLostAnswer = 0;
        expect(cloud.faults.loseAnswers).toBe(0);
        expect(
          cloud
            .instances()
            .filter((i) => i.token === context.token)
            .map((i) => i.id),
        ).toEqual([instanceId]);
        await managed.terminate([instanceId]);
      });

      it.each([
        [{ image: 'no-such-image' }, 'Glance: image "no-such-image" does not exist'],
        [{ allocation: 'm9.huge' }, 'Nova: flavor "m9.huge" does not exist'],
        [{ keyName: 'nobody' }, 'Nova: key pair "nobody" does not exist'],
      ])('refuses a missing resource by name: %o', async (wrong, message) => {
        const before = cloud.instances().length;
        const refused = driverOn().launch(spec(wrong), launchContext());
        await expect(refused).rejects.toMatchObject({ kind: 'not-found' });
        await expect(refused).rejects.toThrow(`openstack: ${message}`);
        expect(cloud.instances()).toHaveLength(before);
      });

      it('refuses a missing network (os_network) and a missing security group', async () => {
        const network = driverOn(cloud, { os_network: 'nowhere' }).launch(spec(), launchContext());
        await expect(network).rejects.toMatchObject({ kind: 'not-found' });
        await expect(network).rejects.toThrow(
          'openstack: Neutron: network "nowhere" does not exist (by name or id: the os_network key)',
        );
        const group = driverOn().launch({ ...spec(), securityGroups: ['bogus'] }, launchContext());
        await expect(group).rejects.toMatchObject({ kind: 'not-found' });
        await expect(group).rejects.toThrow(
          /^openstack: Nova: create server cb-unit-web-\w+ failed: badRequest \(HTTP 400\): Security group bogus not found for project \w+\.; check the name/,
        );
      });

      it('takes image, flavor and network by id as well as by name', async () => {
        const { images, flavors, networks } = cloud.resources();
        const image = images.find((i) => i.name === 'ubuntu-24.04');
        const flavor = flavors.find((f) => f.name === 'm1.small');
        const network = networks.find((n) => n.name === 'private');
        const byId = driverOn(cloud, { os_network: network?.id ?? '' });
        const a = await byId.launch(
          spec({ image: image?.id ?? '', allocation: flavor?.id ?? '' }),
          launchContext(),
        );
        const byName = driverOn(cloud, { os_network: 'private' });
        const b = await byName.launch(
          spec({ image: 'ubuntu-24.04', allocation: 'm1.small' }),
          launchContext(),
        );
        const made = cloud
          .instances()
          .filter((i) => i.id === a.instanceId || i.id === b.instanceId);
        expect(made.map((m) => [m.imageId, m.flavorId, m.networkId])).toEqual([
          [image?.id, flavor?.id, network?.id],
          [image?.id, flavor?.id, network?.id],
        ]);
        await byId.terminate([a.instanceId, b.instanceId]);
      });

      it('looks up image, flavor, network and key pair once per driver', async () => {
        const c = await another({ bootDelayMs: 10 });
        const driver = driverOn(c, { os_network: 'private' });
        const ids = await Promise.all(
          Array.from({ length: 5 }, () =>
            driver.launch(spec({ keyName: 'cloudboot' }), launchContext()),
          ),
        );
        await driver.launch(spec({ keyName: 'cloudboot' }), launchContext());
        const calls = c.callCounts();
        expect(calls['glance GET /v2/images']).toBe(1);
        expect(calls['nova GET /flavors/detail']).toBe(1);
        expect(calls['neutron GET /v2.0/networks']).toBe(1);
        expect(calls['nova GET /os-keypairs/{name}']).toBe(1);
        expect(calls['nova POST /servers']).toBe(6);
        await driver.terminate(ids.map((i) => i.instanceId));
      });
    });

    describe('errors', () => {
      it.each([429, 413] as const)('answers %i throttling as throttled', async (status) => {
        const c = await another({});
        const driver = driverOn(c);
        c.faults.throttleStatus = status;
        c.faults.throttleEvery = 1;
        const refused = driver.describe(['00000000-0000-4000-8000-000000000001']);
        // The fake answers like Nova's over-limit fault: `Retry-After: 1`.
        await expect(refused).rejects.toMatchObject({ kind: 'throttled', retryAfterMs: 1000 });
        await expect(refused).rejects.toThrow(
          `openstack: Nova: list servers failed: overLimit (HTTP ${status}): This request was rate-limited.; the cloud limits the API call rate`,
        );
      });

      it('recovers from throttling and server errors through core’s retries', async () => {
        const c = await another({});
        const managed = new ManagedDriver(driverOn(c), {
          retry: { attempts: 6, baseDelayMs: 1, maxDelayMs: 5 },
        });
        c.faults.throttleEvery = 3;
        c.faults.serverErrors = 1;
        const { instanceId } = await managed.launch(spec(), launchContext());
        expect(c.instances()).toHaveLength(1);
        expect((await managed.describe([instanceId]))[0]?.instanceId).toBe(instanceId);
      });

      it('refuses an image removed after it was looked up, naming it, as not-found', async () => {
        const c = await another({ bootDelayMs: 0 });
        const driver = driverOn(c);
        await driver.launch(spec(), launchContext());
        c.faults.missingImages = ['cirros'];
        const refused = driver.launch(spec(), launchContext());
        await expect(refused).rejects.toMatchObject({ kind: 'not-found' });
        await expect(refused).rejects.toThrow(
          /^openstack: Nova: create server cb-unit-web-\w+ failed: badRequest \(HTTP 400\): Image [\w-]+ could not be found\.; check the name or id/,
        );
        const fresh = driverOn(c).launch(spec(), launchContext());
        await expect(fresh).rejects.toThrow('openstack: Glance: image "cirros" does not exist');
      });

      it('reports a zone without hosts like a flavor without hosts', async () => {
        const c = await another({ bootDelayMs: 0 });
        c.faults.noValidHostZones = ['az-full'];
        const driver = driverOn(c, { os_availability_zone: 'az-full' });
        const { instanceId } = await driver.launch(spec(), launchContext());
        await new Promise((r) => setTimeout(r, 30));
        expect((await driver.describe([instanceId]))[0]).toMatchObject({
          state: 'stopped',
          nativeState: 'ERROR: No valid host was found. There are not enough hosts available.',
        });
      });

      it('answers a used-up quota as quota', async () => {
        const c = await another({});
        c.faults.instanceQuota = 0;
        const refused = driverOn(c).launch(spec(), launchContext());
        await expect(refused).rejects.toMatchObject({ kind: 'quota' });
        await expect(refused).rejects.toThrow(
          "failed: forbidden (HTTP 403): Quota exceeded for instances: Requested 1, but already used 0 of 0 instances; the project's quota is used up",
        );
      });

      it('reports a server that found no valid host as stopped, with the fault message', async () => {
        const c = await another({ bootDelayMs: 10 });
        c.faults.noValidHostFlavors = ['m1.small'];
        const driver = driverOn(c);
        const { instanceId } = await driver.launch(
          spec({ allocation: 'm1.small' }),
          launchContext(),
        );
        await new Promise((r) => setTimeout(r, 40));
        expect(await driver.describe([instanceId])).toEqual([
          {
            instanceId,
            state: 'stopped',
            nativeState: 'ERROR: No valid host was found. There are not enough hosts available.',
            tags: expect.any(Object),
          },
        ]);
        const managed = new ManagedDriver(driver);
        await expect(managed.waitUntilRunning(instanceId, 5000)).rejects.toThrow(
          `instance ${instanceId} is stopped (ERROR: No valid host was found. There are not enough hosts available.) instead of running`,
        );
        await driver.terminate([instanceId]);
      });
    });

    describe('status', () => {
      it('describes many servers with one list call per round', async () => {
        const c = await another({ bootDelayMs: 10 });
        const driver = driverOn(c);
        const ids: string[] = [];
        for (let i = 0; i < 12; i++)
          ids.push((await driver.launch(spec(), launchContext())).instanceId);
        const before = c.callCounts();
        const infos = await driver.describe(ids);
        const after = c.callCounts();
        expect(infos.map((i) => i.instanceId)).toEqual(ids);
        expect(after['nova GET /servers/detail']).toBe(
          (before['nova GET /servers/detail'] ?? 0) + 1,
        );
        expect(after['nova GET /servers/{id}']).toBeUndefined();
        await driver.terminate(ids);
      });

      it('reads every page when the cloud caps the page size (max_limit)', async () => {
        const c = await another({ bootDelayMs: 0, maxLimit: 2 });
        const driver = driverOn(c);
        const ids: string[] = [];
        for (let i = 0; i < 5; i++)
          ids.push((await driver.launch(spec(), launchContext())).instanceId);
        const before = c.callCounts()['nova GET /servers/detail'] ?? 0;
        const infos = await driver.describe(ids);
        expect(infos.map((i) => [i.instanceId, i.state])).toEqual(ids.map((id) => [id, 'running']));
        expect(c.callCounts()['nova GET /servers/detail']).toBe(before + 3);
      });

      it('sees a server deleted outside cloudboot as vanished, and one being deleted as stopping', async () => {
        const c = await another({ bootDelayMs: 0, terminatedVisibleMs: 60_000 });
        const driver = driverOn(c);
        const killed = (await driver.launch(spec(), launchContext())).instanceId;
        const deleted = (await driver.launch(spec(), launchContext())).instanceId;
        c.kill(killed);
        await driver.terminate([deleted]);
        expect(
          (await driver.describe([killed, deleted])).map((i) => [i.state, i.nativeState]),
        ).toEqual([
          ['vanished', 'not found'],
          ['stopping', 'ACTIVE/deleting'],
        ]);
      });

      it('finds servers by their cloudboot metadata', async () => {
        const driver = driverOn();
        const context = launchContext('by.tags');
        const { instanceId } = await driver.launch(spec(), context);
        await driver.launch(spec(), launchContext('other'));
        const found = await driver.findByTags?.({
          'cloudboot-run': 'by.tags',
          'cloudboot-token': context.token,
        });
        expect(found?.map((f) => f.instanceId)).toEqual([instanceId]);
        expect(await driver.findByTags?.({ 'cloudboot-run': 'by' })).toEqual([]);
      });

      it('uses the endpoints of the region (iaas) and interface (os_interface) asked for', async () => {
        const c = await another({ regions: ['RegionOne', 'RegionTwo'], bootDelayMs: 0 });
        const driver = driverOn(c, { iaas: 'RegionTwo', os_interface: 'internal' });
        const { instanceId } = await driver.launch(spec(), launchContext());
        expect(c.instances().find((i) => i.id === instanceId)?.region).toBe('RegionTwo');
        expect((await driverOn(c, { iaas: 'RegionOne' }).describe([instanceId]))[0]?.state).toBe(
          'vanished',
        );
        expect(c.callCounts()['internal endpoint']).toBeGreaterThan(0);
        const nowhere = driverOn(c, { iaas: 'RegionThree' }).validate();
        await expect(nowhere).rejects.toBeInstanceOf(DriverError);
        await expect(nowhere).rejects.toThrow(
          'openstack: Nova: the catalog has no public compute endpoint in region RegionThree (it has RegionOne/public, RegionOne/internal, RegionOne/admin, RegionTwo/public, RegionTwo/internal, RegionTwo/admin)',
        );
      });
    });

    describe('addresses', () => {
      it('uses the fixed address with ssh_address private', async () => {
        const c = await another({
          addresses: ['127.0.0.5'],
          floatingAddresses: ['127.0.0.6'],
          bootDelayMs: 0,
        });
        const driver = driverOn(c, { ssh_address: 'private', os_floating_ip_pool: 'public' });
        const { instanceId } = await driver.launch(spec(), launchContext());
        expect(await untilRunning(driver, instanceId)).toMatchObject({ address: '127.0.0.5' });
        expect(c.floatingIps()).toEqual([]);
      });

      it('attaches a floating IP from os_floating_ip_pool once, and releases it on terminate', async () => {
        const c = await another({
          addresses: ['127.0.0.5'],
          floatingAddresses: ['127.0.0.6'],
          bootDelayMs: 0,
        });
        const driver = driverOn(c, { os_floating_ip_pool: 'public' });
        const { instanceId } = await driver.launch(spec(), launchContext());
        const info = await untilRunning(driver, instanceId);
        expect(info).toMatchObject({
          address: '127.0.0.6',
          publicAddress: '127.0.0.6',
          privateAddress: '127.0.0.5',
        });
        await driver.describe([instanceId]);
        await createDriver(keys(c, { os_floating_ip_pool: 'public' }), noEnv).describe([
          instanceId,
        ]);
        expect(c.floatingIps()).toEqual([
          {
            address: '127.0.0.6',
            serverId: instanceId,
            description: `cloudboot-server:${instanceId}`,
          },
        ]);
        expect(c.callCounts()['neutron POST /v2.0/floatingips']).toBe(1);
        await driver.terminate([instanceId]);
        await driver.terminate([instanceId]);
        expect(c.floatingIps()).toEqual([]);
      });

      it('refuses a floating IP pool that does not exist, naming it', async () => {
        const c = await another({ bootDelayMs: 0 });
        const driver = driverOn(c, { os_floating_ip_pool: 'outside' });
        const { instanceId } = await driver.launch(spec(), launchContext());
        await new Promise((r) => setTimeout(r, 10));
        await expect(driver.describe([instanceId])).rejects.toThrow(
          'openstack: Neutron: network "outside" does not exist (by name or id: the os_floating_ip_pool key)',
        );
      });
    });
  },
});
