import { DriverError, type DriverSettings, ManagedDriver } from '@cloudboot/core';
import { testDriver } from '@cloudboot/core/conformance';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGceCloud, startGceCloud } from '../../../test/fakes/gce-cloud.js';
import { createDriver, GCE_DRIVER_NAME } from './gce-driver.js';
import { requestIdFor } from './gce-names.js';
import { parseGceSettings } from './gce-settings.js';
import { GCE_STATE_MAP, GCE_STATUSES } from './gce-states.js';

const PROJECT = 'fake-project';
const ZONE = 'us-central1-a';
const IMAGE = 'projects/debian-cloud/global/images/family/debian-12';
let fake: FakeGceCloud;

beforeAll(async () => {
  fake = await startGceCloud({ addresses: ['127.0.0.2', '127.0.0.3'], bootDelayMs: 30 });
});
afterAll(async () => {
  await fake.close();
});

function settings(extra: DriverSettings = {}): DriverSettings {
  return {
    iaas: ZONE,
    iaas_url: fake.url,
    gce_project: PROJECT,
    gce_access_token: 'test-token',
    ...extra,
  };
}

const spec = (service = 'web', options: Record<string, string> = {}) => ({
  service,
  image: IMAGE,
  allocation: 'e2-small',
  securityGroups: [],
  options,
});

let launches = 0;
function context(run = 'unit', service = 'web') {
  launches += 1;
  const token = `${['aaaaaaaa', 'bbbbbbbb', 'cccccccc'][launches % 3]}-0000-4000-8000-${String(launches).padStart(12, '0')}`;
  return {
    token,
    tags: { 'cloudboot-run': run, 'cloudboot-service': service, 'cloudboot-token': token },
  };
}

testDriver({
  name: GCE_DRIVER_NAME,
  create: () => createDriver(settings()),
  spec: () => spec(),
  invalidSpec: () => ({ ...spec(), image: 'projects/debian-cloud/global/images/no-such-image' }),
  unknownId: `projects/${PROJECT}/zones/${ZONE}/instances/cb-nobody-nothing-00000000`,
  states: {
    native: GCE_STATUSES,
    map: GCE_STATE_MAP,
    // The driver's instance id is the instance's path: .../instances/NAME.
    put: (id, status) => fake.setStatus(id.split('/').at(-1) ?? id, status),
  },
  requests: () => fake.requests(),
  extra: () => {
    beforeEach(() => {
      fake.faults.throttleEvery = 0;
      fake.faults.loseAnswers = 0;
      fake.faults.capacity = { machineTypes: [], zones: [] };
      fake.faults.quotaExceeded = false;
      fake.faults.unauthorized = false;
    });

    it('launches with labels, ssh address, deterministic name and requestId', async () => {
      const driver = createDriver(settings({ tags: 'Team=Data.Eng,cost=42' }));
      const ctx = context('Demo.Run', 'web');
      const { instanceId } = await driver.launch(spec('web'), ctx);
      const name = `cb-demo-run-web-${ctx.token.slice(0, 8)}`;
      expect(instanceId).toBe(`projects/${PROJECT}/zones/${ZONE}/instances/${name}`);
      const made = fake.instances().find((i) => i.name === name);
      expect(made?.labels).toEqual({
        team: 'data-eng',
        cost: '42',
        'cloudboot-run': 'demo-run',
        'cloudboot-service': 'web',
        'cloudboot-token': ctx.token,
      });
      expect(made?.requestId).toBe(requestIdFor(ctx.token));
      expect(made?.sourceImage).toBe(
        'projects/debian-cloud/global/images/debian-12-bookworm-v20250101',
      );
      const [info] = await driver.describe([instanceId]);
      expect(info).toMatchObject({
        instanceId,
        publicAddress: made?.natIP,
        privateAddress: made?.networkIP,
        attributes: { zone: made?.zone },
      });
      await driver.terminate([instanceId]);
    });

    it('asks for spot, disk size, service account, scopes, network tags; private SSH has no external IP', async () => {
      const driver = createDriver(
        settings({
          gce_spot: 'true',
          disk_size_gb: '50',
          gce_service_account: 'vm@fake-project.iam.gserviceaccount.com',
          gce_scopes: 'devstorage.read_only, https://www.googleapis.com/auth/logging.write',
          ssh_address: 'private',
        }),
      );
      const ctx = context('opts', 'opt');
      const { instanceId } = await driver.launch(
        { ...spec('opt'), securityGroups: ['Web', 'ssh'] },
        ctx,
      );
      const made = fake.instances().find((i) => i.token === ctx.token);
      expect(made?.resource).toMatchObject({
        scheduling: { provisioningModel: 'SPOT' },
        tags: { items: ['web', 'ssh'] },
        serviceAccounts: [
          {
            email: 'vm@fake-project.iam.gserviceaccount.com',
            scopes: [
              'https://www.googleapis.com/auth/devstorage.read_only',
              'https://www.googleapis.com/auth/logging.write',
            ],
          },
        ],
        disks: [{ boot: true, autoDelete: true, initializeParams: { diskSizeGb: '50' } }],
        networkInterfaces: [expect.not.objectContaining({ accessConfigs: expect.anything() })],
      });
      expect(made?.natIP).toBeUndefined();
      const [info] = await driver.describe([instanceId]);
      expect(info?.address).toBe(made?.networkIP);
      expect(info?.publicAddress).toBeUndefined();
      await driver.terminate([instanceId]);
    });

    it('describes many instances with one list call per zone and round', async () => {
      const driver = createDriver(settings());
      const ids = [];
      for (let i = 0; i < 12; i++) {
        ids.push((await driver.launch(spec(`svc-${i}`), context('batch', `svc-${i}`))).instanceId);
      }
      fake.resetCounts();
      const infos = await driver.describe(ids);
      expect(infos.map((i) => i.instanceId)).toEqual(ids);
      expect(fake.callCounts()).toEqual({ 'instances.list': 1 });
      // Another round: one more call, whatever the number of instances.
      await driver.describe(ids);
      expect(fake.callCounts()).toEqual({ 'instances.list': 2 });
      await driver.terminate(ids);
    });

    it('describes across zones with one list per zone, and reads every page', async () => {
      const paged = await startGceCloud({ maxPageSize: 2 });
      try {
        const inZone = (zone: string) =>
          createDriver({ ...settings(), iaas_url: paged.url, iaas: zone });
        const ids: string[] = [];
        for (const [i, zone] of ['us-central1-a', 'us-central1-b', 'us-central1-a'].entries()) {
          ids.push(
            (await inZone(zone).launch(spec(`z-${i}`), context('zones', `z-${i}`))).instanceId,
          );
        }
        for (let i = 0; i < 4; i++) {
          ids.push(
            (await inZone(ZONE).launch(spec(`p-${i}`), context('zones', `p-${i}`))).instanceId,
          );
        }
        paged.resetCounts();
        const infos = await inZone(ZONE).describe(ids);
        expect(infos.map((i) => i.state)).not.toContain('vanished');
        // us-central1-a: 6 instances in 3 pages; us-central1-b: 1 page.
        expect(paged.callCounts()).toEqual({ 'instances.list': 4 });
      } finally {
        await paged.close();
      }
    });

    it('looks up image, machine type and network once for many launches', async () => {
      const driver = createDriver(settings({ gce_network: 'default', gce_subnetwork: 'default' }));
      fake.resetCounts();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          driver.launch(spec(`m-${i}`), context('many', `m-${i}`)),
        ),
      );
      const counts = fake.callCounts();
      expect(counts).toMatchObject({
        'images.getFromFamily': 1,
        'machineTypes.get': 1,
        'networks.get': 1,
        'subnetworks.get': 1,
        'instances.insert': 20,
      });
      // The name is deterministic and the insert idempotent: no lookup by name first.
      expect(counts['instances.get']).toBeUndefined();
      await driver.terminate(
        fake
          .instances()
          .filter((i) => i.labels['cloudboot-run'] === 'many')
          .map((i) => `projects/${PROJECT}/zones/${ZONE}/instances/${i.name}`),
      );
    });

    it('adopts the instance when the answer to insert was lost (no duplicate)', async () => {
      const driver = new ManagedDriver(createDriver(settings()), {
        retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
      });
      fake.faults.loseAnswers = 1;
      const ctx = context('lost', 'db');
      const { instanceId } = await driver.launch(spec('db'), ctx);
      const made = fake.instances().filter((i) => i.token === ctx.token);
      expect(made).toHaveLength(1);
      expect(instanceId).toContain(made[0]?.name);
      expect(fake.callCounts().lostAnswers).toBeGreaterThanOrEqual(1);
      await driver.terminate([instanceId]);
    });

    it('the same requestId gives the same operation and no second instance', async () => {
      const driver = createDriver(settings());
      const ctx = context('reqid', 'db');
      const { instanceId } = await driver.launch(spec('db'), ctx);
      const name = instanceId.split('/').pop() ?? '';
      fake.kill(name);
      await new Promise((r) => setTimeout(r, 150));
      // The name is free again, but the requestId was seen: GCE answers the old operation.
      await driver.launch(spec('db'), ctx);
      expect(fake.instances().filter((i) => i.token === ctx.token)).toHaveLength(1);
    });

    it('adopts its own instance when the name is taken after the requestId was forgotten', async () => {
      const driver = createDriver(settings());
      const ctx = context('forgot', 'db');
      const first = await driver.launch(spec('db'), ctx);
      fake.forgetRequestIds();
      fake.resetCounts();
      const again = await driver.launch(spec('db'), ctx);
      expect(again.instanceId).toBe(first.instanceId);
      expect(fake.instances().filter((i) => i.token === ctx.token)).toHaveLength(1);
      // Refused as existing (409), then looked up by name and its token label checked.
      expect(fake.callCounts()).toMatchObject({ 'instances.insert': 1, 'instances.get': 1 });
      await driver.terminate([first.instanceId]);
    });

    it('refuses an instance of the same name that another launch made', async () => {
      const driver = createDriver(settings());
      const ctx = context('taken', 'db');
      const { instanceId } = await driver.launch(spec('db'), ctx);
      fake.forgetRequestIds();
      const name = instanceId.split('/').pop() ?? '';
      // Another launch token with the same first eight digits names the same instance.
      const token = `${ctx.token.slice(0, -4)}ffff`;
      const other = { token, tags: { ...ctx.tags, 'cloudboot-token': token } };
      const error = await driver.launch(spec('db'), other).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DriverError);
      expect(error).toMatchObject({ kind: 'invalid-request' });
      expect((error as Error).message).toBe(
        `gce: service db: instance ${name} already exists and was not made by this launch (its cloudboot-token label differs); delete it or use another run name`,
      );
      expect(fake.instances().filter((i) => i.name === name)).toHaveLength(1);
      await driver.terminate([instanceId]);
    });

    it('reports a stockout as capacity, naming the service, the GCE code and what to do', async () => {
      fake.faults.capacity = { machineTypes: ['e2-small'], zones: [] };
      const error = await createDriver(settings())
        .launch(spec('big'), context('cap', 'big'))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DriverError);
      expect(error).toMatchObject({ kind: 'capacity', instanceId: undefined });
      expect((error as Error).message).toMatch(
        /^gce: service big: The zone 'projects\/fake-project\/zones\/us-central1-a' does not have enough resources .*\(GCE ZONE_RESOURCE_POOL_EXHAUSTED\); the zone has no capacity .*try another zone \(iaas\)/,
      );
    });

    it('reports quota, throttling and bad credentials by kind', async () => {
      fake.faults.quotaExceeded = true;
      await expect(
        createDriver(settings()).launch(spec('q'), context('q', 'q')),
      ).rejects.toMatchObject({
        kind: 'quota',
        message: expect.stringContaining('(GCE QUOTA_EXCEEDED)'),
      });
      fake.faults.quotaExceeded = false;
      fake.faults.throttleEvery = 1;
      await expect(createDriver(settings()).validate()).rejects.toMatchObject({
        kind: 'throttled',
        message: expect.stringContaining('(GCE 403 rateLimitExceeded PERMISSION_DENIED)'),
      });
      fake.faults.throttleStatus = 429;
      await expect(createDriver(settings()).validate()).rejects.toMatchObject({
        kind: 'throttled',
      });
      fake.faults.throttleStatus = 403;
      fake.faults.throttleEvery = 0;
      fake.faults.unauthorized = true;
      await expect(createDriver(settings()).validate()).rejects.toMatchObject({
        kind: 'auth',
        message: expect.stringContaining('check gce_credentials or gce_access_token'),
      });
    });

    it('names what is missing: image, machine type, network', async () => {
      const driver = createDriver(settings({ gce_network: 'nonet' }));
      await expect(
        createDriver(settings()).launch(
          { ...spec('a'), image: 'projects/debian-cloud/global/images/family/nope' },
          context(),
        ),
      ).rejects.toMatchObject({
        kind: 'not-found',
        message: expect.stringMatching(
          /^gce: service a: image projects\/debian-cloud\/global\/images\/family\/nope does not exist: .*check image/,
        ),
      });
      await expect(
        createDriver(settings()).launch({ ...spec('b'), allocation: 'x9-huge' }, context()),
      ).rejects.toMatchObject({
        kind: 'not-found',
        message: expect.stringContaining(
          'machine type x9-huge in zone us-central1-a does not exist',
        ),
      });
      await expect(driver.launch(spec('c'), context())).rejects.toMatchObject({
        kind: 'not-found',
        message: expect.stringContaining(
          'network projects/fake-project/global/networks/nonet does not exist',
        ),
      });
    });

    it('maps an insert answered 400 "referenced resource cannot be found" to not-found', async () => {
      const image = 'projects/debian-cloud/global/images/gone-soon';
      const local = await startGceCloud({ images: [{ path: image }] });
      try {
        const driver = createDriver({ ...settings(), iaas_url: local.url });
        const first = await driver.launch({ ...spec('a'), image }, context());
        expect(first.instanceId).toContain('cb-unit-a-');
        local.removeImage(image);
        // The lookup is cached, so the insert itself meets the missing image.
        await expect(driver.launch({ ...spec('b'), image }, context())).rejects.toMatchObject({
          kind: 'not-found',
          message: expect.stringContaining('check image'),
        });
      } finally {
        await local.close();
      }
    });

    it('finds instances by their cloudboot labels, sanitised', async () => {
      const driver = createDriver(settings());
      const ctx = context('Find.Me', 'svc');
      const { instanceId } = await driver.launch(spec('svc'), ctx);
      const found = await driver.findByTags?.({
        'cloudboot-run': 'Find.Me',
        'cloudboot-token': ctx.token,
      });
      expect(found?.map((f) => f.instanceId)).toEqual([instanceId]);
      await driver.terminate([instanceId]);
    });

    it('waits out a slow boot, and gives up at the deadline', async () => {
      const driver = new ManagedDriver(createDriver(settings()), { pollIntervalMs: 50 });
      fake.faults.slowBootMs = 1_500;
      try {
        const { instanceId } = await driver.launch(spec('slow'), context('slow', 'slow'));
        await expect(driver.waitUntilRunning(instanceId, 300)).rejects.toMatchObject({
          kind: 'transient',
          message: expect.stringMatching(/is still (PROVISIONING|STAGING); gave up waiting/),
        });
        expect(await driver.waitUntilRunning(instanceId, 10_000)).toMatchObject({
          state: 'running',
          nativeState: 'RUNNING',
        });
        await driver.terminate([instanceId]);
      } finally {
        fake.faults.slowBootMs = 0;
      }
    });

    it('reports a VM deleted outside cloudboot as vanished', async () => {
      const driver = createDriver(settings());
      const { instanceId } = await driver.launch(spec('k'), context('kill', 'k'));
      fake.kill(instanceId.split('/').pop() ?? '');
      await new Promise((r) => setTimeout(r, 150));
      expect((await driver.describe([instanceId]))[0]).toMatchObject({ state: 'vanished' });
    });
  },
});

describe('gce driver settings', () => {
  it('reports every problem at once, an unknown gce_ key with the known ones', () => {
    expect(() =>
      createDriver({
        iaas: 'Central',
        gce_netwrk: 'x',
        gce_project: 'p',
        disk_size_gb: 'big',
        ssh_address: 'both',
        gce_spot: 'maybe',
        tags: 'novalue,cloudboot-run=x',
      }),
    ).toThrowError(
      [
        'gce: the gce settings have 8 problems:',
        '  gce_netwrk is not a key of the gce driver; it knows gce_project, gce_credentials, gce_access_token, gce_network, gce_subnetwork, gce_preemptible, gce_spot, gce_service_account, gce_scopes (and iaas, iaas_url, tags, ssh_address, disk_size_gb)',
        '  iaas is "Central"; expected a GCE zone such as us-central1-a',
        '  gce_project is "p"; expected a project id such as my-project-123',
        '  gce_spot is "maybe"; expected true or false',
        '  disk_size_gb is "big"; expected a whole number of GB from 10 to 65536',
        '  ssh_address is "both"; expected public or private',
        '  tags has "novalue"; expected key=value pairs separated by commas',
        '  tags has "cloudboot-run"; cloudboot- labels are set by cloudboot itself',
      ].join('\n'),
    );
  });

  it('takes the project from GOOGLE_CLOUD_PROJECT and refuses a URL with a path', () => {
    expect(() => parseGceSettings({ iaas: ZONE }, {})).toThrowError(/gce_project is not set/);
    expect(parseGceSettings({ iaas: ZONE }, { GOOGLE_CLOUD_PROJECT: 'env-project' })).toMatchObject(
      {
        defaultProject: 'env-project',
        credentials: { kind: 'application-default' },
        sshAddress: 'public',
      },
    );
    expect(
      parseGceSettings({
        iaas: ZONE,
        gce_project: 'abcdef',
        iaas_url: 'https://compute.example.com',
      }),
    ).toMatchObject({ endpoint: { host: 'compute.example.com', port: 443, protocol: 'https' } });
    expect(() =>
      createDriver({ iaas: ZONE, gce_project: 'abcdef', iaas_url: 'http://127.0.0.1:1/x' }),
    ).toThrowError(/iaas_url is "http:\/\/127.0.0.1:1\/x"; expected the root URL/);
  });
});

describe('gce credentials', () => {
  it('signs requests with a self-signed JWT from a service-account key, offline', async () => {
    const { generateKeyPairSync, createVerify } = await import('node:crypto');
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const seen: string[] = [];
    const local = await startGceCloud({
      acceptToken: (token) => {
        const [header, payload, signature] = token.split('.');
        const verify = createVerify('RSA-SHA256');
        verify.update(`${header}.${payload}`);
        const ok = verify.verify(publicKey, Buffer.from(signature ?? '', 'base64url'));
        if (ok) seen.push(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()).iss);
        return ok;
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'cloudboot-gce-key-'));
    try {
      const keyFile = join(dir, 'key.json');
      writeFileSync(
        keyFile,
        JSON.stringify({
          type: 'service_account',
          project_id: 'key-project',
          private_key_id: 'k1',
          private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
          client_email: 'robot@key-project.iam.gserviceaccount.com',
          token_uri: 'http://127.0.0.1:9/token',
        }),
        { mode: 0o600 },
      );
      const driver = createDriver({ iaas: ZONE, iaas_url: local.url, gce_credentials: keyFile });
      const { instanceId } = await driver.launch(spec('jwt'), context('jwt', 'jwt'));
      expect(instanceId).toMatch(
        /^projects\/key-project\/zones\/us-central1-a\/instances\/cb-jwt-jwt-/,
      );
      expect(seen[0]).toBe('robot@key-project.iam.gserviceaccount.com');
      await expect(
        createDriver({
          iaas: ZONE,
          iaas_url: local.url,
          gce_credentials: join(dir, 'missing.json'),
        }).validate(),
      ).rejects.toThrowError(/gce_credentials: cannot read the key file .*missing.json: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await local.close();
    }
  });
});
