/**
 * The status/repair scenario every cloud driver goes through on its fake,
 * over real SSH: boot a two-level plan, let the cloud delete the level-1 VM
 * behind cloudboot's back, and check that `status` names it without running
 * its ready program, that `repair` launches a new VM (new id, new token)
 * and re-checks the level-2 service that references it, that `history`
 * shows the replaced instance, and that `terminate` leaves nothing live.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunStore } from '@cloudboot/core';
import { runCli } from 'cloudboot';
import { expect } from 'vitest';
import type { SshHosts } from '../harness/sshd.js';
import { type Cleanup, PUBLISHING_BOOT, runlevels, sshDefaults } from '../ssh/boot-plans.js';
import type { PlanDir } from '../support/plan-files.js';

/** One instance of a run, as a fake cloud shows it. */
export interface CloudInstance {
  readonly id: string;
  readonly token: string | undefined;
  readonly service: string | undefined;
  /** Not deleted or terminated (or on its way there). */
  readonly live: boolean;
}

/** What the scenario needs of a fake cloud. */
export interface ScenarioCloud {
  /** Lines that end `[defaults]` and make services launch on the fake (profile sections may follow). */
  readonly planKeys: string;
  /** Environment of the CLI (credentials the plan reads with `env.NAME`). */
  readonly env: Readonly<Record<string, string>>;
  /** Every instance the fake made for `run`, in creation order. */
  instances(run: string): CloudInstance[];
  /** Deletes an instance outside cloudboot; resolves once the cloud says it is gone. */
  kill(instanceId: string): Promise<void>;
  /** The cloud's view of a killed instance, as the driver maps it: state and native state. */
  readonly killedAs: { readonly state: string; readonly native: string };
}

async function cli(cloud: ScenarioCloud, plan: PlanDir, argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...argv, '-d', plan.dbDir], {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { ...cloud.env, NO_COLOR: '1' },
    cwd: plan.root,
  });
  return { code, stdout, stderr };
}

/**
 * `ready.sh NAME [DB]`: notes that it ran, and with DB checks that the
 * service was configured for that db instance (its `bootout.json` says so).
 */
function readyProgram(base: string): string {
  return `#!/bin/sh
echo "ready $1 $2" >> ${base}/ready.log
[ -z "$2" ] || grep -q "\\"db\\": \\"$2\\"" bootout.json || { echo "$1 is not configured for db $2" >&2; exit 1; }
`;
}

/** Runs the scenario for run `run` on `cloud`, whose instances are the sshd machines of `hosts`. */
export async function statusRepairScenario(
  cloud: ScenarioCloud,
  hosts: SshHosts,
  cleanup: Cleanup,
  run: string,
): Promise<void> {
  const base = cleanup.base();
  const port = hosts.hosts[0]?.port;
  const plan = cleanup.plan({
    'top.conf': `${sshDefaults(hosts, base, `ssh_port: ${port}\nreadypgm: ready.sh\npgm_timeout: 20\n${cloud.planKeys}`)}${runlevels(2)}`,
    'l1.conf': '[svc-db]\nbootpgm: boot.sh\nbootpgm_args: role=db\nreadypgm_args: db\n',
    'l2.conf':
      '[svc-web]\nbootpgm: boot.sh\nbootpgm_args: db=${db.instance_id}\nreadypgm_args: web ${db.instance_id}\n',
    'boot.sh': PUBLISHING_BOOT,
    'ready.sh': readyProgram(base),
  });
  const readyRuns = () => readFileSync(join(base, 'ready.log'), 'utf8').trim().split('\n');

  const boot = await cli(cloud, plan, ['boot', 'top.conf', '-n', run, '-q']);
  expect(boot.stderr).toBe('');
  expect(boot.code, boot.stdout).toBe(0);
  const booted = cloud.instances(run);
  expect(booted.map((i) => [i.service, i.live])).toEqual([
    ['db', true],
    ['web', true],
  ]);
  const [db, web] = booted as [CloudInstance, CloudInstance];

  await cloud.kill(db.id);
  const checked = readyRuns().length;
  const status = await cli(cloud, plan, ['status', run]);
  expect(status.stderr).toBe('');
  expect(status.code).toBe(1);
  const lines = status.stdout.split('\n');
  const dbLine = lines.findIndex((l) => /^ {2}✗ db +failed \(address\) +\d+\.\d\ds$/.test(l));
  expect(dbLine, status.stdout).toBeGreaterThan(0);
  expect(lines[dbLine + 1]).toBe(
    `    instance ${db.id} is ${cloud.killedAs.state} (the cloud says '${cloud.killedAs.native}'); run \`cloudboot repair ${run}\` to replace it`,
  );
  expect(status.stdout).toMatch(
    new RegExp(`\\n {2}✓ web +ready +\\d+\\.\\d\\ds {2}instance ${web.id}: cloud says running\\n`),
  );
  expect(status.stdout).toMatch(/status FAILED in .*: 1 of 2 services ready; failed: db\n$/);
  // web's ready program ran (its VM is up); db's did not.
  expect(readyRuns().slice(checked)).toEqual([`ready web ${db.id}`]);

  const repair = await cli(cloud, plan, ['repair', run]);
  expect(repair.stderr).toBe('');
  expect(repair.code, repair.stdout).toBe(0);
  expect(repair.stdout).toMatch(/\n {2}↻ db +failed +restarting\n {2}✓ db +ready /);
  // web was configured for the old db: its check fails, so it is set up again.
  expect(repair.stdout).toContain(`    stderr: web is not configured for db `);
  expect(repair.stdout).toMatch(/\n {2}↻ web +failed +restarting\n {2}✓ web +ready /);
  expect(repair.stdout).toMatch(/repair ok in .*: 2 of 2 services ready\n$/);

  const after = cloud.instances(run);
  expect(after).toHaveLength(3);
  const fresh = after[2] as CloudInstance;
  expect(fresh).toMatchObject({ service: 'db', live: true });
  expect(fresh.id).not.toBe(db.id);
  expect(fresh.token).not.toBe(db.token);
  expect(after.find((i) => i.id === db.id)?.live).toBe(false);
  const store = RunStore.open(plan.dbDir, run);
  try {
    expect(store.service('db')).toMatchObject({
      state: 'ready',
      instanceId: fresh.id,
      launchToken: fresh.token,
    });
    expect(store.service('web')).toMatchObject({ state: 'ready', instanceId: web.id });
    expect(store.service('web')?.published).toMatchObject({ db: fresh.id });
    // The new machine's addresses are published in place of the old one's.
    expect(store.service('db')?.machineAttributes.private_ip).toBe(store.service('db')?.hostname);
  } finally {
    store.close();
  }
  expect(readyRuns().at(-1)).toBe(`ready web ${fresh.id}`);

  const history = await cli(cloud, plan, ['history', run]);
  expect(history.code).toBe(0);
  const rows = history.stdout.trim().split('\n');
  expect(rows[0]).toBe(`run ${run}: 3 instances, 2 current`);
  // The row of an instance: its id followed by its launch time.
  const row = (id: string) => rows.find((l) => new RegExp(` ${id} +\\d{4}-`).test(l)) ?? '';
  expect(row(db.id)).toMatch(new RegExp(` db .* replaced by ${fresh.id} `));
  expect(row(fresh.id)).toMatch(/ db .* yes +running /);
  expect(row(web.id)).toMatch(/ web .* yes +running /);

  const down = await cli(cloud, plan, ['terminate', run, '-q']);
  expect(down.code, down.stdout).toBe(0);
  expect(cloud.instances(run).filter((i) => i.live)).toEqual([]);
}
