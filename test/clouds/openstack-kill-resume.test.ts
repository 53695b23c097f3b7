/**
 * Kill-and-resume trials on the fake OpenStack cloud: each trial boots a
 * 20-service plan through the real CLI in a child process, with lost
 * answers and throttling on, SIGKILLs it at a random moment (seeded), then
 * resumes and terminates the run. Afterwards every server that ever existed
 * is deleted, and no launch token made more than one server.
 *
 * CLOUDBOOT_TRIALS sets the number of trials (default 30); CLOUDBOOT_SEED
 * the first seed (default: the clock). Both are printed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type FakeOpenstackCloud,
  fakePlanDefaults,
  startOpenstackCloud,
} from '../fakes/openstack-cloud.js';
import { cli } from '../ssh/boot-plans.js';
import { type PlanDir, writePlan } from '../support/plan-files.js';
import { prng } from '../support/prng.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TRIALS = Number(process.env.CLOUDBOOT_TRIALS ?? 30);
const FIRST_SEED = Number(process.env.CLOUDBOOT_SEED ?? Date.now() % 1_000_000);
const CONCURRENT = 4;
/** Kills land between the run's database appearing and past a typical whole boot. */
const LATEST_KILL_MS = 2_000;

let cloud: FakeOpenstackCloud;
const plans: PlanDir[] = [];

beforeAll(async () => {
  cloud = await startOpenstackCloud({ bootDelayMs: 100, seed: FIRST_SEED });
  cloud.faults.loseAnswerProbability = 0.2;
  cloud.faults.throttleEvery = 9;
  // Retry at once: the trials are about killing and resuming, and cloudboot
  // honours Retry-After, so Nova's usual second would only make them longer.
  cloud.faults.retryAfterSeconds = 0;
});
afterAll(async () => {
  await cloud?.close();
  for (const p of plans) p.remove();
});

function trialPlan(): PlanDir {
  const plan = writePlan({
    'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\n${fakePlanDefaults(cloud)}[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n`,
    'l1.conf': '[svc-store]\nreplica_count: 10\nbootpgm: boot.sh\n',
    'l2.conf': '[svc-app]\nreplica_count: 10\nbootpgm: boot.sh\n',
    'boot.sh': '#!/bin/sh\necho "{\\"pid\\": \\"$$\\"}" > bootout.json\n',
  });
  plans.push(plan);
  return plan;
}

/** Starts `cloudboot boot` as a child and SIGKILLs it `killAfterMs` after its run's database appears. */
async function bootAndKill(plan: PlanDir, run: string, killAfterMs: number): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      'packages/cli/src/main.ts',
      'boot',
      plan.path('top.conf'),
      '-n',
      run,
      '-d',
      plan.dbDir,
      '-q',
    ],
    { cwd: ROOT, stdio: 'ignore', env: { ...process.env, NO_COLOR: '1' } },
  );
  let ended: string | undefined;
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = signal ?? `exit ${code}`;
      resolve(ended);
    }),
  );
  // Node and tsx take a while to start on a busy machine: count from the run's start.
  const database = `${plan.dbDir}/cloudboot-${run}.db`;
  while (ended === undefined && !existsSync(database)) await sleep(10);
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const how = await exited;
  clearTimeout(timer);
  return how;
}

interface TrialResult {
  readonly seed: number;
  readonly killAfterMs: number;
  readonly ended: string;
  readonly resumed: number | 'no run';
}

async function trial(index: number): Promise<TrialResult> {
  const seed = FIRST_SEED + index;
  const killAfterMs = Math.floor(prng(seed)() * LATEST_KILL_MS);
  const plan = trialPlan();
  const run = `kr-${seed}`;
  const ended = await bootAndKill(plan, run, killAfterMs);
  const args = (command: string) => [command, run, '-d', plan.dbDir, '-q'];
  let resumed: TrialResult['resumed'] = 'no run';
  if (existsSync(`${plan.dbDir}/cloudboot-${run}.db`)) {
    const resume = await cli(args('resume'), plan.root);
    resumed = resume.code;
    expect(resume.code, `seed ${seed}: resume: ${resume.stdout}${resume.stderr}`).toBe(0);
    const down = await cli(args('terminate'), plan.root);
    expect(down.code, `seed ${seed}: terminate: ${down.stdout}${down.stderr}`).toBe(0);
  }
  const servers = cloud.instances().filter((i) => i.metadata['cloudboot-run'] === run);
  expect(
    servers.filter((s) => s.state !== 'DELETED').map((s) => s.name),
    `seed ${seed}: servers left`,
  ).toEqual([]);
  if (resumed === 'no run') expect(servers, `seed ${seed}: servers without a run`).toEqual([]);
  else expect(new Set(servers.map((s) => s.metadata['cloudboot-service'])).size).toBe(20);
  return { seed, killAfterMs, ended, resumed };
}

it(`${TRIALS} boots killed at random moments are resumed and terminated without a leak or a duplicate`, async () => {
  console.log(
    `openstack kill-resume: ${TRIALS} trials, seeds ${FIRST_SEED}..${FIRST_SEED + TRIALS - 1} (CLOUDBOOT_SEED=${FIRST_SEED})`,
  );
  const results: TrialResult[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENT, TRIALS) }, async () => {
      while (next < TRIALS) {
        const index = next++;
        results.push(await trial(index));
      }
    }),
  );
  expect(results).toHaveLength(TRIALS);
  const all = cloud.instances();
  expect(all.filter((s) => s.state !== 'DELETED')).toEqual([]);
  const byToken = new Map<string, number>();
  for (const s of all) byToken.set(s.token ?? '', (byToken.get(s.token ?? '') ?? 0) + 1);
  expect([...byToken].filter(([, n]) => n > 1)).toEqual([]);
  const calls = cloud.callCounts();
  const killedMidway = results.filter((r) => r.ended === 'SIGKILL' && r.resumed !== 'no run');
  console.log(
    `openstack kill-resume: ${all.length} servers, ${killedMidway.length} runs killed mid-boot, ${results.length - killedMidway.length} before the run existed or after it ended; creates ${calls['nova POST /servers']}, lists ${calls['nova GET /servers/detail']}, throttled every 9th call, lost answers p=0.2`,
  );
}, 300_000);
