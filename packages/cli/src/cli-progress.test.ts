import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { EXIT } from './exit-codes.js';
import { boardLines } from './live-board.js';
import { type InFlight, StageTracker } from './service-stages.js';
import { captureCli, makeFixture } from './test-fixture.js';

describe('"still in" lines when stdout is not a terminal', () => {
  it('says every interval which stage a quiet service is in, then the usual ✓ line', async () => {
    const f = makeFixture();
    f.write('slow.sh', '#!/bin/sh\nsleep 1.4\n', true);
    f.write('one.conf', '[runlevels]\nlevel1: slow.conf\n[defaults]\nlocal_exe: true\n');
    f.write(
      'slow.conf',
      `[svc-web-3]\nhostname: localhost\nworkdir: ${f.workdir}\nbootpgm: slow.sh\n`,
    );
    const { code, stdout } = await captureCli(['boot', 'one.conf', '-n', 'still', '-d', f.dbDir], {
      env: {},
      cwd: f.dir,
      stillIntervalMs: 400,
    });
    expect(code).toBe(EXIT.ok);
    const lines = stdout.split('\n');
    const still = lines.filter((l) => l.includes('still in'));
    // One line per 400 ms of the service's time, which the ✓ line shows.
    const took = Number(/✓ web-3 +ready +(\d+\.\d\d)s/.exec(stdout)?.[1]);
    expect(took).toBeGreaterThanOrEqual(1.4);
    expect(still.length).toBeGreaterThanOrEqual(2);
    expect(still.length).toBeLessThanOrEqual(Math.floor(took / 0.4));
    for (const line of still) expect(line).toMatch(/^ {2}web-3: still in boot program \(\ds\)$/);
    const done = lines.findIndex((l) => l.includes('✓ web-3'));
    expect(done).toBeGreaterThan(lines.indexOf(still.at(-1) ?? ''));
    expect(stdout).not.toContain('\u001b[');
  });

  it('prints none with --json or -q', async () => {
    const f = makeFixture();
    f.write('slow.sh', '#!/bin/sh\nsleep 0.8\n', true);
    f.write('one.conf', '[runlevels]\nlevel1: slow.conf\n[defaults]\nlocal_exe: true\n');
    f.write('slow.conf', `[svc-a]\nhostname: localhost\nworkdir: ${f.workdir}\nbootpgm: slow.sh\n`);
    for (const flag of ['--json', '-q']) {
      const { stdout } = await captureCli(['boot', 'one.conf', flag, '-d', f.dbDir], {
        env: {},
        cwd: f.dir,
        stillIntervalMs: 200,
      });
      expect(stdout).not.toContain('still in');
    }
  });
});

describe('where the live block is drawn', () => {
  /** Boots a one-service plan with stdout a (fake) terminal; returns what was written. */
  async function bootOnTerminal(env: Record<string, string>, extra: string[] = []) {
    const f = makeFixture();
    f.write('slow.sh', '#!/bin/sh\nsleep 0.5\n', true);
    f.write('one.conf', '[runlevels]\nlevel1: slow.conf\n[defaults]\nlocal_exe: true\n');
    f.write('slow.conf', `[svc-a]\nhostname: localhost\nworkdir: ${f.workdir}\nbootpgm: slow.sh\n`);
    let stdout = '';
    const terminal = { isTTY: true, columns: 80, rows: 24, write: (t: string) => (stdout += t) };
    const code = await runCli(['boot', 'one.conf', '-d', f.dbDir, ...extra], {
      stdout: terminal,
      stderr: { write: () => true },
      env,
      cwd: f.dir,
    });
    expect(code).toBe(EXIT.ok);
    return stdout;
  }
  const ERASE_LINE = '\u001b[2K';

  it('is drawn on a terminal, then erased and replaced by the ✓ line', async () => {
    const out = await bootOnTerminal({ NO_COLOR: '1' });
    expect(out).toMatch(/ {2}… a {16}(launching|boot program) +0s/);
    expect(out).toContain(ERASE_LINE);
    // The ✓ line starts where the erased block began (after a cursor-to-column-1).
    expect(out.replaceAll('\u001b[G', '\n')).toMatch(/\n {2}✓ a +ready +\d\.\d\ds\n/);
  });

  it('is not drawn when CI is set, with --json, or with TERM=dumb', async () => {
    for (const [env, extra] of [
      [{ CI: 'true' }, []],
      [{}, ['--json']],
      [{ TERM: 'dumb' }, []],
    ] as const) {
      const out = await bootOnTerminal(env, [...extra]);
      expect(out).not.toContain('…');
      expect(out).not.toContain(ERASE_LINE);
    }
  });
});

const flying = (n: number, now: number): InFlight[] =>
  Array.from({ length: n }, (_, i) => ({
    service: `svc-${i}`,
    level: 1,
    stage: i % 2 === 0 ? 'boot program' : 'waiting for running',
    startedAt: now - 1000 * (i + 1),
    stageAt: now,
    ...(i === 0 && { instanceId: 'i-0abc', address: '10.0.0.7' }),
  }));

describe('the live block', () => {
  const layout = { nameWidth: 17, width: 100, height: 30, now: 1_000_000, mark: (t: string) => t };

  it('has one line per in-flight service with stage, elapsed time, instance and address', () => {
    const lines = boardLines(flying(2, layout.now), layout);
    expect(lines).toEqual([
      '  … svc-0            boot program            1s  i-0abc 10.0.0.7',
      '  … svc-1            waiting for running     2s',
    ]);
  });

  it('shows the count by stage and the slowest services when they do not fit', () => {
    const lines = boardLines(flying(50, layout.now), { ...layout, height: 6 });
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('  … 50 in flight (boot program 25, waiting for running 25); slowest:');
    expect(lines.slice(1).map((l) => l.split(/ +/)[2])).toEqual(['svc-49', 'svc-48', 'svc-47']);
    expect(lines[1]).toContain('50s');
  });

  it('never fills a line: a narrow terminal cuts it', () => {
    for (const line of boardLines(flying(3, layout.now), { ...layout, width: 30 })) {
      expect(line.length).toBeLessThanOrEqual(29);
      expect(line.endsWith('…')).toBe(true);
    }
  });
});

describe('stages from events', () => {
  it('follows a boot from launch to the ready program, noting instance and address', () => {
    const tracker = new StageTracker(() => ({ instanceId: null, hostname: null }));
    const base = { type: 'service', operation: 'boot', service: 'web', level: 2 } as const;
    tracker.apply({ ...base, action: 'starting', state: 'pending', at: 1 });
    expect(tracker.inFlight()[0]?.stage).toBe('launching');
    const steps = [
      ['launching', 'token', 'launching'],
      ['launched', 'i-0abc', 'waiting for running'],
      ['addressed', '10.0.0.7', 'waiting for SSH'],
      ['reachable', 'ssh', 'boot program'],
      ['contextualizing', undefined, 'boot program'],
      ['contextualized', undefined, 'ready program'],
    ] as const;
    let at = 2;
    for (const [state, detail, stage] of steps) {
      tracker.apply({
        ...base,
        action: 'transition',
        state,
        at: at++,
        ...(detail !== undefined && { detail }),
      });
      expect(tracker.inFlight()[0]?.stage).toBe(stage);
    }
    expect(tracker.inFlight()[0]).toMatchObject({
      instanceId: 'i-0abc',
      address: '10.0.0.7',
      startedAt: 1,
      stageAt: 7,
    });
    tracker.apply({ ...base, action: 'complete', state: 'ready', at: 9 });
    expect(tracker.inFlight()).toEqual([]);
  });

  it('a status check is a ready program; a shutdown a terminate program', () => {
    const tracker = new StageTracker(() => ({ instanceId: 'i-1', hostname: 'h1' }));
    const base = { type: 'service', action: 'starting', service: 'a', level: 1, at: 0 } as const;
    tracker.apply({ ...base, operation: 'status', state: 'ready' });
    expect(tracker.inFlight()[0]).toMatchObject({ stage: 'ready program', address: 'h1' });
    tracker.clear();
    tracker.apply({ ...base, operation: 'shutdown', state: 'ready' });
    expect(tracker.inFlight()[0]?.stage).toBe('terminate program');
  });
});
