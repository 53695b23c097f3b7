/**
 * The directories where local program output is buffered
 * (`/dev/shm/cloudboot-out-<pid>-*`) go away with their process, and those
 * of a killed process are swept away by the next one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const track = planDirs();
const child = new URL('../support/local-run-child.ts', import.meta.url).pathname;
const base = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
let children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children = [];
});

function start(script: string): { proc: ChildProcess; pid: Promise<number>; exit: Promise<void> } {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', child, script], {
    cwd: new URL('..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(proc);
  const pid = new Promise<number>((resolve) =>
    proc.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
  );
  const exit = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return { proc, pid, exit };
}

const dirsOf = (pid: number) =>
  readdirSync(base).filter((entry) => entry.startsWith(`cloudboot-out-${pid}-`));

describe('output directories', () => {
  it('are removed when their process ends, and swept when it was killed', async () => {
    const normal = start('true');
    const normalPid = await normal.pid;
    await normal.exit;
    expect(dirsOf(normalPid)).toEqual([]);

    const plan = track(writePlan({}));
    const killed = start(`echo $$ > ${plan.path('pid')}; exec sleep 30`);
    const killedPid = await killed.pid;
    while (!existsSync(plan.path('pid'))) await new Promise((r) => setTimeout(r, 20));
    killed.proc.kill('SIGKILL');
    await killed.exit;
    process.kill(Number(readFileSync(plan.path('pid'), 'utf8')), 'SIGKILL');
    expect(dirsOf(killedPid)).toHaveLength(1);

    const next = start('true');
    await next.exit;
    expect(dirsOf(killedPid)).toEqual([]);
  });
});
