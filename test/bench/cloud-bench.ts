/**
 * The cloud benchmark: the same level of 300 services booted on each fake
 * cloud (EC2, GCE, OpenStack), with and without throttling. Every fake has a
 * boot delay of 2 s and hands its instances the addresses of the same 30
 * sshd machines (10 instances each); the boot and ready programs are trivial
 * and run over SSH. The plans differ only in their cloud profile section.
 *
 * Per cloud and variant (no faults; every 5th call throttled, 20 %; the
 * cloud's own limit of 50 calls/s, a token bucket, below the 200 calls/s the
 * plan allows, so that cloudboot's pace has to find it), booted several
 * times, it reports, of the run with the median wall time, the wall time of
 * the boot (with the lowest and highest of all runs) and that time minus the
 * boot delay,
 * polling rounds (the driver's `describe` calls, counted by a wrapping
 * driver; a throttled round that is retried counts again), the fake's status
 * calls per round (one per account and region/zone, whatever the number of
 * instances; the fake OpenStack counts only answered calls by method, so its
 * rounds are the answered ones), create calls (300 answered; the fake EC2
 * and GCE count throttled attempts too), the other calls, throttled answers,
 * instances, launch tokens that made more than one instance, and the boot
 * process's peak RSS.
 *
 * Each fake runs in a process of its own (`test/fakes/serve-*.ts`), and each
 * boot in a fresh worker process (this file with `--worker`), so neither the
 * fake's nor an earlier boot's memory counts in the peak RSS. Calls are read
 * from the fake's `GET /_fake/state` right after the boot, before shutdown.
 *
 *   pnpm bench clouds [--runs N]                    (all three; N runs per variant, default 3)
 *   pnpm bench --only ec2|gce|openstack [--runs N]  (one)
 *
 * `pnpm bench` without arguments runs these last, after the local scenarios.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CloudBoot, type Driver, type DriverFactory } from '@cloudboot/core';
import { createDriver as createEc2Driver } from '@cloudboot/driver-ec2';
import { createDriver as createGceDriver } from '@cloudboot/driver-gce';
import { createDriver as createOpenstackDriver } from '@cloudboot/driver-openstack';
import type { RateLimit } from '../fakes/token-bucket.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';

const SERVICES = 300;
const MACHINES = 30;
const BOOT_DELAY_MS = 2000;
/** The account's call rate for the run, the same for every cloud. */
const CALLS_PER_SECOND = 200;
/**
 * The cloud's own limit in the third variant, below {@link CALLS_PER_SECOND}:
 * a plan whose `api_calls_per_second` is higher than what the account gets.
 */
const ACCOUNT_LIMIT: RateLimit = { perSecond: 50, burst: 50 };
const ROOT = new URL('../..', import.meta.url).pathname;
const SELF = fileURLToPath(import.meta.url);
/** Without `--conditions=source`: the packages resolve to their build, what users run. */
const NODE_ARGS = ['--import', 'tsx'];

/** The clouds this benchmark knows. */
export const CLOUDS = ['ec2', 'gce', 'openstack'] as const;
/** One of {@link CLOUDS}. */
export type CloudName = (typeof CLOUDS)[number];

/** What a serve script prints: at least the URL for `iaas_url`. */
type FakeInfo = Readonly<Record<string, string>>;

interface CloudSpec {
  readonly factory: DriverFactory;
  /** The fake's serve script and its arguments. */
  serve(addresses: readonly string[], faults: VariantFaults): readonly string[];
  /** The plan's cloud profile section (after `[cloud-bench]`) and the environment it reads. */
  profile(fake: FakeInfo): { lines: readonly string[]; env: Record<string, string> };
  /** Where the fake answers `GET /_fake/state`. */
  stateUrl(fake: FakeInfo): string;
  /** The fake's name of the create and the batched status call. */
  readonly create: string;
  readonly status: string;
  /** Calls the fake counts under `status` too that are no status round (lookups of one name). */
  readonly statusLookups?: string;
  /** Whether the fake counts throttled calls under their method (else only as throttled). */
  readonly countsThrottled: boolean;
}

/** How a variant makes the fake throttle: every Nth call (0: never), or calls over a token bucket. */
interface VariantFaults {
  readonly throttleEvery: number;
  readonly rateLimit?: RateLimit;
}

/** The command line of a fake cloud's server script, serving `addresses`, throttling as `faults` say. */
function fakeServer(script: string): CloudSpec['serve'] {
  return (addresses, faults) => [
    script,
    '--addresses',
    addresses.join(','),
    '--boot-delay-ms',
    String(BOOT_DELAY_MS),
    '--throttle-every',
    String(faults.throttleEvery),
    ...(faults.rateLimit === undefined
      ? []
      : ['--rate-limit', `${faults.rateLimit.perSecond}/${faults.rateLimit.burst}`]),
  ];
}

const SPECS: Readonly<Record<CloudName, CloudSpec>> = {
  ec2: {
    factory: createEc2Driver,
    serve: fakeServer('test/fakes/serve-ec2.ts'),
    profile: (fake) => ({
      lines: [
        'driver: ec2',
        'iaas: us-east-1',
        `iaas_url: ${fake.url}`,
        'iaas_key: env.BENCH_CLOUD_KEY',
        'iaas_secret: env.BENCH_CLOUD_SECRET',
        'image: ami-0c10dbo0700000001',
        'allocation: t3.micro',
      ],
      env: {
        BENCH_CLOUD_KEY: fake.accessKeyId ?? '',
        BENCH_CLOUD_SECRET: fake.secretAccessKey ?? '',
      },
    }),
    stateUrl: (fake) => new URL('/_fake/state', fake.url).href,
    create: 'RunInstances',
    status: 'DescribeInstances',
    countsThrottled: true,
  },
  gce: {
    factory: createGceDriver,
    serve: fakeServer('test/fakes/serve-gce.ts'),
    profile: (fake) => ({
      lines: [
        'driver: gce',
        'iaas: us-central1-a',
        `iaas_url: ${fake.url}`,
        'gce_project: bench-project',
        'gce_access_token: env.BENCH_CLOUD_SECRET',
        'image: projects/debian-cloud/global/images/family/debian-12',
        'allocation: e2-small',
      ],
      env: { BENCH_CLOUD_SECRET: 'bench-access-token' },
    }),
    stateUrl: (fake) => new URL('/_fake/state', fake.url).href,
    create: 'instances.insert',
    status: 'instances.list',
    countsThrottled: true,
  },
  openstack: {
    factory: createOpenstackDriver,
    serve: (addresses, faults) => [
      'test/fakes/serve-openstack.ts',
      JSON.stringify({ addresses, bootDelayMs: BOOT_DELAY_MS, faults }),
    ],
    profile: (fake) => ({
      lines: [
        'driver: openstack',
        'iaas: RegionOne',
        `iaas_url: ${fake.url}`,
        'iaas_key: env.BENCH_CLOUD_KEY',
        'iaas_secret: env.BENCH_CLOUD_SECRET',
        'os_project_name: demo',
        'image: cirros',
        'allocation: m1.tiny',
      ],
      // The fake's default user.
      env: { BENCH_CLOUD_KEY: 'demo', BENCH_CLOUD_SECRET: 'secret' },
    }),
    stateUrl: (fake) => new URL('/_fake/state', fake.root).href,
    create: 'nova POST /servers',
    status: 'nova GET /servers/detail',
    statusLookups: 'nova GET /servers/detail (one name)',
    countsThrottled: false,
  },
};

/** What `GET /_fake/state` answers, as far as this benchmark reads it. */
interface FakeState {
  readonly instances: ReadonlyArray<{ readonly token?: string }>;
  readonly calls: Record<string, number>;
  readonly faults: { readonly throttled?: number };
}

/** What a worker reports for one boot. */
interface Sample {
  readonly ok: boolean;
  readonly wallMs: number;
  readonly rounds: number;
  /** Rounds whose `describe` failed (throttled), to be retried. */
  readonly failedRounds: number;
  readonly peakRssMb: number;
  readonly state: FakeState;
}

/** The sshd machines as a worker needs them. */
interface Machines {
  readonly username: string;
  readonly clientKeyPath: string;
  readonly port: number;
}

/** Polling rounds: `describe` calls, and those of them that failed. */
interface Rounds {
  rounds: number;
  failedRounds: number;
}

/** A driver factory whose drivers count their `describe` calls into `counter`. */
function counting(factory: DriverFactory, counter: Rounds): DriverFactory {
  return (settings) => {
    const driver = factory(settings);
    const counted: Driver = {
      name: driver.name,
      capabilities: driver.capabilities,
      launch: (spec, context) => driver.launch(spec, context),
      describe: (ids, context) => {
        counter.rounds += 1;
        return driver.describe(ids, context).catch((error: unknown) => {
          counter.failedRounds += 1;
          throw error;
        });
      },
      terminate: (ids, context) => driver.terminate(ids, context),
      validate: (context) => driver.validate(context),
      ...(driver.findByTags !== undefined && {
        findByTags: (tags, context) => driver.findByTags?.(tags, context) ?? Promise.resolve([]),
      }),
      ...(driver.usePace !== undefined && { usePace: (pace) => driver.usePace?.(pace) }),
    };
    return counted;
  };
}

function writePlan(root: string, remote: string, machines: Machines, profile: readonly string[]) {
  writeFileSync(join(root, 'pgm.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  writeFileSync(join(root, 'level1.conf'), `[svc-vm]\nreplica_count: ${SERVICES}\n`, {
    mode: 0o644,
  });
  const top = join(root, 'top.conf');
  const lines = [
    '[defaults]',
    'cloud: bench',
    'bootpgm: pgm.sh',
    'readypgm: pgm.sh',
    `workdir: ${remote}`,
    `ssh_username: ${machines.username}`,
    `localsshkeypath: ${machines.clientKeyPath}`,
    `ssh_port: ${machines.port}`,
    '[cloud-bench]',
    ...profile,
    '[runlevels]',
    'level1: level1.conf',
    '',
  ];
  writeFileSync(top, lines.join('\n'), { mode: 0o644 });
  return top;
}

/** One boot in this (worker) process; prints its {@link Sample} as one JSON line. */
async function worker(cloud: CloudName, fake: FakeInfo, machines: Machines): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const spec = SPECS[cloud];
  const root = mkdtempSync(join(tmpdir(), `cloudboot-bench-${cloud}-`));
  const remote = `/tmp/cloudboot-bench-${cloud}-${randomBytes(4).toString('hex')}`;
  const counter: Rounds = { rounds: 0, failedRounds: 0 };
  try {
    const profile = spec.profile(fake);
    const boot = new CloudBoot({
      dbDir: join(root, 'db'),
      planFile: writePlan(root, remote, machines, profile.lines),
      runName: `bench-${cloud}`,
      drivers: { [cloud]: counting(spec.factory, counter) },
      concurrency: SERVICES,
      driverPolicy: { callsPerSecond: CALLS_PER_SECOND },
      env: profile.env,
    });
    const started = performance.now();
    const result = await boot.run();
    const wallMs = performance.now() - started;
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    const { rounds, failedRounds } = counter;
    const state = (await (await fetch(spec.stateUrl(fake))).json()) as FakeState;
    await boot.shutdown({ dashNine: true });
    boot.close();
    if (!result.ok) console.error(result.failures.map((f) => f.message).join('\n'));
    const sample: Sample = { ok: result.ok, wallMs, rounds, failedRounds, peakRssMb, state };
    process.stdout.write(`${JSON.stringify(sample)}\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(remote, { recursive: true, force: true });
  }
}

/** Starts `node <args>` in the repository and resolves with its child and its first stdout line. */
async function startNode(args: readonly string[]): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    lines.close();
    return { child, line };
  }
  throw new Error(`node ${args[0]} ended without printing a line`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Boots the level on `cloud` with its fake throttling as `faults` say. */
async function runVariant(
  cloud: CloudName,
  hosts: SshHosts,
  faults: VariantFaults,
): Promise<Sample> {
  const addresses = hosts.hosts.map((h) => h.address);
  const fake = await startNode(SPECS[cloud].serve(addresses, faults));
  try {
    const machines: Machines = {
      username: hosts.username,
      clientKeyPath: hosts.clientKeyPath,
      port: hosts.hosts[0]?.port ?? 22,
    };
    const run = await startNode([SELF, '--worker', cloud, fake.line, JSON.stringify(machines)]);
    if (run.child.exitCode === null && run.child.signalCode === null)
      await new Promise((resolve) => run.child.once('exit', resolve));
    return JSON.parse(run.line) as Sample;
  } finally {
    await stop(fake.child);
  }
}

/**
 * The table row of `samples` (runs of one variant): the run with the median
 * wall time stands for the variant, its wall given with the lowest and
 * highest of all runs; every run must have booted.
 */
function row(cloud: CloudName, variant: string, samples: readonly Sample[]): string {
  const sorted = [...samples].sort((a, b) => a.wallMs - b.wallMs);
  const s = sorted[Math.floor((sorted.length - 1) / 2)];
  if (s === undefined) throw new Error('no run');
  const range =
    sorted.length > 1
      ? ` (${((sorted[0]?.wallMs ?? 0) / 1000).toFixed(2)}–${((sorted.at(-1)?.wallMs ?? 0) / 1000).toFixed(2)})`
      : '';
  const spec = SPECS[cloud];
  const { [spec.create]: creates = 0, [spec.status]: listed = 0, ...rest } = s.state.calls;
  const statuses =
    listed - (spec.statusLookups === undefined ? 0 : (rest[spec.statusLookups] ?? 0));
  const other = Object.entries(rest)
    .map(([call, n]) => `${call} ${n}`)
    .join(', ');
  const tokens = s.state.instances.map((i) => i.token);
  // Rounds the fake counted: all of them, or those it answered.
  const counted = spec.countsThrottled ? s.rounds : s.rounds - s.failedRounds;
  const perRound = counted === 0 ? 'n/a' : (statuses / counted).toFixed(2);
  return [
    `| ${cloud}`,
    variant,
    samples.every((x) => x.ok) ? 'yes' : 'NO',
    `${(s.wallMs / 1000).toFixed(2)} s${range}`,
    `${((s.wallMs - BOOT_DELAY_MS) / 1000).toFixed(2)} s`,
    String(s.rounds),
    `${statuses} (${perRound})`,
    String(creates),
    other || '-',
    String(s.state.faults.throttled ?? 0),
    String(s.state.instances.length),
    String(tokens.length - new Set(tokens).size),
    `${s.peakRssMb.toFixed(0)} MB |`,
  ].join(' | ');
}

const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The machine line printed above the table (as `run.ts` prints it), with the load average. */
function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `machine: ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; load average ${loadAverage()}`;
}

/** The variants each cloud is booted in, by name. */
const VARIANTS: ReadonlyArray<readonly [string, VariantFaults]> = [
  ['no faults', { throttleEvery: 0 }],
  ['every 5th call throttled (20 %)', { throttleEvery: 5 }],
  [
    `account limited to ${ACCOUNT_LIMIT.perSecond} calls/s (bucket of ${ACCOUNT_LIMIT.burst})`,
    { throttleEvery: 0, rateLimit: ACCOUNT_LIMIT },
  ],
];

/**
 * Runs every variant `runs` times on each of `clouds` and prints one
 * Markdown table (per variant the run with the median wall time).
 */
export async function runCloudBench(clouds: readonly CloudName[], runs: number): Promise<void> {
  const hosts = await startSshHosts({ count: MACHINES, samePort: true });
  try {
    console.log(
      `\n## Clouds on their fakes: ${SERVICES} services in one level, boot delay ${BOOT_DELAY_MS / 1000} s, ${MACHINES} sshd machines, ${CALLS_PER_SECOND} calls/s allowed\n`,
    );
    console.log(
      `${machineLine()}; ${runs} ${runs === 1 ? 'run' : 'runs'} per variant, the row is the run with the median wall time (wall: lowest–highest)\n`,
    );
    console.log(
      '| cloud | variant | ok | wall | minus boot delay | polling rounds | status calls (per round) | create calls | other calls | throttled answers | instances | duplicate tokens | peak RSS |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const cloud of clouds) {
      for (const [variant, faults] of VARIANTS) {
        const samples: Sample[] = [];
        for (let i = 0; i < runs; i++) samples.push(await runVariant(cloud, hosts, faults));
        console.log(row(cloud, variant, samples));
      }
    }
    console.log(`\nload average after: ${loadAverage()}`);
  } finally {
    await hosts.stop();
  }
}

if (process.argv[1] === SELF && process.argv[2] === '--worker') {
  const [cloud, fake, machines] = process.argv.slice(3);
  await worker(
    cloud as CloudName,
    JSON.parse(fake ?? '{}') as FakeInfo,
    JSON.parse(machines ?? '{}') as Machines,
  );
}
