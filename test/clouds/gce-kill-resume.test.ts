/**
 * Kill-and-resume trials on the gce driver: the real CLI, as a child
 * process, boots a 20-service plan on the fake Compute Engine while answers
 * to inserts get lost and calls get throttled, is SIGKILLed at a random
 * moment (seeded), then `resume` and `terminate` run (in this process: the
 * client library loads once, not in every command). Afterwards no instance
 * of the run is left alive and no launch token made more than one instance.
 *
 * The services run no programs: only the cloud part is under test, and a
 * killed CLI leaves no program output directory behind.
 *
 * CLOUDBOOT_TRIALS sets the number of trials (default 30); the seed of each
 * trial is printed so a failure can be replayed with CLOUDBOOT_TRIAL_SEED.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runCli } from 'cloudboot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGceCloud, startGceCloud } from '../fakes/gce-cloud.js';
import { type PlanDir, writePlan } from '../support/plan-files.js';
import { prng } from '../support/prng.js';

const TRIALS = Number(process.env.CLOUDBOOT_TRIALS ?? 30);
const CONCURRENCY = 4;
const FIRST_SEED = Number(process.env.CLOUDBOOT_TRIAL_SEED ?? 20_261_130);
const ROOT = new URL('../../', import.meta.url).pathname;
const MAIN = new URL('../../packages/cli/src/main.ts', import.meta.url).pathname;
const TOKEN = 'trial-token';

let fake: FakeGceCloud;
const children = new Set<ChildProcess>();
const plans: PlanDir[] = [];

beforeAll(async () => {
  fake = await startGceCloud({ bootDelayMs: 100, terminatedVisibleMs: 50, seed: FIRST_SEED });
  fake.faults.throttleEvery = 13;
  fake.faults.loseAnswerProbability = 0.15;
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const p of plans) p.remove();
  await fake?.close();
});

function plan(): PlanDir {
  const dir = writePlan({
    'top.conf': [
      '[runlevels]',
      'level1: l1.conf',
      'level2: l2.conf',
      '[defaults]',
      'local_exe: true',
      'workdir: ${WORKDIR}',
      'driver: gce',
      'iaas: us-central1-a',
      `iaas_url: ${fake.url}`,
      'gce_project: trial-project',
      'gce_access_token: env.GCE_TRIAL_TOKEN',
      'image: projects/debian-cloud/global/images/family/debian-12',
      'allocation: e2-small',
      '',
    ].join('\n'),
    'l1.conf': '[svc-db]\nreplica_count: 5\n',
    'l2.conf': '[svc-web]\nreplica_count: 15\n',
  });
  plans.push(dir);
  return dir;
}

/** Runs the CLI in this process (resume and terminate: nothing kills them). */
async function inProcess(dir: PlanDir, argv: readonly string[]) {
  let stderr = '';
  const code = await runCli([...argv, '-d', dir.dbDir], {
    stdout: { write: (s: string) => (stderr += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { GCE_TRIAL_TOKEN: TOKEN, NO_COLOR: '1' },
    cwd: dir.root,
  });
  return { code, stderr };
}

/** Runs the CLI as a child process, killed when `killWhen` resolves; resolves with its exit code (null when killed). */
function child(
  dir: PlanDir,
  argv: readonly string[],
  killWhen: () => Promise<void>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', MAIN, ...argv, '-d', dir.dbDir, '-q'],
      {
        cwd: ROOT,
        env: { ...process.env, GCE_TRIAL_TOKEN: TOKEN, NO_COLOR: '1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    children.add(child);
    let stderr = '';
    let exited = false;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    void killWhen().then(() => {
      if (!exited) child.kill('SIGKILL');
    });
    child.on('exit', (code) => {
      exited = true;
      children.delete(child);
      resolve({ code, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `condition` holds (checked every 20 ms), or after 60 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!condition() && Date.now() < deadline) await sleep(20);
}

interface TrialResult {
  readonly seed: number;
  /** When the boot was killed, e.g. `db+1200ms` or `7 instances+80ms`. */
  readonly moment: string;
  readonly problems: string[];
}

async function trial(index: number): Promise<TrialResult> {
  const seed = FIRST_SEED + index;
  const random = prng(seed);
  const run = `trial-${index}`;
  const dir = plan();
  const database = `${dir.dbDir}/cloudboot-${run}.db`;
  const count = () => fake.instances().filter((i) => i.labels['cloudboot-run'] === run).length;
  // Half the trials die some time after the run is recorded (while the client
  // library loads, or launches start), half once n of the 20 inserts arrived.
  const afterDb = random() < 0.5;
  const instances = 1 + Math.floor(random() * 20);
  const extraMs = Math.round(random() * (afterDb ? 4_000 : 300));
  const moment = afterDb ? `db+${extraMs}ms` : `${instances} instances+${extraMs}ms`;
  const problems: string[] = [];
  const boot = await child(dir, ['boot', dir.path('top.conf'), '-n', run], async () => {
    await until(() => (afterDb ? existsSync(database) : count() >= instances));
    await sleep(extraMs);
  });
  const started = existsSync(database);
  if (boot.code !== null && boot.code !== 0) {
    problems.push(`boot exited ${boot.code}: ${boot.stderr.trim()}`);
  }
  if (started) {
    if (boot.code === null) {
      const resume = await inProcess(dir, ['resume', run]);
      if (resume.code !== 0) problems.push(`resume exited ${resume.code}: ${resume.stderr.trim()}`);
    }
    const terminate = await inProcess(dir, ['terminate', run]);
    if (terminate.code !== 0) {
      problems.push(`terminate exited ${terminate.code}: ${terminate.stderr.trim()}`);
    }
  }
  const mine = fake.instances().filter((i) => i.labels['cloudboot-run'] === run);
  for (const i of mine) {
    if (i.state !== 'STOPPING' && i.state !== 'DELETED') {
      problems.push(`instance ${i.name} is still ${i.state}`);
    }
  }
  const byToken = new Map<string, number>();
  for (const i of mine) byToken.set(i.token, (byToken.get(i.token) ?? 0) + 1);
  for (const [token, n] of byToken) {
    if (n > 1) problems.push(`token ${token} made ${n} instances`);
  }
  if (!started && mine.length > 0) problems.push('instances exist for a run that never started');
  return { seed, moment, problems };
}

describe('killing the CLI during a gce boot, then resume and terminate', () => {
  it(`leaves no instance alive and no token with two instances (${TRIALS} trials)`, async () => {
    const results: TrialResult[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, TRIALS) }, async () => {
        while (next < TRIALS) {
          const index = next++;
          results.push(await trial(index));
        }
      }),
    );
    results.sort((a, b) => a.seed - b.seed);
    console.log(
      `gce kill-and-resume: ${TRIALS} trials, seeds ${FIRST_SEED}..${FIRST_SEED + TRIALS - 1}, kill moments ${results.map((r) => r.moment).join(', ')}; fake calls ${JSON.stringify(fake.callCounts())}`,
    );
    expect(results.filter((r) => r.problems.length > 0)).toEqual([]);
    expect(fake.callCounts().lostAnswers ?? 0).toBeGreaterThan(0);
    expect(fake.callCounts().throttled ?? 0).toBeGreaterThan(0);
  }, 600_000);
});
