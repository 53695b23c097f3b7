import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from 'cloudboot';
import { afterEach, describe, expect, it } from 'vitest';
import { cliCommand, REPO_ROOT } from '../support/cli-process.js';
import { type PlanDir, writePlan } from '../support/plan-files.js';

let dirs: PlanDir[] = [];
afterEach(() => {
  for (const d of dirs) d.remove();
  dirs = [];
});

function tempDir(files: Record<string, string> = {}): PlanDir {
  const dir = writePlan(files);
  dirs.push(dir);
  return dir;
}

async function cli(argv: string[], cwd: string): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const code = await runCli(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: () => true },
    env: {},
    cwd,
  });
  return { code, stdout };
}

describe('bash completion', () => {
  it('completes commands, options and the run names of the database directory', async () => {
    const dir = tempDir();
    // The script calls "cloudboot" while completing: put the one from source on PATH.
    const bin = join(dir.root, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'cloudboot'),
      `#!/bin/sh\ncd '${REPO_ROOT}' && exec ${cliCommand([]).join(' ')} "$@"\n`,
    );
    chmodSync(join(bin, 'cloudboot'), 0o755);
    mkdirSync(dir.dbDir);
    for (const run of ['alpha', 'beta', 'gamma'])
      writeFileSync(join(dir.dbDir, `cloudboot-${run}.db`), '');
    const script = join(dir.root, 'cloudboot.bash');
    writeFileSync(script, (await cli(['completion', 'bash'], dir.root)).stdout);

    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '--norc',
          '-c',
          `source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cloudboot; printf '%s\\n' "\${COMPREPLY[@]}"`,
          script,
          ...words,
        ],
        { encoding: 'utf8', env: { PATH: `${bin}:${process.env.PATH}`, HOME: dir.root } },
      )
        .split('\n')
        .filter((l) => l !== '')
        .sort();

    expect(complete('cloudboot', 're')).toEqual(['reboot', 'reload', 'repair', 'report', 'resume']);
    expect(complete('cloudboot', 'status', '--w')).toEqual(['--watch']);
    expect(complete('cloudboot', 'terminate', '--da')).toEqual(['--dash-nine']);
    expect(complete('cloudboot', 'completion', '')).toEqual(['bash', 'fish', 'zsh']);
    expect(complete('cloudboot', '-l', '')).toEqual(['debug', 'error', 'info', 'warn']);
    // Run names come from the -d directory given on the command line.
    expect(complete('cloudboot', 'status', '-d', dir.dbDir, '')).toEqual([
      'alpha',
      'beta',
      'gamma',
    ]);
    expect(complete('cloudboot', '-d', dir.dbDir, 'report', 'g')).toEqual(['gamma']);
    expect(complete('cloudboot', 'reload', 'top.conf', '-d', dir.dbDir, '-n', 'b')).toEqual([
      'beta',
    ]);
  });
});

describe('status --watch', () => {
  it('checks again every interval until Ctrl-C, then exits 130 leaving nothing behind', async () => {
    const plan = tempDir({
      'top.conf':
        '[runlevels]\nlevel1: l1.conf\n[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n',
      'l1.conf': '[svc-a]\nreadypgm: ready.sh\n[svc-b]\nreadypgm: ready.sh\n',
      'ready.sh': '#!/bin/sh\nsleep 0.05\n',
    });
    expect(
      (await cli(['boot', 'top.conf', '-n', 'w', '-d', plan.dbDir, '-q'], plan.root)).code,
    ).toBe(0);

    const [node, ...args] = cliCommand(['status', 'w', '--watch', '0.3', '-d', plan.dbDir]);
    const child = spawn(node as string, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    const rounds = () =>
      stdout.match(/^run w: status ok in .*: 2 of 2 services ready$/gm)?.length ?? 0;
    const deadline = Date.now() + 20_000;
    while (rounds() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(rounds()).toBeGreaterThanOrEqual(2);
    expect(stdout).toContain(
      'run w: checking 2 services in 1 level (round 1, every 0.3s until Ctrl-C)',
    );
    expect(stdout).toContain(
      'run w: checking 2 services in 1 level (round 2, every 0.3s until Ctrl-C)',
    );
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('cloudboot: SIGINT: stopping');
    // No program left running, and the run is not locked.
    const left = readdirSync('/proc').filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(plan.root);
      } catch {
        return false;
      }
    });
    expect(left).toEqual([]);
    expect((await cli(['status', 'w', '-d', plan.dbDir, '-q'], plan.root)).code).toBe(0);
  });
});
