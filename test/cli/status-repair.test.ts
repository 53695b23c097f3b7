import { readFileSync, writeFileSync } from 'node:fs';
import { runCli } from 'cloudboot';
import { describe, expect, it } from 'vitest';
import { type PlanDir, planDirs, writePlan } from '../support/plan-files.js';

const stateDriver = new URL('../fixtures/drivers/state-file-driver.mjs', import.meta.url).pathname;
const track = planDirs();

interface CloudState {
  instances: Array<{ id: string; service: string; state: string }>;
  calls: Array<{ method: string; ids?: string[] }>;
  throttle: number;
}

async function cli(plan: PlanDir, argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...argv, '-d', plan.dbDir], {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { ...process.env, NO_COLOR: '1' },
    cwd: plan.root,
  });
  return { code, stdout, stderr };
}

const cloud = (plan: PlanDir) => JSON.parse(plan.read('cloud.json')) as CloudState;
const order = (plan: PlanDir) => plan.read('order.log').trim().split('\n');

/** Changes an instance in the fake cloud behind cloudboot's back. */
function setInstanceState(plan: PlanDir, id: string, state: string): void {
  const now = cloud(plan);
  for (const i of now.instances) if (i.id === id) i.state = state;
  writeFileSync(plan.path('cloud.json'), JSON.stringify(now));
}

/**
 * Two levels of launched machines: `db` publishes nothing but is known by
 * its instance id; `web`'s boot program records the db instance it was
 * configured with, and its ready program checks that it is still the db's.
 */
function twoLevelPlan(): PlanDir {
  return track(
    writePlan({
      'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\nimage: img\ndriver: ${stateDriver}\nstate_file: \${ROOT}/cloud.json\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n`,
      'l1.conf':
        '[svc-db]\nbootpgm: boot.sh\nbootpgm_args: db ${.instance_id}\nreadypgm: ready.sh\nreadypgm_args: db\n',
      'l2.conf':
        '[svc-web]\nbootpgm: boot.sh\nbootpgm_args: web ${db.instance_id}\nreadypgm: ready.sh\nreadypgm_args: web ${db.instance_id}\n',
      'boot.sh': '#!/bin/sh\necho "boot $1 $2" >> ${ROOT}/order.log\necho "$2" > ${ROOT}/conf-$1\n',
      'ready.sh':
        '#!/bin/sh\necho "ready $1" >> ${ROOT}/order.log\n[ -z "$2" ] || [ "$(cat ${ROOT}/conf-$1)" = "$2" ] || { echo "$1 is configured for $(cat ${ROOT}/conf-$1), not $2" >&2; exit 1; }\n',
    }),
  );
}

describe('status asks the cloud; repair replaces what is gone', () => {
  it('status names a VM terminated outside cloudboot and exits 1; repair replaces it; history shows both', async () => {
    const plan = twoLevelPlan();
    expect((await cli(plan, ['boot', 'top.conf', '-n', 'r', '-q'])).code).toBe(0);
    expect(cloud(plan).instances.map((i) => [i.id, i.service])).toEqual([
      ['vm-1', 'db'],
      ['vm-2', 'web'],
    ]);
    const healthy = await cli(plan, ['status', 'r']);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(
      /✓ db +ready +\d+\.\d\ds {2}instance vm-1: cloud says running\n/,
    );

    setInstanceState(plan, 'vm-1', 'terminated');
    const before = cloud(plan).calls.length;
    const readyRuns = order(plan).filter((l) => l === 'ready db').length;
    const status = await cli(plan, ['status', 'r']);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/✗ db +failed \(address\)/);
    expect(status.stdout).toContain(
      "    instance vm-1 is terminated (the cloud says 'terminated'); run `cloudboot repair r` to replace it\n",
    );
    expect(status.stdout).toMatch(/✓ web +ready +\d+\.\d\ds {2}instance vm-2: cloud says running/);
    expect(status.stdout).toMatch(/status FAILED in .*: 1 of 2 services ready; failed: db\n$/);
    // One batched describe for the one account, and db's ready program was not run.
    expect(cloud(plan).calls.slice(before)).toEqual([
      expect.objectContaining({ method: 'describe', ids: ['vm-1', 'vm-2'] }),
    ]);
    expect(order(plan).filter((l) => l === 'ready db')).toHaveLength(readyRuns);

    const json = await cli(plan, ['status', 'r', '--json']);
    const events = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.type === 'cloud')).toEqual([
      expect.objectContaining({
        service: 'db',
        instanceId: 'vm-1',
        state: 'terminated',
        recorded: 'failed',
      }),
      expect.objectContaining({
        service: 'web',
        instanceId: 'vm-2',
        state: 'running',
        recorded: 'ready',
      }),
    ]);

    const repair = await cli(plan, ['repair', 'r']);
    expect(repair.stderr).toBe('');
    expect(repair.code).toBe(0);
    expect(repair.stdout).toMatch(/! db +not ready \(address\)/);
    expect(repair.stdout).toMatch(/↻ db +failed +restarting\n {2}✓ db +ready +\d+\.\d\ds\n/);
    expect(repair.stdout).toContain('    stderr: web is configured for vm-1, not vm-3\n');
    expect(repair.stdout).toMatch(/↻ web +failed +restarting\n {2}✓ web +ready/);
    expect(repair.stdout).toMatch(/repair ok in .*: 2 of 2 services ready/);
    expect(cloud(plan).instances.map((i) => [i.id, i.service, i.state])).toEqual([
      ['vm-1', 'db', 'terminated'],
      ['vm-2', 'web', 'running'],
      ['vm-3', 'db', 'running'],
    ]);
    // db contextualized again on its new machine; web's check failed (it was configured
    // for vm-1), so it was contextualized again with the new address.
    expect(order(plan).filter((l) => l.startsWith('boot'))).toEqual([
      'boot db vm-1',
      'boot web vm-1',
      'boot db vm-3',
      'boot web vm-3',
    ]);
    expect(readFileSync(plan.path('conf-web'), 'utf8')).toBe('vm-3\n');

    const history = await cli(plan, ['history', 'r']);
    expect(history.code).toBe(0);
    const lines = history.stdout.trim().split('\n');
    expect(lines[0]).toBe('run r: 3 instances, 2 current');
    const row = (id: string) => lines.find((l) => new RegExp(` ${id} +\\d{4}-`).test(l)) ?? '';
    expect(row('vm-1')).toMatch(/ db +\S+ +vm-1 .* replaced by vm-3 +terminated \(terminated\)$/);
    expect(row('vm-2')).toMatch(/ web .* yes +running \(running\)$/);
    expect(row('vm-3')).toMatch(/ db .* yes +running \(running\)$/);

    expect((await cli(plan, ['status', 'r', '-q'])).code).toBe(0);
    expect((await cli(plan, ['terminate', 'r', '-q'])).code).toBe(0);
    expect(cloud(plan).instances.every((i) => i.state === 'terminated')).toBe(true);
  });

  it('a stopped VM or one deleted outside cloudboot fails status too', async () => {
    const plan = twoLevelPlan();
    expect((await cli(plan, ['boot', 'top.conf', '-n', 'v', '-q'])).code).toBe(0);
    setInstanceState(plan, 'vm-1', 'stopped');
    const now = cloud(plan);
    now.instances = now.instances.filter((i) => i.id !== 'vm-2');
    writeFileSync(plan.path('cloud.json'), JSON.stringify(now));
    const status = await cli(plan, ['status', 'v']);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain(
      "instance vm-1 is stopped (the cloud says 'stopped'); run `cloudboot repair v` to replace it",
    );
    expect(status.stdout).toContain(
      "instance vm-2 is vanished (the cloud says 'unknown'); run `cloudboot repair v` to replace it",
    );
    expect((await cli(plan, ['repair', 'v', '-q'])).code).toBe(0);
    expect(cloud(plan).instances.map((i) => [i.id, i.state])).toEqual([
      ['vm-1', 'terminated'],
      ['vm-3', 'running'],
      ['vm-4', 'running'],
    ]);
    expect((await cli(plan, ['terminate', 'v', '-q'])).code).toBe(0);
  });
});
