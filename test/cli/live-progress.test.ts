import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellJoin } from '@cloudboot/core';
import { afterEach, describe, expect, it } from 'vitest';
import { cliCommand, REPO_ROOT } from '../support/cli-process.js';
import { type PlanDir, writePlan } from '../support/plan-files.js';

const TMUX = '/usr/bin/tmux';
const haveTmux = existsSync(TMUX);

/** Skips (with the reason) without tmux, except under CI, where it must be there. */
function needTmux(ctx: { skip: (note: string) => never }): void {
  if (haveTmux) return;
  if (process.env.CI) throw new Error(`${TMUX} is missing: run scripts/setup.sh`);
  ctx.skip(`${TMUX} is not installed (scripts/setup.sh installs it as root)`);
}

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

/** A tmux server on a private socket, killed after the test. */
function tmuxServer(): (...args: string[]) => string {
  const dir = mkdtempSync(join(tmpdir(), 'cloudboot-tmux-'));
  const socket = join(dir, 'tmux.sock');
  const tmux = (...args: string[]) =>
    execFileSync(TMUX, ['-S', socket, ...args], { encoding: 'utf8' });
  cleanups.push(() => {
    try {
      tmux('kill-server');
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return tmux;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForPane(
  capture: () => string,
  test: (pane: string) => boolean,
  what: string,
): Promise<string> {
  const deadline = Date.now() + 20_000;
  let pane = '';
  while (Date.now() < deadline) {
    pane = capture();
    if (test(pane)) return pane;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; the pane shows:\n${pane}`);
}

function plan(): PlanDir {
  const p = writePlan({
    'top.conf':
      '[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n',
    'l1.conf': '[svc-db]\nbootpgm: sleep.sh\nbootpgm_args: 0\n',
    'l2.conf':
      '[svc-web]\nreplica_count: 2\nbootpgm: sleep.sh\nbootpgm_args: 4\nreadypgm: sleep.sh\nreadypgm_args: 0\n',
    'sleep.sh': '#!/bin/sh\nsleep "$1"\n',
  });
  cleanups.push(() => p.remove());
  return p;
}

/** The elapsed seconds an in-flight line of `service` shows. */
function elapsedOf(pane: string, service: string): number {
  const line = pane.split('\n').find((l) => l.includes(`… ${service} `)) ?? '';
  const match = /boot program +(\d+)s {2}static:localhost localhost$/.exec(line.trimEnd());
  if (match === null) throw new Error(`no in-flight line for ${service} in:\n${pane}`);
  return Number(match[1]);
}

describe('live progress in a terminal (tmux)', () => {
  it('shows each in-flight service with its stage, elapsed time and machine, redrawn in place', async (ctx) => {
    needTmux(ctx);
    const p = plan();
    const tmux = tmuxServer();
    const command = shellJoin([
      ...cliCommand(['boot', p.path('top.conf'), '-n', 'live', '-d', p.dbDir]),
    ]);
    // CI may be set around the test; the terminal run must not see it.
    tmux(
      'new-session',
      '-d',
      '-x',
      '110',
      '-y',
      '30',
      `cd ${REPO_ROOT} && env -u CI ${command}; echo "[exit $?]"; sleep 600`,
    );
    const capture = () => tmux('capture-pane', '-p');
    const cursorShown = () => tmux('display-message', '-p', '#{cursor_flag}').trim() === '1';

    const first = await waitForPane(
      capture,
      (pane) => /… web-0 +boot program/.test(pane) && /… web-1 +boot program/.test(pane),
      'web-0 and web-1 in their boot programs',
    );
    expect(first).toMatch(/^ {2}✓ db +ready +\d+\.\d\ds$/m);
    expect(first).toContain('level 2 (2 services)');
    const before = elapsedOf(first, 'web-0');
    expect(cursorShown()).toBe(false);

    await sleep(1600);
    const second = capture();
    expect(elapsedOf(second, 'web-0')).toBeGreaterThan(before);
    expect(elapsedOf(second, 'web-1')).toBeGreaterThan(before);
    // Redrawn in place: each service has one line on the screen.
    expect(second.split('\n').filter((l) => l.includes(' web-0 '))).toHaveLength(1);

    // A narrower terminal wraps what was drawn; the block is found and redrawn.
    tmux('resize-window', '-x', '40');
    await sleep(400);
    const narrow = capture();
    expect(narrow.split('\n').filter((l) => l.includes(' web-0 '))).toHaveLength(1);
    expect(narrow.split('\n').filter((l) => l.includes(' web-1 '))).toHaveLength(1);
    tmux('resize-window', '-x', '110');

    const done = await waitForPane(
      capture,
      (pane) => pane.includes('[exit '),
      'the end of the boot',
    );
    expect(done).toContain('[exit 0]');
    expect(done).toMatch(/^ {2}✓ web-0 +ready +\d+\.\d\ds$/m);
    expect(done).toMatch(/^ {2}✓ web-1 +ready +\d+\.\d\ds$/m);
    expect(done).toMatch(/^run live: boot ok in .*: 3 of 3 services ready$/m);
    expect(done).not.toContain('…');
    expect(cursorShown()).toBe(true);
  });

  it('Ctrl-C removes the live block and shows the cursor again', async (ctx) => {
    needTmux(ctx);
    const p = plan();
    const tmux = tmuxServer();
    const command = shellJoin([
      ...cliCommand(['boot', p.path('top.conf'), '-n', 'stop', '-d', p.dbDir]),
    ]);
    tmux(
      'new-session',
      '-d',
      '-x',
      '110',
      '-y',
      '30',
      `cd ${REPO_ROOT} && env -u CI ${command}; echo "[exit $?]"; sleep 600`,
    );
    const capture = () => tmux('capture-pane', '-p');
    await waitForPane(capture, (pane) => pane.includes('… web-0 '), 'web-0 in flight');
    tmux('send-keys', 'C-c');
    const done = await waitForPane(
      capture,
      (pane) => pane.includes('[exit '),
      'the interrupted boot to end',
    );
    expect(done).toContain('[exit 130]');
    expect(done).toContain('cloudboot: SIGINT: stopping');
    expect(done).not.toContain('…');
    expect(done).toMatch(/^run stop: boot INTERRUPTED/m);
    expect(tmux('display-message', '-p', '#{cursor_flag}').trim()).toBe('1');
  });
});
