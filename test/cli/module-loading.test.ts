/**
 * The CLI loads only what a command needs: help, `list` and `status` of a
 * local run load neither ssh2 nor any cloud SDK or driver package, and no
 * command loads the terminal renderer when stdout is not a terminal. Each
 * command runs in a child process that records every module it resolves.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cliCommand, REPO_ROOT } from '../support/cli-process.js';
import { type PlanDir, writePlan } from '../support/plan-files.js';

const RECORDER = fileURLToPath(new URL('../support/record-modules.mjs', import.meta.url));

/** The live block's terminal renderer, loaded only when stdout is a terminal. */
const RENDERER = /\/node_modules\/(\.pnpm\/)?(log-update|ansi-escapes)[@/]/;

/** Packages a command on local services must not load. */
const HEAVY =
  /\/node_modules\/(\.pnpm\/)?(ssh2|@aws-sdk|@smithy|googleapis|google-auth-library|@google-cloud|openstack)[@/]|\/packages\/driver-(ec2|gce|openstack)\/src\//;

let dirs: PlanDir[] = [];
afterEach(() => {
  for (const d of dirs) d.remove();
  dirs = [];
});

/** Runs `cloudboot ARGS` and returns the URLs of the modules it resolved. */
function modulesOf(plan: PlanDir, args: readonly string[], name: string): string[] {
  const file = join(plan.root, `${name}.modules`);
  const [node, ...rest] = cliCommand(args);
  execFileSync(node as string, ['--import', RECORDER, ...rest], {
    cwd: REPO_ROOT,
    env: { ...process.env, CLOUDBOOT_TEST_MODULES: file },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return readFileSync(file, 'utf8').trim().split('\n');
}

describe('what the CLI loads', () => {
  it('loads no SSH library, cloud SDK, driver package or terminal renderer for --help, list and a local status', () => {
    const plan = writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
      'l1.conf': '[svc-a]\nbootpgm: ok.sh\n',
      'ok.sh': '#!/bin/sh\nexit 0\n',
    });
    dirs.push(plan);
    const db = ['-d', plan.dbDir];
    const boot = modulesOf(plan, ['boot', plan.path('top.conf'), '-n', 'r', '-q', ...db], 'boot');
    // The recorder sees the modules the CLI loads: the run database and the engine.
    expect(boot.some((url) => url.includes('/better-sqlite3'))).toBe(true);
    expect(boot.some((url) => url.endsWith('/packages/core/src/engine/engine.ts'))).toBe(true);
    for (const [name, args] of [
      ['help', ['--help']],
      ['list', ['list', ...db]],
      ['status', ['status', 'r', ...db]],
      ['boot', null],
    ] as const) {
      const loaded = args === null ? boot : modulesOf(plan, args, name);
      expect({
        name,
        heavy: loaded.filter((url) => HEAVY.test(url) || RENDERER.test(url)),
      }).toEqual({ name, heavy: [] });
    }
  });

  it('loads ssh2 once a plan names an SSH machine', () => {
    const plan = writePlan({
      'top.conf':
        '[defaults]\nhostname: 127.0.0.1\nssh_port: 1\nssh_username: nobody\nworkdir: /tmp/x\n[runlevels]\nlevel1: l1.conf\n',
      'l1.conf': '[svc-a]\nbootpgm: ok.sh\n',
      'ok.sh': '#!/bin/sh\nexit 0\n',
    });
    dirs.push(plan);
    const file = join(plan.root, 'ssh.modules');
    const [node, ...rest] = cliCommand([
      'boot',
      plan.path('top.conf'),
      '-n',
      's',
      '-q',
      '-d',
      plan.dbDir,
    ]);
    try {
      execFileSync(node as string, ['--import', RECORDER, ...rest], {
        cwd: REPO_ROOT,
        env: { ...process.env, CLOUDBOOT_TEST_MODULES: file },
        stdio: 'ignore',
      });
    } catch {
      // Nothing listens on port 1: the boot fails, after loading the SSH pool.
    }
    const loaded = readFileSync(file, 'utf8');
    expect(loaded).toMatch(/\/node_modules\/\.pnpm\/ssh2@/);
  });
});
