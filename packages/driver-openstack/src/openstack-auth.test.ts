import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DriverError } from '@cloudboot/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type FakeOpenstackCloud,
  startOpenstackCloud,
} from '../../../test/fakes/openstack-cloud.js';
import { createDriver, type OpenstackDriverOptions } from './openstack-driver.js';

let cloud: FakeOpenstackCloud;
let dirs: string[] = [];

beforeAll(async () => {
  cloud = await startOpenstackCloud({ bootDelayMs: 0 });
});
afterAll(() => cloud?.close());
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  cloud.faults.failAuth = false;
  cloud.faults.rejectTokens = false;
});

/** A fresh directory tree standing for cwd, home and /etc/openstack. */
function places(): Required<Omit<OpenstackDriverOptions, 'fetch' | 'env'>> {
  const root = mkdtempSync(join(tmpdir(), 'cloudboot-openstack-'));
  dirs.push(root);
  const p = { cwd: join(root, 'work'), home: join(root, 'home'), systemDir: join(root, 'etc') };
  for (const d of Object.values(p)) mkdirSync(d, { recursive: true });
  return p;
}

function write(file: string, text: string): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text, { mode: 0o600 });
}

const tokenRequests = (on: FakeOpenstackCloud = cloud) =>
  on.callCounts()['keystone POST /auth/tokens'] ?? 0;

const planKeys = () => ({
  iaas_url: cloud.url,
  iaas_key: 'demo',
  iaas_secret: 'secret',
  os_project_name: 'demo',
});
const bare = { env: {}, cwd: '/nonexistent', home: '/nonexistent', systemDir: '/nonexistent' };
const unknown = ['00000000-0000-4000-8000-00000000000a'];

describe('tokens', () => {
  it('reuses one token for every call until it nears expiry', async () => {
    const driver = createDriver(planKeys(), bare);
    const before = tokenRequests();
    for (let i = 0; i < 5; i++) await driver.describe(unknown);
    await driver.validate();
    expect(tokenRequests() - before).toBe(1);
  });

  it('asks for a new token before a short-lived one expires, without a 401', async () => {
    const short = await startOpenstackCloud({ tokenTtlMs: 400 });
    try {
      const driver = createDriver({ ...planKeys(), iaas_url: short.url }, bare);
      await driver.describe(unknown);
      await driver.describe(unknown);
      expect(tokenRequests(short)).toBe(1);
      await new Promise((r) => setTimeout(r, 400));
      await driver.describe(unknown);
      expect(tokenRequests(short)).toBe(2);
      expect(short.callCounts()['401 Unauthorized']).toBeUndefined();
    } finally {
      await short.close();
    }
  });

  it('authenticates again exactly once when a token is refused with 401', async () => {
    const driver = createDriver(planKeys(), bare);
    await driver.describe(unknown);
    const before = tokenRequests();
    const refusals = cloud.callCounts()['401 Unauthorized'] ?? 0;
    cloud.revokeTokens();
    expect(await driver.describe(unknown)).toMatchObject([{ state: 'vanished' }]);
    expect(tokenRequests() - before).toBe(1);
    expect(cloud.callCounts()['401 Unauthorized']).toBe(refusals + 1);
    await driver.describe(unknown);
    expect(tokenRequests() - before).toBe(1);
  });

  it('gives up with kind auth when the fresh token is refused too', async () => {
    const driver = createDriver(planKeys(), bare);
    await driver.describe(unknown);
    const before = tokenRequests();
    const refusalsBefore = cloud.callCounts()['401 Unauthorized'];
    cloud.faults.rejectTokens = true;
    const refused = driver.describe(unknown);
    await expect(refused).rejects.toMatchObject({ kind: 'auth' });
    expect(cloud.callCounts()['401 Unauthorized']).toBe((refusalsBefore ?? 0) + 2);
    await expect(refused).rejects.toThrow(
      'openstack: Nova: list servers failed: Unauthorized (HTTP 401): The request you have made requires authentication.; check the credentials',
    );
    expect(tokenRequests() - before).toBe(1);
  });

  it('reports refused credentials as auth, naming where they came from', async () => {
    cloud.faults.failAuth = true;
    const refused = createDriver({ ...planKeys(), iaas_secret: 'wrong' }, bare).validate();
    await expect(refused).rejects.toMatchObject({ kind: 'auth' });
    await expect(refused).rejects.toThrow(
      'openstack: Keystone: authenticate with the plan keys failed: Unauthorized (HTTP 401): The request you have made requires authentication.; check the credentials',
    );
  });

  it('authenticates with an application credential', async () => {
    const driver = createDriver(
      {
        iaas_url: cloud.url.replace(/\/v3$/, ''),
        iaas_key: cloud.applicationCredential.id,
        iaas_secret: cloud.applicationCredential.secret,
        os_auth_type: 'v3applicationcredential',
      },
      bare,
    );
    await expect(driver.validate()).resolves.toBeUndefined();
  });

  it('says what is missing when there are no credentials anywhere', async () => {
    const refused = createDriver({}, bare).validate();
    await expect(refused).rejects.toThrow(
      'openstack: Keystone: no usable credentials: the OS_* environment variables lack the Keystone URL (iaas_url, auth_url, OS_AUTH_URL) and a user name (iaas_key, username, OS_USERNAME) and a password (iaas_secret, password, OS_PASSWORD); set os_cloud',
    );
  });
});

describe('clouds.yaml, secure.yaml and OS_*', () => {
  const cloudsYaml = (url: string, project = 'demo') => `clouds:
  mycloud:
    auth:
      auth_url: ${url}
      username: demo
      project_name: ${project}
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
  other:
    auth:
      auth_url: http://127.0.0.1:9/v3
`;
  const secureYaml = 'clouds:\n  mycloud:\n    auth:\n      password: secret\n';

  it('merges secure.yaml into the clouds.yaml entry os_cloud names', async () => {
    const p = places();
    write(join(p.cwd, 'clouds.yaml'), cloudsYaml(cloud.url));
    write(join(p.home, '.config/openstack/secure.yaml'), secureYaml);
    const driver = createDriver({ os_cloud: 'mycloud' }, { ...p, env: {} });
    await expect(driver.validate()).resolves.toBeUndefined();
  });

  it('takes ./clouds.yaml before ~/.config/openstack and /etc/openstack', async () => {
    const p = places();
    write(join(p.cwd, 'clouds.yaml'), cloudsYaml(cloud.url));
    write(join(p.cwd, 'secure.yaml'), secureYaml);
    write(join(p.home, '.config/openstack/clouds.yaml'), cloudsYaml(cloud.url, 'elsewhere'));
    write(join(p.systemDir, 'clouds.yaml'), cloudsYaml(cloud.url, 'elsewhere'));
    await expect(
      createDriver({ os_cloud: 'mycloud' }, { ...p, env: {} }).validate(),
    ).resolves.toBeUndefined();
    rmSync(join(p.cwd, 'clouds.yaml'));
    // ~/.config/openstack's entry scopes to a project the user is not in.
    await expect(
      createDriver({ os_cloud: 'mycloud' }, { ...p, env: {} }).validate(),
    ).rejects.toThrow(
      `openstack: Keystone: authenticate with cloud "mycloud" of ${join(p.home, '.config/openstack/clouds.yaml')} and ${join(p.cwd, 'secure.yaml')} failed: Unauthorized (HTTP 401)`,
    );
  });

  it('uses OS_CLOUD when the plan names no cloud and gives no credentials', async () => {
    const p = places();
    write(join(p.systemDir, 'clouds.yaml'), cloudsYaml(cloud.url));
    write(join(p.systemDir, 'secure.yaml'), secureYaml);
    const driver = createDriver({ iaas: 'RegionOne' }, { ...p, env: { OS_CLOUD: 'mycloud' } });
    await expect(driver.validate()).resolves.toBeUndefined();
  });

  it('lets plan keys override single fields of the entry', async () => {
    const p = places();
    write(join(p.cwd, 'clouds.yaml'), cloudsYaml('http://127.0.0.1:9/v3', 'elsewhere'));
    write(join(p.cwd, 'secure.yaml'), secureYaml);
    const driver = createDriver(
      { os_cloud: 'mycloud', iaas_url: cloud.url, os_project_name: 'demo' },
      { ...p, env: {} },
    );
    await expect(driver.validate()).resolves.toBeUndefined();
  });

  it('names the file and the clouds it has when the entry is missing', async () => {
    const p = places();
    write(join(p.cwd, 'clouds.yaml'), cloudsYaml(cloud.url));
    const refused = createDriver({ os_cloud: 'mycluod' }, { ...p, env: {} }).validate();
    await expect(refused).rejects.toMatchObject({ kind: 'auth' });
    await expect(refused).rejects.toThrow(
      `openstack: Keystone: ${join(p.cwd, 'clouds.yaml')} has no cloud "mycluod" (it has mycloud, other)`,
    );
  });

  it('names the file and line of broken YAML', async () => {
    const p = places();
    write(
      join(p.home, '.config/openstack/clouds.yaml'),
      'clouds:\n  mycloud:\n    auth: [unclosed\n',
    );
    const refused = createDriver({ os_cloud: 'mycloud' }, { ...p, env: {} }).validate();
    await expect(refused).rejects.toThrow(
      new RegExp(
        `^openstack: Keystone: ${join(p.home, '.config/openstack/clouds.yaml')}:\\d+ is not valid YAML: `,
      ),
    );
  });

  it('falls back to the OS_* environment', async () => {
    const env = {
      OS_AUTH_URL: cloud.url,
      OS_USERNAME: 'demo',
      OS_PASSWORD: 'secret',
      OS_PROJECT_NAME: 'demo',
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: 'RegionOne',
    };
    await expect(createDriver({}, { ...bare, env }).validate()).resolves.toBeUndefined();
  });

  it('never lets a secret from secure.yaml out: not in the driver, its answers or its errors', async () => {
    const p = places();
    const secret = 'pa55-from-secure-yaml';
    const c = await startOpenstackCloud({
      bootDelayMs: 0,
      users: [{ name: 'demo', password: secret, domain: 'Default', project: 'demo' }],
    });
    try {
      write(join(p.cwd, 'clouds.yaml'), cloudsYaml(c.url));
      write(
        join(p.cwd, 'secure.yaml'),
        `clouds:\n  mycloud:\n    auth:\n      password: ${secret}\n`,
      );
      const driver = createDriver({ os_cloud: 'mycloud' }, { ...p, env: {} });
      const seen: string[] = [];
      const token = 'abcdef01-2345-4678-9abc-def012345678';
      const tags = { 'cloudboot-run': 'r', 'cloudboot-service': 's', 'cloudboot-token': token };
      const { instanceId } = await driver.launch(
        { service: 's', image: 'cirros', allocation: 'm1.tiny', securityGroups: [], options: {} },
        { token, tags },
      );
      seen.push(JSON.stringify(driver), JSON.stringify(await driver.describe([instanceId])));
      seen.push(JSON.stringify(await driver.findByTags?.(tags)));
      c.faults.rejectTokens = true;
      const error = await driver.describe([instanceId]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DriverError);
      seen.push((error as Error).message, JSON.stringify(error));
      expect(seen.join('\n')).not.toContain(secret);
    } finally {
      await c.close();
    }
  });
});
