/**
 * EC2 plans booted through the CLI on the fake EC2, over real SSH into the
 * sshd machines behind the instances' addresses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunStore } from '@cloudboot/core';
import { runCli } from 'cloudboot';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEc2Cloud, startEc2Cloud } from '../fakes/ec2-cloud.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { Cleanup, PUBLISHING_BOOT, runlevels } from '../ssh/boot-plans.js';
import type { PlanDir } from '../support/plan-files.js';
import { ec2Env, ec2Profile, ec2SshDefaults } from './ec2-plans.js';

let hosts: SshHosts;
let cloud: FakeEc2Cloud;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 2, samePort: true });
  cloud = await startEc2Cloud({
    addresses: hosts.hosts.map((h) => h.address),
    bootDelayMs: 300,
    faults: { missing: { images: ['ami-0000000000000gone'] } },
  });
});

afterEach(() => cleanup.run());

afterAll(async () => {
  await cloud?.close();
  await hosts?.stop();
});

async function cli(plan: PlanDir, argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...argv, '-d', plan.dbDir], {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: ec2Env(cloud),
    cwd: plan.root,
  });
  return { code, stdout, stderr };
}

const READY = '#!/bin/sh\n[ -s bootout.json ] || exit 1\n';

describe('a two-level EC2 plan through the CLI', () => {
  it('launches tagged instances, flows attributes from level 1 to level 2 over SSH, and terminates every instance', async () => {
    const base = cleanup.base();
    const plan = cleanup.plan({
      'top.conf': `${ec2SshDefaults(hosts, base, 'readypgm: ready.sh\nuser_data: files/user-data.txt\n')}${ec2Profile(cloud)}${runlevels(2)}`,
      'files/user-data.txt': '#cloud-config\n',
      'l1.conf': '[svc-db]\nbootpgm: boot.sh\nbootpgm_args: password=pw-${.service}\n',
      'l2.conf':
        '[svc-web]\nreplica_count: 2\nbootpgm: boot.sh\nbootpgm_args: db=${db.hostname} dbid=${db.instance_id} pass=${db.password}\n',
      'boot.sh': PUBLISHING_BOOT,
      'ready.sh': READY,
    });
    const before = cloud.instances().length;
    const booted = await cli(plan, ['boot', 'top.conf', '-n', 'ec2-two']);
    expect(booted.stderr).toBe('');
    expect(booted.code).toBe(0);

    const made = cloud.instances().slice(before);
    expect(made).toHaveLength(3);
    const store = RunStore.open(plan.dbDir, 'ec2-two');
    try {
      const record = (name: string) => store.service(name);
      const instanceOf = (name: string) => made.find((i) => i.id === record(name)?.instanceId);
      for (const name of ['db', 'web-0', 'web-1']) {
        const instance = instanceOf(name);
        expect(instance?.tags).toEqual({
          Name: `ec2-two/${name}`,
          'cloudboot-run': 'ec2-two',
          'cloudboot-service': name,
          'cloudboot-token': record(name)?.launchToken,
        });
        expect(instance?.token).toBe(record(name)?.launchToken);
        // user_data is a file named relative to the plan file that says it.
        expect(instance?.request.UserData).toBe(Buffer.from('#cloud-config\n').toString('base64'));
        expect(record(name)).toMatchObject({ state: 'ready', hostname: instance?.publicIp });
        // The boot program ran on the machine behind the instance's address.
        expect(record(name)?.published.server).toBe(
          `${instance?.publicIp}:${hosts.hosts[0]?.port}`,
        );
      }
      const db = instanceOf('db');
      for (const web of ['web-0', 'web-1']) {
        expect(record(web)?.published).toMatchObject({
          db: db?.publicIp,
          dbid: db?.id,
          pass: 'pw-db',
        });
      }
    } finally {
      store.close();
    }
    expect((await cli(plan, ['status', 'ec2-two', '-q'])).code).toBe(0);

    const down = await cli(plan, ['terminate', 'ec2-two']);
    expect(down.code).toBe(0);
    const states = cloud
      .instances()
      .slice(before)
      .map((i) => i.state);
    expect(states.every((s) => s === 'shutting-down' || s === 'terminated')).toBe(true);
  });

  it("publishes each instance's addresses, DNS names and zone as attributes that level 2 reads", async () => {
    const plan = cleanup.plan({
      'top.conf': `${ec2SshDefaults(hosts, cleanup.base())}${ec2Profile(cloud)}${runlevels(2)}`,
      // No availability_zone key: the zone is the one EC2 chose.
      'l1.conf': '[svc-db]\n',
      'l2.conf':
        '[svc-web]\nbootconf: web.json\nbootpgm: boot.sh\nbootpgm_args: pub=${db.public_ip} priv=${db.private_ip} az=${db.availability_zone}\n',
      'web.json':
        '{"db": {"public": "${db.public_ip}", "private": "${db.private_ip}", "zone": "${db.availability_zone}", "dns": "${db.public_dns}", "internal": "${db.private_dns}"}}',
      'boot.sh': `${PUBLISHING_BOOT}cp bootconf.json bootconf.copy\n`,
    });
    const booted = await cli(plan, ['boot', 'top.conf', '-n', 'ec2-attrs', '-q']);
    expect(booted.stderr).toBe('');
    expect(booted.code, booted.stdout).toBe(0);
    const store = RunStore.open(plan.dbDir, 'ec2-attrs');
    try {
      const db = cloud.instances().find((i) => i.id === store.service('db')?.instanceId);
      const dashed = db?.publicIp.replaceAll('.', '-');
      const facts = {
        public_ip: db?.publicIp,
        private_ip: db?.privateIp,
        availability_zone: 'us-east-1a',
        public_dns: `ec2-${dashed}.compute-1.amazonaws.com`,
        private_dns: `ip-${dashed}.ec2.internal`,
      };
      // Recorded with the service, for resume, -o and later levels.
      expect(store.service('db')?.machineAttributes).toEqual(facts);
      const web = store.service('web');
      expect(web?.published).toMatchObject({
        pub: facts.public_ip,
        priv: facts.private_ip,
        az: 'us-east-1a',
      });
      const copy = join(String(web?.published.cwd), 'bootconf.copy');
      expect(JSON.parse(readFileSync(copy, 'utf8'))).toEqual({
        db: {
          public: facts.public_ip,
          private: facts.private_ip,
          zone: 'us-east-1a',
          dns: facts.public_dns,
          internal: facts.private_dns,
        },
      });
    } finally {
      store.close();
    }
    const out = await cli(plan, ['status', 'ec2-attrs', '-q', '-o', 'attrs.json']);
    expect(out.code, out.stdout).toBe(0);
    const described = JSON.parse(plan.read('attrs.json'));
    expect(described.levels[0].services[0]).toMatchObject({
      name: 'db',
      attributes: { public_ip: expect.any(String), availability_zone: 'us-east-1a' },
    });
    expect((await cli(plan, ['terminate', 'ec2-attrs', '-q'])).code).toBe(0);
  });

  it('fails a plan whose AMI does not exist with the not-found message, and launches nothing', async () => {
    const plan = cleanup.plan({
      'top.conf': `${ec2SshDefaults(hosts, cleanup.base(), 'image: ami-0000000000000gone\n')}${ec2Profile(cloud)}${runlevels(1)}`,
      'l1.conf': '[svc-db]\n',
    });
    const before = cloud.instances().length;
    const { code, stdout, stderr } = await cli(plan, ['boot', 'top.conf', '-n', 'no-ami']);
    expect(code).toBe(1);
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    const failed = lines.findIndex((l) => /^ {2}✗ db +failed \(launch\) /.test(l));
    expect(failed).toBeGreaterThan(0);
    expect(lines[failed + 1]).toBe(
      `    ec2: EC2 RunInstances: image "ami-0000000000000gone" does not exist in region us-east-1 or is not visible to this account; check the image key (an AMI id of that region, or resolve:ssm:PARAMETER) (EC2 error InvalidAMIID.NotFound: The image id '[ami-0000000000000gone]' does not exist)`,
    );
    expect(cloud.instances()).toHaveLength(before);
  });

  it('reports every problem of the driver keys at once, naming each key, each line under the service, and launches nothing', async () => {
    const plan = cleanup.plan({
      'top.conf': `${ec2SshDefaults(hosts, cleanup.base(), 'aws_profil: dev\nspot: often\nroot_volume_gb: 0\n')}${ec2Profile(cloud)}${runlevels(1)}`,
      'l1.conf': '[svc-db]\n',
    });
    const before = cloud.instances().length;
    const { code, stdout } = await cli(plan, ['boot', 'top.conf', '-n', 'bad-keys']);
    expect(code).toBe(1);
    expect(stdout).toContain(
      [
        `    driver "ec2" could not be created from its settings: the ec2 driver's plan keys have 3 problems:`,
        '      aws_profil is not a key of the ec2 driver; expected one of aws_profile, aws_session_token',
        '      root_volume_gb is "0"; expected a whole number of GiB from 1 to 65536',
        '      spot is "often"; expected true or false',
        '',
      ].join('\n'),
    );
    expect(cloud.instances()).toHaveLength(before);
  });
});
