import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import { makeFixture } from './test-fixture.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const NODE_ARGS = ['--conditions=source', '--import', 'tsx', 'packages/cli/src/main.ts'];

function cloudboot(args: readonly string[]) {
  const run = spawnSync(process.execPath, [...NODE_ARGS, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 60_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('the cloudboot binary', () => {
  it('boots a plan and sets exit status 0', () => {
    const f = makeFixture();
    const { code, stdout, stderr } = cloudboot([
      'boot',
      f.planFile,
      '-n',
      'bin',
      '-d',
      f.dbDir,
      '-q',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(EXIT.ok);
    expect(stdout).toMatch(/^run bin: boot ok in \d+\.\d\ds: 3 of 3 services ready\n$/);
  });

  it('prints a plan error without a stack trace and exits 2', () => {
    const f = makeFixture();
    const broken = f.write('broken.conf', '[runlevels]\nlevel1: nowhere.conf\n');
    const { code, stdout, stderr } = cloudboot(['boot', broken, '-d', f.dbDir]);
    expect(code).toBe(EXIT.usage);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      /^cloudboot: The plan has a problem:\n {2}\S+broken\.conf:2: \[runlevels\] level1: /,
    );
    expect(stderr).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(stderr.trim().split('\n')).toHaveLength(2);
  });

  it('while a boot runs in another process, commands on its run exit 3 (locked)', async () => {
    const f = makeFixture();
    // The ready program waits for the test to create `release`.
    f.write(
      'wait-ready.sh',
      '#!/bin/sh\ni=0\nwhile [ ! -e "$1/release" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n',
      true,
    );
    f.write(
      'slow.conf',
      `[svc-slow]\nbootpgm: boot.sh\nbootpgm_args: slow ${f.dir}\nreadypgm: wait-ready.sh\nreadypgm_args: ${f.dir}\n`,
    );
    const plan = f.write(
      'lock.conf',
      `[runlevels]\nlevel1: slow.conf\n\n[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${f.workdir}\n`,
    );
    const child = spawn(
      process.execPath,
      [...NODE_ARGS, 'boot', plan, '-n', 'lk', '-d', f.dbDir, '-q'],
      {
        cwd: ROOT,
        stdio: 'ignore',
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    for (let i = 0; i < 400 && !f.order().includes('boot slow'); i++) await sleep(25);
    const status = await f.cli(['status', 'lk']);
    expect(status.code).toBe(EXIT.run);
    expect(status.stderr).toMatch(
      new RegExp(
        `^cloudboot: Run "lk" is in use by "boot" \\(pid ${child.pid} on .*\\); wait for it to finish\\.\\n$`,
      ),
    );
    writeFileSync(join(f.dir, 'release'), '');
    expect(await exited).toBe(EXIT.ok);
    expect((await f.cli(['status', 'lk', '-q'])).code).toBe(EXIT.ok);
  });

  it('stops cleanly on Ctrl-C (exit 130), keeping state for resume', async () => {
    const f = makeFixture();
    f.write('slow.conf', `[svc-slow]\nbootpgm: wait-boot.sh\nbootpgm_args: ${f.dir}\n`);
    // The boot program waits for the test to create `release` (and records that it ran).
    f.write(
      'wait-boot.sh',
      '#!/bin/sh\necho started >> "$1/runs"\nwhile [ ! -e "$1/release" ]; do sleep 0.05; done\n',
      true,
    );
    const plan = f.write(
      'int.conf',
      `[runlevels]\nlevel1: slow.conf\n\n[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${f.workdir}\n`,
    );
    const child = spawn(
      process.execPath,
      [...NODE_ARGS, 'boot', plan, '-n', 'int', '-d', f.dbDir],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    for (let i = 0; i < 400 && !existsSync(join(f.dir, 'runs')); i++) await sleep(25);
    child.kill('SIGINT');
    expect(await exited).toBe(EXIT.interrupted);
    expect(stderr).toBe('\ncloudboot: SIGINT: stopping (again to exit at once)\n');
    expect(stdout).toContain('next: "cloudboot resume int" continues from where it stopped');
    expect(stdout).toMatch(/run int: boot INTERRUPTED in \d+\.\d\ds: 0 of 1 service ready\n$/);

    writeFileSync(join(f.dir, 'release'), '');
    const resumed = await f.cli(['resume', 'int', '-q']);
    expect(resumed.code).toBe(EXIT.ok);
    expect(readFileSync(join(f.dir, 'runs'), 'utf8')).toBe('started\nstarted\n');
  });
});
