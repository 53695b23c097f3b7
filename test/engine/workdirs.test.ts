/**
 * Working directories on this machine (`local_exe`): one private directory
 * per run and service, made with explicit modes, owned by the run that made
 * it, never followed through a symlink, and never made by terminate.
 */
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
const track = planDirs();
const NOBODY = 65_534;

let savedHome: string | undefined;
beforeEach(() => {
  savedHome = process.env.HOME;
});
afterEach(() => {
  if (savedHome === undefined) delete process.env.HOME;
  else process.env.HOME = savedHome;
});

const mode = (path: string) => statSync(path).mode & 0o777;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** A plan with one service `web` whose boot program leaves a daemon and whose ready program needs its files. */
function webPlan(extraDefaults = '') {
  return track(
    writePlan({
      'top.conf': `[defaults]\nlocal_exe: true\nhostname: localhost\n${extraDefaults}[runlevels]\nlevel1: l1.conf\n`,
      'l1.conf':
        '[svc-web]\nbootpgm: boot.sh\nreadypgm: ready.sh\nterminatepgm: stop.sh\nbootconf: web.json\n',
      'web.json': '{"run": "${run_name}"}\n',
      'boot.sh':
        '#!/bin/sh\nsetsid sleep 120 </dev/null >/dev/null 2>&1 &\necho $! > daemon.pid\necho "{\\"dir\\": \\"$(pwd)\\"}" > bootout.json\n',
      'ready.sh': '#!/bin/sh\nkill -0 "$(cat daemon.pid)"\n',
      'stop.sh': '#!/bin/sh\nkill "$(cat daemon.pid)"\n',
    }),
  );
}

function open(plan: ReturnType<typeof webPlan>, runName: string): CloudBoot {
  return new CloudBoot({ dbDir: plan.dbDir, planFile: plan.path('top.conf'), runName, drivers });
}

describe('one directory per run and service', () => {
  it('keeps two runs with the same service apart under ~/.cloudboot/work (0700)', async () => {
    const plan = webPlan();
    process.env.HOME = plan.path('home');
    mkdirSync(plan.path('home'));
    const a = open(plan, 'run-a');
    const b = open(plan, 'run-b');
    expect((await a.run()).failures).toEqual([]);
    expect((await b.run()).failures).toEqual([]);
    const base = plan.path('home', '.cloudboot', 'work');
    const dirA = join(base, 'run-a', 'web');
    const dirB = join(base, 'run-b', 'web');
    expect(a.record('web').published.dir).toBe(dirA);
    expect(b.record('web').published.dir).toBe(dirB);
    for (const dir of [plan.path('home', '.cloudboot'), base, join(base, 'run-a'), dirA]) {
      expect(mode(dir)).toBe(0o700);
    }
    const pidA = Number(readFileSync(join(dirA, 'daemon.pid'), 'utf8'));
    const pidB = Number(readFileSync(join(dirB, 'daemon.pid'), 'utf8'));

    expect((await a.shutdown()).ok).toBe(true);
    expect(existsSync(join(base, 'run-a'))).toBe(false);
    expect(alive(pidB)).toBe(true);
    expect(readdirSync(dirB).sort()).toContain('daemon.pid');
    expect((await b.checkStatus()).ok).toBe(true);
    expect((await b.shutdown()).ok).toBe(true);
    expect(alive(pidA)).toBe(false);
    expect(existsSync(join(base, 'run-b'))).toBe(false);
    a.close();
    b.close();
  });

  it('treats a directory with a bootconf.json that this run did not make as someone else’s', async () => {
    const plan = webPlan('workdir: ${ROOT}/base\n');
    const stranger = plan.path('base', 'taken', 'web');
    mkdirSync(stranger, { recursive: true, mode: 0o700 });
    writeFileSync(join(stranger, 'bootconf.json'), '{}');
    writeFileSync(join(stranger, 'data.txt'), 'keep me');
    const boot = open(plan, 'taken');
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([
      `web: contextualize failed: working directory ${stranger} already exists and was not made by run taken; cloudboot uses only directories it made itself: remove it, or set workdir to another base`,
    ]);
    expect((await boot.shutdown()).ok).toBe(true);
    expect(readdirSync(stranger).sort()).toEqual(['bootconf.json', 'data.txt']);
    boot.close();
  });
});

describe('modes and ownership', () => {
  it('makes directories 0700, programs 0700 and data 0600 even under umask 000', async () => {
    const plan = webPlan('workdir: ${ROOT}/base\n');
    const old = process.umask(0);
    try {
      const boot = open(plan, 'modes');
      expect((await boot.run()).failures).toEqual([]);
      const dir = plan.path('base', 'modes', 'web');
      expect(mode(plan.path('base'))).toBe(0o700);
      expect(mode(plan.path('base', 'modes'))).toBe(0o700);
      expect(mode(dir)).toBe(0o700);
      expect(mode(join(dir, 'boot.sh'))).toBe(0o700);
      expect(mode(join(dir, 'ready.sh'))).toBe(0o700);
      expect(mode(join(dir, 'bootconf.json'))).toBe(0o600);
      expect(mode(join(dir, 'bootenv.sh'))).toBe(0o600);
      expect((await boot.shutdown()).ok).toBe(true);
      boot.close();
    } finally {
      process.umask(old);
    }
  });

  it.each([
    ['the run directory', ['sym']],
    ['the service directory', ['sym', 'web']],
  ])('refuses a symlink as %s and writes nothing through it', async (_what, parts) => {
    const plan = webPlan('workdir: ${ROOT}/base\n');
    mkdirSync(plan.path('elsewhere'));
    mkdirSync(plan.path('base', ...parts.slice(0, -1)), { recursive: true, mode: 0o700 });
    const link = plan.path('base', ...parts);
    symlinkSync(plan.path('elsewhere'), link);
    const boot = open(plan, 'sym');
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([
      `web: contextualize failed: cannot use ${link} as a working directory: it is a symbolic link; cloudboot follows none: remove it`,
    ]);
    expect((await boot.shutdown()).ok).toBe(true);
    expect(readdirSync(plan.path('elsewhere'))).toEqual([]);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    boot.close();
  });

  it('refuses a run directory owned by another user', async () => {
    const plan = webPlan('workdir: ${ROOT}/base\n');
    const theirs = plan.path('base', 'theirs');
    mkdirSync(theirs, { recursive: true, mode: 0o777 });
    chownSync(theirs, NOBODY, NOBODY);
    const boot = open(plan, 'theirs');
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([
      `web: contextualize failed: cannot use ${theirs} as a working directory: it belongs to another user (uid ${NOBODY}); remove it, or set workdir to another base`,
    ]);
    expect(readdirSync(theirs)).toEqual([]);
    expect((await boot.shutdown()).ok).toBe(true);
    boot.close();
  });

  it('names the base and the workdir key when the base cannot be made', async () => {
    const plan = webPlan('workdir: ${ROOT}/file/base\n');
    writeFileSync(plan.path('file'), 'not a directory');
    const boot = open(plan, 'nobase');
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([
      `web: contextualize failed: cannot use ${plan.path('file', 'base')} as the base of working directories (plan key workdir): it cannot be created (${plan.path('file')} is not a directory); set workdir to a directory the user can write`,
    ]);
    // Terminate makes nothing and succeeds.
    expect((await boot.shutdown()).ok).toBe(true);
    expect(readFileSync(plan.path('file'), 'utf8')).toBe('not a directory');
    boot.close();
  });
});

describe('terminate', () => {
  it('makes nothing, removes what this run made and skips what it never made', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${ROOT}/base\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf':
          '[svc-bad]\nbootconf: bad.json\nterminatepgm: stop.sh\n[svc-gone]\nterminatepgm: stop.sh\n',
        'bad.json': '{"x": "$nothere"}\n',
        'stop.sh': '#!/bin/sh\necho "$(pwd)" >> ${ROOT}/stops\n',
      }),
    );
    const boot = open(plan, 'fails');
    const result = await boot.run();
    expect(result.failures.map((f) => f.service)).toEqual(['bad']);
    expect(boot.record('gone').state).toBe('ready');
    // A machine whose directories were wiped: terminate must not make them again.
    const gone = plan.path('base', 'fails', 'gone');
    rmSync(gone, { recursive: true });
    const down = await boot.shutdown();
    expect(down.failures.map((f) => f.message)).toEqual([]);
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(plan.path('base', 'fails'))).toBe(false);
    // bad's directory was made by this run: its terminate program ran there, then it went.
    expect(plan.read('stops')).toBe(`${plan.path('base', 'fails', 'bad')}\n`);
    boot.close();
  });
});

describe('a boot that failed', () => {
  it('leaves no directory in the way of booting the service again', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${ROOT}/base\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-web]\nbootconf: web.json\nbootpgm: boot.sh\n',
        'web.json': '{"x": "$nothere"}\n',
        'boot.sh': '#!/bin/sh\ngrep -q fixed bootconf.json\n',
      }),
    );
    const boot = open(plan, 'again');
    expect((await boot.run()).failures.map((f) => f.phase)).toEqual(['contextualize']);
    expect(existsSync(plan.path('base', 'again', 'web'))).toBe(true);
    writeFileSync(plan.path('web.json'), '{"x": "fixed"}\n');
    boot.reload(plan.path('top.conf'));
    expect((await boot.repair()).failures).toEqual([]);
    expect(boot.record('web').state).toBe('ready');
    expect((await boot.shutdown()).ok).toBe(true);
    expect(existsSync(plan.path('base', 'again'))).toBe(false);
    boot.close();
  });
});
