/**
 * Kill-and-resume trials on the fake EC2: each trial boots a 20-service EC2
 * plan through the real CLI in a child process while the cloud throttles
 * calls and loses answers, SIGKILLs it at a random moment, then runs
 * `resume` and `terminate`. Afterwards every instance the cloud ever made is
 * terminated, every one is in the run's history, and no launch token made
 * more than one instance.
 *
 * CLOUDBOOT_TRIALS sets the number of trials (default 30), CLOUDBOOT_SEED
 * the first seed (default: the clock); the seeds are printed, and a failure
 * names its seed, so `CLOUDBOOT_SEED=S CLOUDBOOT_TRIALS=1` repeats it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { RunStore } from '@cloudboot/core';
import { runCli } from 'cloudboot';
import { describe, expect, it } from 'vitest';
import { type FakeEc2Cloud, startEc2Cloud } from '../fakes/ec2-cloud.js';
import { type PlanDir, writePlan } from '../support/plan-files.js';
import { prng } from '../support/prng.js';
import { ec2Env, ec2Profile } from './ec2-plans.js';

const TRIALS = Number(process.env.CLOUDBOOT_TRIALS ?? 30);
const FIRST_SEED = Number(process.env.CLOUDBOOT_SEED ?? Date.now() % 1_000_000);
const SEEDS = Array.from({ length: TRIALS }, (_, i) => FIRST_SEED + i);
/** Trials at once: most of a trial is waiting (for the child to start, the cloud, the kill). */
const CONCURRENCY = 8;
const ROOT = new URL('../..', import.meta.url).pathname;
const MAIN = 'packages/cli/src/main.ts';

console.log(`ec2 kill-and-resume: ${TRIALS} trials, seeds ${SEEDS[0]}..${SEEDS.at(-1)}`);

function trialPlan(cloud: FakeEc2Cloud): PlanDir {
  return writePlan({
    'top.conf': `[defaults]\ncloud: fake\nimage: ami-0c10dbo0700000001\nallocation: t3.micro\nlocal_exe: true\nworkdir: \${WORKDIR}\nbootpgm: boot.sh\nreadypgm: ready.sh\n${ec2Profile(cloud)}[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n`,
    'l1.conf': '[svc-a]\nreplica_count: 10\nbootpgm_args: ${.service}\n',
    'l2.conf': '[svc-b]\nreplica_count: 10\nbootpgm_args: from-${a-3.made}\n',
    'boot.sh': '#!/bin/sh\necho "{\\"made\\": \\"$1\\"}" > bootout.json\n',
    'ready.sh': '#!/bin/sh\n[ -s bootout.json ]\n',
  });
}

async function cli(plan: PlanDir, cloud: FakeEc2Cloud, argv: string[]) {
  let out = '';
  const code = await runCli([...argv, '-d', plan.dbDir], {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (out += t) },
    env: ec2Env(cloud),
    cwd: plan.root,
  });
  return { code, out };
}

/**
 * SIGKILLs the boot at a random moment: mostly while it works (a random time
 * after its first RunInstances call), sometimes while it starts up. Returns
 * what the run's record said at that moment.
 */
async function killSomewhere(
  child: ChildProcess,
  plan: PlanDir,
  cloud: FakeEc2Cloud,
  random: () => number,
): Promise<string> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const dbFile = `${plan.dbDir}/cloudboot-trial.db`;
  const early = random() < 0.1;
  const delay = Math.floor(random() * (early ? 1500 : 2500));
  const started = Date.now();
  const launching = () => (cloud.callCounts().RunInstances ?? 0) > 0;
  // Starting the CLI takes seconds when many trials start at once on a busy machine.
  while (!early && !launching() && child.exitCode === null && Date.now() - started < 120_000) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.race([new Promise((r) => setTimeout(r, delay)), exited]);
  if (child.exitCode !== null && child.exitCode !== 0) {
    throw new Error(`the boot failed by itself (exit ${child.exitCode}): ${stderr}`);
  }
  const finished = child.exitCode === 0;
  child.kill('SIGKILL');
  await exited;
  if (finished) return `the boot finished within ${delay} ms of its first launch, before the kill`;
  if (!existsSync(dbFile)) return `killed ${delay} ms after start, before the run was recorded`;
  const store = RunStore.open(plan.dbDir, 'trial');
  try {
    const counts = new Map<string, number>();
    for (const s of store.services()) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
    const states = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
    return `killed ${delay} ms ${early ? 'after start' : 'after the first launch'}: ${states}`;
  } finally {
    store.close();
  }
}

/** One trial; throws (an assertion error) when an instance was lost, doubled or left running. */
async function trial(seed: number): Promise<void> {
  const random = prng(seed);
  const cloud = await startEc2Cloud({
    addresses: ['127.0.0.1'],
    bootDelayMs: 50 + Math.floor(random() * 300),
    random,
    faults: { throttleEvery: 7, loseAnswerRate: 0.2 },
  });
  const plan = trialPlan(cloud);
  try {
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        MAIN,
        'boot',
        plan.path('top.conf'),
        '-n',
        'trial',
        '-d',
        plan.dbDir,
        '-q',
      ],
      { cwd: ROOT, env: ec2Env(cloud), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const moment = await killSomewhere(child, plan, cloud, random);
    console.log(`seed ${seed}: ${moment}`);
    if (!existsSync(`${plan.dbDir}/cloudboot-trial.db`)) {
      // Killed before the run was recorded: nothing may have been launched.
      expect(cloud.instances()).toEqual([]);
      return;
    }
    const resumed = await cli(plan, cloud, ['resume', 'trial', '-q']);
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toMatch(/: 20 of 20 services ready\n$/);
    const down = await cli(plan, cloud, ['terminate', 'trial', '-q']);
    expect(down.code, down.out).toBe(0);

    const instances = cloud.instances();
    expect(instances).toHaveLength(20);
    expect(
      instances.filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down'),
    ).toEqual([]);
    const tokens = instances.map((i) => i.token);
    expect(new Set(tokens).size).toBe(tokens.length);
    const store = RunStore.open(plan.dbDir, 'trial');
    try {
      const recorded = new Set(store.instances().map((r) => r.token));
      for (const token of tokens) expect(recorded).toContain(token);
    } finally {
      store.close();
    }
  } finally {
    await cloud.close();
    plan.remove();
  }
}

describe('EC2 kill-and-resume trials', () => {
  it(`${TRIALS} trials: no instance lost, none doubled, all terminated`, {
    timeout: 900_000,
  }, async () => {
    const failures: string[] = [];
    const queue = [...SEEDS];
    const worker = async () => {
      for (let seed = queue.shift(); seed !== undefined; seed = queue.shift()) {
        await trial(seed).catch((error: Error) => failures.push(`seed ${seed}: ${error.message}`));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures).toEqual([]);
  });
});
