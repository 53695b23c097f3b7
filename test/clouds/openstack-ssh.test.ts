/**
 * A plan booted through the CLI on the fake OpenStack cloud, its servers
 * being real sshd machines on loopback: the real driver launches servers,
 * waits for ACTIVE, and the programs run over SSH on the addresses Nova
 * reports; status, history and terminate follow the servers in the cloud.
 */
import { RunStore } from '@cloudboot/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type FakeOpenstackCloud,
  fakePlanDefaults,
  startOpenstackCloud,
} from '../fakes/openstack-cloud.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import {
  Cleanup,
  cli,
  PUBLISHING_BOOT,
  runlevels,
  serverOf,
  sshDefaults,
} from '../ssh/boot-plans.js';

let hosts: SshHosts;
let cloud: FakeOpenstackCloud;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 2 });
  cloud = await startOpenstackCloud({
    addresses: hosts.hosts.map((h) => h.address),
    bootDelayMs: 150,
  });
});
afterEach(() => cleanup.run());
afterAll(async () => {
  await cloud?.close();
  await hosts?.stop();
});

const READY = '#!/bin/sh\n[ -s bootout.json ] || { echo "no bootout.json" >&2; exit 1; }\n';

describe('booting a plan on the fake OpenStack cloud over SSH', () => {
  it('launches a server per service, runs the programs on them, and terminates them', async () => {
    const base = cleanup.base();
    // One service per level: the fake hands out the sshd addresses in launch order.
    const port = (i: number) => `ssh_port: ${hosts.hosts[i]?.port}\n`;
    const plan = cleanup.plan({
      'top.conf': `${sshDefaults(hosts, base, `readypgm: ready.sh\npgm_timeout: 20\n${fakePlanDefaults(cloud)}sshkeyname: cloudboot\nsecuritygroups: default\nos_network: private\ntags: team=data\n`)}${runlevels(2)}`,
      'l1.conf': `[svc-db]\n${port(0)}bootpgm: boot.sh\nbootpgm_args: port=5432\n`,
      'l2.conf': `[svc-web]\n${port(1)}bootpgm: boot.sh\nbootpgm_args: db=\${db.hostname}:\${db.port} dbid=\${db.instance_id}\n`,
      'boot.sh': PUBLISHING_BOOT,
      'ready.sh': READY,
    });
    const top = plan.path('top.conf');
    const boot = await cli(['boot', top, '-n', 'os-ssh', '-d', plan.dbDir, '-q'], plan.root);
    expect(boot.stderr).toBe('');
    expect(boot.stdout).toMatch(/^run os-ssh: boot ok in \S+: 2 of 2 services ready\n$/);
    expect(boot.code).toBe(0);

    const servers = cloud.instances().filter((i) => i.metadata['cloudboot-run'] === 'os-ssh');
    expect(servers.map((s) => [s.metadata['cloudboot-service'], s.state, s.address])).toEqual([
      ['db', 'ACTIVE', hosts.hosts[0]?.address],
      ['web', 'ACTIVE', hosts.hosts[1]?.address],
    ]);
    for (const s of servers) {
      expect(s.name).toBe(`cb-os-ssh-${s.metadata['cloudboot-service']}-${s.token?.slice(0, 8)}`);
      expect(s.metadata.team).toBe('data');
    }
    const store = RunStore.open(plan.dbDir, 'os-ssh');
    try {
      const db = store.service('db');
      const web = store.service('web');
      expect(db).toMatchObject({
        state: 'ready',
        instanceId: servers[0]?.id,
        hostname: hosts.hosts[0]?.address,
      });
      expect(db?.published).toMatchObject({ server: serverOf(hosts, 0), port: '5432' });
      expect(web?.published).toMatchObject({
        server: serverOf(hosts, 1),
        db: `${hosts.hosts[0]?.address}:5432`,
        dbid: servers[0]?.id,
      });
    } finally {
      store.close();
    }

    const status = await cli(['status', 'os-ssh', '-d', plan.dbDir, '-q'], plan.root);
    expect(status.code).toBe(0);
    const history = await cli(['history', 'os-ssh', '-d', plan.dbDir], plan.root);
    expect(history.code).toBe(0);
    for (const s of servers) expect(history.stdout).toContain(s.id);

    const down = await cli(['terminate', 'os-ssh', '-d', plan.dbDir, '-q'], plan.root);
    expect(down.code).toBe(0);
    expect(
      cloud
        .instances()
        .filter((i) => i.metadata['cloudboot-run'] === 'os-ssh')
        .map((i) => i.state),
    ).toEqual(['DELETED', 'DELETED']);
  });

  it('reaches a server through the floating IP it takes from os_floating_ip_pool, and releases it', async () => {
    // Fixed addresses where nothing listens: only the floating IP leads to sshd.
    const fip = await startOpenstackCloud({
      addresses: ['127.255.255.254'],
      floatingAddresses: [hosts.hosts[1]?.address ?? ''],
      bootDelayMs: 50,
    });
    try {
      const base = cleanup.base();
      const plan = cleanup.plan({
        'top.conf': `${sshDefaults(hosts, base, `${fakePlanDefaults(fip)}os_floating_ip_pool: public\nssh_port: ${hosts.hosts[1]?.port}\n`)}${runlevels(1)}`,
        'l1.conf': '[svc-edge]\nbootpgm: boot.sh\n',
        'boot.sh': PUBLISHING_BOOT,
      });
      const args = (command: string, ...more: string[]) => [
        command,
        ...more,
        '-d',
        plan.dbDir,
        '-q',
      ];
      const boot = await cli(args('boot', plan.path('top.conf'), '-n', 'os-fip'), plan.root);
      expect(boot.stderr).toBe('');
      expect(boot.code).toBe(0);
      const [server] = fip.instances();
      expect(server).toMatchObject({
        address: '127.255.255.254',
        floatingAddress: hosts.hosts[1]?.address,
      });
      const store = RunStore.open(plan.dbDir, 'os-fip');
      try {
        expect(store.service('edge')).toMatchObject({ hostname: hosts.hosts[1]?.address });
        expect(store.service('edge')?.published).toMatchObject({ server: serverOf(hosts, 1) });
      } finally {
        store.close();
      }
      expect(fip.floatingIps()).toEqual([
        {
          address: hosts.hosts[1]?.address,
          serverId: server?.id,
          description: `cloudboot-server:${server?.id}`,
        },
      ]);
      expect((await cli(args('terminate', 'os-fip'), plan.root)).code).toBe(0);
      expect(fip.floatingIps()).toEqual([]);
      expect(fip.instances().map((i) => i.state)).toEqual(['DELETED']);
    } finally {
      await fip.close();
    }
  });
});
