/**
 * A plan booted through the CLI with the real gce driver, into instances of
 * the fake Compute Engine that are sshd machines on loopback. The machines
 * accept only the key the driver injected through the `ssh-keys` metadata
 * item, so a successful boot proves the injection as well.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliIo, runCli } from 'cloudboot';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGceCloud, startGceCloud } from '../fakes/gce-cloud.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { Cleanup, PUBLISHING_BOOT, runlevels, serverOf, sshDefaults } from '../ssh/boot-plans.js';

let hosts: SshHosts;
let fake: FakeGceCloud;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 1 });
  // Only what the driver injects may log in.
  writeFileSync(hosts.authorizedKeysPath, '');
  fake = await startGceCloud({
    addresses: [hosts.hosts[0]?.address ?? ''],
    bootDelayMs: 200,
    authorizedKeysFile: hosts.authorizedKeysPath,
  });
});
afterEach(() => cleanup.run());
afterAll(async () => {
  await fake?.close();
  await hosts?.stop();
});

async function cli(argv: readonly string[], cwd: string) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { GCE_TEST_TOKEN: 'fake-oauth-token', NO_COLOR: '1' },
    cwd,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

const READY = '#!/bin/sh\n[ -s bootout.json ] || exit 1\n';

describe('a two-level plan on the gce driver over SSH', () => {
  it('boots, reports status, and terminates every instance it made', async () => {
    const base = cleanup.base();
    const port = hosts.hosts[0]?.port;
    const plan = cleanup.plan({
      'top.conf': `${runlevels(2)}${sshDefaults(
        hosts,
        base,
        [
          'driver: gce',
          'iaas: us-central1-a',
          `iaas_url: ${fake.url}`,
          'gce_project: cb-test-project',
          'gce_access_token: env.GCE_TEST_TOKEN',
          'image: projects/debian-cloud/global/images/family/debian-12',
          'allocation: e2-small',
          `ssh_port: ${port}`,
          'tags: Team=Platform.Eng',
          'readypgm: ready.sh',
          '',
        ].join('\n'),
      )}`,
      'l1.conf': '[svc-db]\nbootpgm: boot.sh\nbootpgm_args: role=db\n',
      'l2.conf':
        '[svc-web]\nreplica_count: 2\nbootpgm: boot.sh\nbootpgm_args: role=web db=${db.hostname} dbid=${db.instance_id}\n',
      'boot.sh': PUBLISHING_BOOT,
      'ready.sh': READY,
    });

    const boot = await cli(
      ['boot', 'top.conf', '-n', 'Gce.Demo', '-d', plan.dbDir, '-o', 'out.json'],
      plan.root,
    );
    expect(boot.stderr).toBe('');
    expect(boot.code).toBe(0);

    const made = fake.instances().filter((i) => i.labels['cloudboot-run'] === 'gce-demo');
    expect(made.map((i) => i.labels['cloudboot-service']).sort()).toEqual(['db', 'web-0', 'web-1']);
    for (const instance of made) {
      expect(instance.state).toBe('RUNNING');
      expect(instance.name).toMatch(
        new RegExp(`^cb-gce-demo-${instance.labels['cloudboot-service']}-[0-9a-f]{8}$`),
      );
      expect(instance.labels.team).toBe('platform-eng');
      expect(instance.metadata['ssh-keys']).toBe(
        `${hosts.username}:${readFileSync(`${hosts.clientKeyPath}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ')} ${hosts.username}`,
      );
    }
    // The access token is a credential: never in the description of the run, nor its database.
    expect(plan.read('out.json')).not.toContain('fake-oauth-token');
    expect(
      readFileSync(join(plan.dbDir, 'cloudboot-Gce.Demo.db')).includes('fake-oauth-token'),
    ).toBe(false);
    const out = JSON.parse(plan.read('out.json')) as {
      levels: {
        services: {
          name: string;
          hostname: string;
          instanceId: string;
          attributes?: Record<string, string>;
        }[];
      }[];
    };
    const services = out.levels.flatMap((l) => l.services);
    const db = services.find((s) => s.name === 'db');
    const dbInstance = made.find((i) => i.labels['cloudboot-service'] === 'db');
    expect(db?.instanceId).toBe(
      `projects/cb-test-project/zones/us-central1-a/instances/${dbInstance?.name}`,
    );
    expect(db?.hostname).toBe(hosts.hosts[0]?.address);
    // web ran over SSH on the fake's instance, and read db's attributes.
    const web = services.find((s) => s.name === 'web-1');
    expect(web?.attributes).toMatchObject({
      server: serverOf(hosts, 0),
      role: 'web',
      db: hosts.hosts[0]?.address,
      dbid: db?.instanceId,
    });

    const status = await cli(['status', 'Gce.Demo', '-d', plan.dbDir], plan.root);
    expect(status.code).toBe(0);

    fake.resetCounts();
    const terminate = await cli(['terminate', 'Gce.Demo', '-d', plan.dbDir], plan.root);
    expect(terminate.code).toBe(0);
    expect(fake.callCounts()['instances.delete']).toBe(3);
    for (const instance of made) expect(['STOPPING', 'DELETED']).toContain(instance.state);
  });
});
