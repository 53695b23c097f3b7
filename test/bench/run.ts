/**
 * `pnpm bench`: boots generated plans and reports, per scenario, the median
 * over several runs of wall time, the critical path and the orchestration
 * overhead between them, the CPU time cloudboot's own process spent (less
 * sensitive than wall time to other work on the machine), plus SSH
 * handshakes. The critical path is what the
 * programs themselves need: levels × programs per service × the median time
 * of one program run alone on that kind of machine (calibrated each run).
 * The critical path as measured inside the run (per level the slowest
 * service's program time, summed) is shown too: it is inflated by
 * programs competing for the CPU, so it understates the overhead. Local scenarios need nothing;
 * the SSH scenario starts real sshd processes on loopback addresses.
 *
 *   pnpm bench [--runs N] [--only NAME]   (N runs per scenario, default 5, and per cloud variant, default 3)
 *   pnpm bench clouds       (only the cloud benchmark, see cloud-bench.ts)
 *   pnpm bench --only ec2|gce|openstack   (the cloud benchmark on one fake)
 *
 * Without arguments the cloud benchmark runs last, after the local scenarios.
 * `pnpm bench` builds the packages first and runs their build (what users
 * run), not their sources through a TypeScript loader. Every run of a
 * scenario boots in a fresh Node process of its own, as every `cloudboot`
 * command does: its peak RSS is that one boot's (and, for the SSH scenario,
 * the shutdown after it), not a figure inherited from earlier runs whose
 * allocations sized the heap.
 *
 * Local runs leave their files (working directories, database, logs) until
 * the bench ends, under one temporary directory removed last. On ext4
 * without a journal, a common root filesystem of virtual machines, the
 * kernel will not reuse an inode within 60 s of its deletion (300 s while
 * its inode table block is unwritten), and passes over each such inode one
 * by one when it allocates a new one: a run that followed the removal of
 * the last run's thousands of files would pay for them, and each run more
 * than the one before.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CloudBoot, type CloudBootEvent } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { median, SCENARIOS, type Scenario } from './scenarios.js';

interface Sample {
  readonly wallMs: number;
  /** CPU time of this process (main thread and thread pool) during the boot. */
  readonly cpuMs: number;
  /** Critical path as measured inside the run (programs slowed by each other). */
  readonly criticalMs: number;
  /** Critical path from the calibrated time of one program run alone. */
  readonly aloneMs: number;
  /** The same programs started by a plain shell loop (local scenarios). */
  readonly floorMs: number | undefined;
  readonly handshakes: number;
  /** SSH channels opened by the boot. */
  readonly channels: number;
  /** SSH requests of the boot that waited for an answer. */
  readonly roundTrips: number;
  /** Peak resident memory of the process that ran the boot and its shutdown, in bytes. */
  readonly peakRss: number;
}

/**
 * Critical path: for each level, the largest per-service sum of program
 * times; summed. Folded as the events arrive: the bench keeps no event, so
 * that its own memory does not count in the peak RSS it reports.
 */
class CriticalPath {
  readonly #perService = new Map<string, { level: number; ms: number }>();

  /** Counts one event (only program events matter). */
  add(e: CloudBootEvent): void {
    if (e.type !== 'program') return;
    const entry = this.#perService.get(e.service) ?? { level: e.level, ms: 0 };
    entry.ms += e.durationMs;
    this.#perService.set(e.service, entry);
  }

  /** The critical path of what was added. */
  get ms(): number {
    const perLevel = new Map<number, number>();
    for (const { level, ms } of this.#perService.values())
      perLevel.set(level, Math.max(perLevel.get(level) ?? 0, ms));
    return [...perLevel.values()].reduce((a, b) => a + b, 0);
  }
}

async function runOnce(scenario: Scenario, index: number, root: string): Promise<Sample> {
  const setup = await scenario.setup(index, root);
  try {
    const boot = new CloudBoot({
      dbDir: setup.dbDir,
      planFile: setup.planFile,
      runName: `bench-${index}`,
      drivers: { 'static-ip': createDriver },
      ...(scenario.concurrency !== undefined && { concurrency: scenario.concurrency }),
    });
    const critical = new CriticalPath();
    const off = boot.on((e) => critical.add(e));
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const result = await boot.run();
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    off();
    if (!result.ok)
      throw new Error(`bench run failed: ${result.failures.map((f) => f.message).join('; ')}`);
    if (setup.shutDown) await boot.shutdown({ dashNine: true });
    boot.close();
    const aloneMs = (await setup.calibrate()) * scenario.levels * scenario.programsPerService;
    const floorMs = await setup.floor?.();
    return {
      wallMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      criticalMs: critical.ms,
      aloneMs,
      floorMs,
      handshakes: result.sshHandshakes,
      channels: result.sshChannels,
      roundTrips: result.sshRoundTrips,
      peakRss: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    await setup.cleanup();
  }
}

/**
 * The cloud benchmark's module loads the three cloud SDKs (about 90 MB
 * resident): imported only when it runs, so that a local scenario's peak
 * RSS is cloudboot's and not the SDKs'.
 */
const loadCloudBench = () => import('./cloud-bench.js');

/** Runs of a local or SSH scenario, after a warm-up, unless `--runs` says otherwise. */
const SCENARIO_RUNS = 5;
/** Runs of a cloud variant unless `--runs` says otherwise (each boots 300 instances). */
const CLOUD_RUNS = 3;

const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

/**
 * Runs run `index` of `scenario` in a fresh process (same loader flags),
 * its files below `root`, and returns its sample.
 */
function runInChild(scenario: Scenario, index: number, root: string): Promise<Sample> {
  const script = fileURLToPath(import.meta.url);
  const args = [
    ...process.execArgv,
    script,
    '--child-run',
    String(index),
    '--only',
    scenario.name,
    '--root',
    root,
  ];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${scenario.name}, run ${index}: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout) as Sample);
    });
  });
}

/** The child's side of {@link runInChild}. */
async function childRun(name: string | undefined, index: number, root: string): Promise<void> {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (scenario === undefined) throw new Error(`no scenario named "${name}"`);
  process.stdout.write(JSON.stringify(await runOnce(scenario, index, root)));
}

/** Median peak RSS of the runs, with the lowest and highest. */
function rssRange(samples: readonly Sample[]): string {
  const mb = samples.map((s) => Math.round(s.peakRss / 2 ** 20));
  return `${Math.round(median(mb))} MB (${Math.min(...mb)}–${Math.max(...mb)})`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      /** Runs per scenario (default 5) or cloud variant (default 3). */
      runs: { type: 'string' },
      only: { type: 'string' },
      /** Internal: run only run N of the scenario `--only` names and print its sample as JSON. */
      'child-run': { type: 'string' },
      /** Internal: the directory a child run puts its files in. */
      root: { type: 'string' },
    },
    allowPositionals: true,
  });
  const only = values.only ?? positionals[0];
  const child = values['child-run'];
  if (child !== undefined) return childRun(only, Number(child), values.root ?? tmpdir());
  if (only !== undefined && !SCENARIOS.some((s) => s.name === only)) {
    const { CLOUDS, runCloudBench } = await loadCloudBench();
    const cloudRuns = Number(values.runs ?? CLOUD_RUNS);
    if (only === 'clouds') return runCloudBench(CLOUDS, cloudRuns);
    const cloud = CLOUDS.find((c) => c === only);
    if (cloud === undefined) throw new Error(`no benchmark named "${only}"`);
    return runCloudBench([cloud], cloudRuns);
  }
  const runs = Number(values.runs ?? SCENARIO_RUNS);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`# cloudboot benchmark\n`);
  console.log(
    `machine: ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
  );
  console.log(
    `runs per scenario: ${runs} (median reported; first run is a discarded warm-up); each run in a fresh process; local runs keep their files until the bench ends (a journal-less ext4 passes over each inode freed in the last minute when it allocates one)\n`,
  );
  console.log(
    '| scenario | services | wall | critical path (programs alone) | overhead | per service | in-run critical path | shell-loop floor | cloudboot CPU | ssh handshakes | ssh channels | ssh round trips per service | peak RSS of one run |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const chosen = SCENARIOS.filter((s) => (only === undefined ? !s.onRequest : s.name === only));
  const root = mkdtempSync(join(tmpdir(), 'cloudboot-bench-'));
  try {
    for (const scenario of chosen) await runScenario(scenario, runs, root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (only === undefined) {
    const { CLOUDS, runCloudBench } = await loadCloudBench();
    await runCloudBench(CLOUDS, Number(values.runs ?? CLOUD_RUNS));
  }
}

/** Runs `scenario` (a warm-up, then `runs` runs) and prints its table row. */
async function runScenario(scenario: Scenario, runs: number, root: string): Promise<void> {
  await runInChild(scenario, 0, root);
  const samples: Sample[] = [];
  for (let i = 1; i <= runs; i++) samples.push(await runInChild(scenario, i, root));
  const wall = median(samples.map((s) => s.wallMs));
  const alone = median(samples.map((s) => s.aloneMs));
  const overhead = median(samples.map((s) => s.wallMs - s.aloneMs));
  const measured = median(samples.map((s) => s.criticalMs));
  const floors = samples.flatMap((s) => (s.floorMs === undefined ? [] : [s.floorMs]));
  const floor = floors.length > 0 ? fmt(median(floors)) : 'n/a';
  console.log(
    `| ${scenario.name} | ${scenario.services} | ${fmt(wall)} | ${fmt(alone)} | ${fmt(overhead)} | ${(overhead / scenario.services).toFixed(2)} ms | ${fmt(measured)} | ${floor} | ${fmt(median(samples.map((s) => s.cpuMs)))} | ${median(samples.map((s) => s.handshakes))} | ${median(samples.map((s) => s.channels))} | ${(median(samples.map((s) => s.roundTrips)) / scenario.services).toFixed(1)} | ${rssRange(samples)} |`,
  );
}

await main();
