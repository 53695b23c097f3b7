import { readFileSync, writeFileSync } from 'node:fs';
import { runCli } from 'cloudboot';
import { afterEach, describe, expect, it } from 'vitest';
import { type PlanDir, writePlan } from '../support/plan-files.js';

const leaseDriver = new URL('../fixtures/drivers/slow-lease-driver.mjs', import.meta.url).pathname;
let dirs: PlanDir[] = [];
afterEach(() => {
  for (const d of dirs) d.remove();
  dirs = [];
});

async function cli(
  plan: PlanDir,
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
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

type Lease = { id: string; state: string };
const leases = (plan: PlanDir) => JSON.parse(plan.read('leases.json')) as Lease[];

/** A run whose first machine was replaced by reboot, but whose old machine did not really die. */
async function runWithOrphan(): Promise<PlanDir> {
  const plan = writePlan({
    'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\nimage: img\ndriver: ${leaseDriver}\nlease_file: \${ROOT}/leases.json\n[runlevels]\nlevel1: l1.conf\n`,
    'l1.conf': '[svc-a]\n[svc-b]\n',
  });
  dirs.push(plan);
  expect((await cli(plan, ['boot', 'top.conf', '-n', 'r', '-q'])).code).toBe(0);
  expect((await cli(plan, ['reboot', 'r', '-q'])).code).toBe(0);
  // The cloud "forgot" to kill vm-1: it is still running, but no service's machine.
  const state = leases(plan);
  const first = state.find((l) => l.id === 'vm-1');
  if (first) first.state = 'running';
  writeFileSync(plan.path('leases.json'), JSON.stringify(state));
  return plan;
}

describe('history and clean with a launching driver', () => {
  it('history shows each instance with its cloud state, current or not', async () => {
    const plan = await runWithOrphan();
    const { code, stdout } = await cli(plan, ['history', 'r']);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('run r: 4 instances, 2 current');
    const row = (id: string) => lines.find((l) => l.includes(` ${id} `)) ?? '';
    expect(row('vm-1')).toMatch(/ - +running \(running\)$/);
    expect(row('vm-2')).toMatch(/ - +terminated \(terminated\)$/);
    expect(row('vm-3')).toMatch(/ yes +running \(running\)$/);
  });

  it('clean terminates only the orphan', async () => {
    const plan = await runWithOrphan();
    const { code, stdout } = await cli(plan, ['clean', 'r']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('run r: 1 orphan terminated');
    expect(leases(plan).map((l) => [l.id, l.state])).toEqual([
      ['vm-1', 'terminated'],
      ['vm-2', 'terminated'],
      ['vm-3', 'running'],
      ['vm-4', 'running'],
    ]);
    expect((await cli(plan, ['status', 'r', '-q'])).code).toBe(0);
  });

  it('history --kill terminates every live instance of the run', async () => {
    const plan = await runWithOrphan();
    const { code, stdout } = await cli(plan, ['history', 'r', '--kill']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('run r: 4 instances, 2 current, 3 terminated now');
    expect(leases(plan).every((l) => l.state === 'terminated')).toBe(true);
    expect(readFileSync(plan.path('leases.json'), 'utf8')).not.toContain('running');
  });
});
