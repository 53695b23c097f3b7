/**
 * The EC2 benchmark: one level of 300 EC2 services on the fake EC2 (boot
 * delay 2 s; the instances share the addresses of 30 sshd machines, 10 each;
 * trivial boot and ready programs over SSH). Reports the wall time of the
 * boot against the boot delay, the fake's calls by action, cloudboot's peak
 * RSS (sampled), and the same with every 5th call throttled (20 %), checking
 * that no launch token made a second instance.
 *
 * The fake runs in a process of its own (`test/fakes/serve-ec2.ts`), so
 * neither its CPU nor its memory counts as cloudboot's.
 *
 *   pnpm bench ec2        (or: pnpm bench --only ec2)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-ec2';
import type { FakeEc2State } from '../fakes/ec2-cloud.js';
import { STATE_PATH } from '../fakes/ec2-cloud.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';

const SERVICES = 300;
const MACHINES = 30;
const BOOT_DELAY_MS = 2000;
/** The account's call rate for the run (EC2's own bucket allows bursts well above this). */
const CALLS_PER_SECOND = 200;
const ROOT = new URL('../..', import.meta.url).pathname;

interface FakeProcess {
  readonly url: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly child: ChildProcess;
}

async function startFake(
  addresses: readonly string[],
  throttleEvery: number,
): Promise<FakeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      'test/fakes/serve-ec2.ts',
      '--addresses',
      addresses.join(','),
      '--boot-delay-ms',
      String(BOOT_DELAY_MS),
      '--throttle-every',
      String(throttleEvery),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    lines.close();
    return { ...(JSON.parse(line) as Omit<FakeProcess, 'child'>), child };
  }
  throw new Error('the fake EC2 process ended without printing its URL');
}

async function stopFake(fake: FakeProcess): Promise<void> {
  const exited = new Promise((resolve) => fake.child.once('exit', resolve));
  fake.child.kill('SIGTERM');
  await exited;
}

function writePlan(root: string, fake: FakeProcess, hosts: SshHosts, remote: string): string {
  writeFileSync(join(root, 'pgm.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  writeFileSync(join(root, 'level1.conf'), `[svc-vm]\nreplica_count: ${SERVICES}\n`);
  const top = join(root, 'top.conf');
  writeFileSync(
    top,
    [
      '[defaults]',
      'cloud: fake',
      'image: ami-0c10dbo0700000001',
      'allocation: t3.micro',
      'bootpgm: pgm.sh',
      'readypgm: pgm.sh',
      `workdir: ${remote}`,
      `ssh_username: ${hosts.username}`,
      `localsshkeypath: ${hosts.clientKeyPath}`,
      `ssh_port: ${hosts.hosts[0]?.port}`,
      '[cloud-fake]',
      'driver: ec2',
      'iaas: us-east-1',
      `iaas_url: ${fake.url}`,
      'iaas_key: env.FAKE_EC2_KEY',
      'iaas_secret: env.FAKE_EC2_SECRET',
      '[runlevels]',
      'level1: level1.conf',
      '',
    ].join('\n'),
  );
  return top;
}

interface Ec2Sample {
  readonly name: string;
  readonly wallMs: number;
  readonly peakRssMb: number;
  readonly calls: Record<string, number>;
  readonly throttled: number;
  readonly instances: number;
  readonly duplicates: number;
  readonly ok: boolean;
}

async function runVariant(
  name: string,
  hosts: SshHosts,
  throttleEvery: number,
): Promise<Ec2Sample> {
  const root = mkdtempSync(join(tmpdir(), 'cloudboot-bench-ec2-'));
  const remote = `/tmp/cloudboot-bench-ec2-${randomBytes(4).toString('hex')}`;
  const fake = await startFake(
    hosts.hosts.map((h) => h.address),
    throttleEvery,
  );
  try {
    const boot = new CloudBoot({
      dbDir: join(root, 'db'),
      planFile: writePlan(root, fake, hosts, remote),
      runName: 'bench-ec2',
      drivers: { ec2: createDriver },
      concurrency: SERVICES,
      driverPolicy: { callsPerSecond: CALLS_PER_SECOND },
      env: { FAKE_EC2_KEY: fake.accessKeyId, FAKE_EC2_SECRET: fake.secretAccessKey },
    });
    let peak = process.memoryUsage.rss();
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 50);
    const started = performance.now();
    const result = await boot.run();
    const wallMs = performance.now() - started;
    clearInterval(sampler);
    const state = (await (await fetch(`${fake.url}${STATE_PATH}`)).json()) as FakeEc2State;
    await boot.shutdown({ dashNine: true });
    boot.close();
    const tokens = state.instances.map((i) => i.token);
    if (!result.ok) console.error(result.failures.map((f) => f.message).join('\n'));
    return {
      name,
      wallMs,
      peakRssMb: peak / 2 ** 20,
      calls: state.calls,
      throttled: state.faults.throttled ?? 0,
      instances: state.instances.length,
      duplicates: tokens.length - new Set(tokens).size,
      ok: result.ok,
    };
  } finally {
    await stopFake(fake);
    rmSync(root, { recursive: true, force: true });
    rmSync(remote, { recursive: true, force: true });
  }
}

/** Runs both variants and prints a Markdown table. */
export async function runEc2Bench(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const hosts = await startSshHosts({ count: MACHINES, samePort: true });
  try {
    console.log(
      `\n## EC2 on the fake: ${SERVICES} services in one level, boot delay ${BOOT_DELAY_MS / 1000} s, ${MACHINES} sshd machines, ${CALLS_PER_SECOND} calls/s allowed\n`,
    );
    console.log(
      '| variant | ok | wall | over boot delay | RunInstances | DescribeInstances | other calls | throttled answers | instances | duplicate tokens | peak RSS |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const [name, every] of [
      ['no faults', 0],
      ['every 5th call throttled (20 %)', 5],
    ] as const) {
      const s = await runVariant(name, hosts, every);
      const { RunInstances = 0, DescribeInstances = 0, ...rest } = s.calls;
      const other = Object.entries(rest)
        .map(([action, n]) => `${action} ${n}`)
        .join(', ');
      console.log(
        `| ${s.name} | ${s.ok ? 'yes' : 'NO'} | ${(s.wallMs / 1000).toFixed(2)} s | ${((s.wallMs - BOOT_DELAY_MS) / 1000).toFixed(2)} s | ${RunInstances} | ${DescribeInstances} | ${other || '-'} | ${s.throttled} | ${s.instances} | ${s.duplicates} | ${s.peakRssMb.toFixed(0)} MB |`,
      );
    }
  } finally {
    await hosts.stop();
  }
}
