import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runDatabasePath } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import { makeFixture } from './test-fixture.js';

describe('boot', () => {
  it('boots level by level, names the run and the log dir, and records the run in a 0600 database', async () => {
    const f = makeFixture();
    const { code, stdout, stderr } = await f.cli(['boot', f.planFile, '-n', 'app']);
    expect(stderr).toBe('');
    expect(code).toBe(EXIT.ok);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('run app: booting 3 services in 2 levels');
    expect(stdout).toMatch(
      /^level 1 \(1 service\)\n {2}✓ database +ready +\d+\.\d\ds\nlevel 1 done in \d+\.\d\ds$/m,
    );
    expect(stdout).toContain('level 2 (2 services)');
    expect(stdout).toMatch(/✓ web-0 +ready/);
    expect(stdout).toMatch(/✓ web-1 +ready/);
    expect(stdout).toContain(`logs: ${join(f.dbDir, 'logs', 'app')}`);
    expect(lines.at(-2)).toMatch(/^run app: boot ok in \d+\.\d\ds: 3 of 3 services ready$/);
    expect(stdout).not.toContain('\u001b['); // not a terminal: no colours
    const db = runDatabasePath(f.dbDir, 'app');
    expect(statSync(db).mode & 0o777).toBe(0o600);
    expect(f.order()).toEqual(['boot database', 'boot web', 'boot web']);
  });

  it('exits 1 when a service fails, showing the phase, message and stderr tail', async () => {
    const f = makeFixture();
    const { code, stdout } = await f.cli(['boot', f.planFile, '-n', 'bad', '-g', 'mode=fail']);
    expect(code).toBe(EXIT.serviceFailed);
    expect(stdout).toMatch(/✗ web-0 +failed \(contextualize\)/);
    expect(stdout).toContain('    boot program boot.sh exited with status 3');
    expect(stdout).toContain('    stderr: cannot boot web: mode is fail');
    expect(stdout).toMatch(/level 2 failed in \d+\.\d\ds: 2 of 2 services failed/);
    expect(stdout).toMatch(
      /run bad: boot FAILED in .*: 1 of 3 services ready; failed: web-\d, web-\d\n$/,
    );
  });

  it('-q prints only the final line; -v adds every transition', async () => {
    const f = makeFixture();
    const quiet = await f.cli(['boot', f.planFile, '-n', 'q', '-q']);
    expect(quiet.stdout.trim().split('\n')).toHaveLength(1);
    expect(quiet.stdout).toMatch(/^run q: boot ok/);
    const verbose = await f.cli(['boot', f.planFile, '-n', 'v', '-v']);
    expect(verbose.code).toBe(EXIT.ok);
    expect(verbose.stdout).toContain('  · database: pending -> launching (');
    expect(verbose.stdout).toContain('  · database: launching -> launched (static:localhost)');
    expect(verbose.stdout).toContain(
      '  · database: contextualizing -> contextualized (published port)',
    );
    expect(verbose.stdout).toMatch(/ {2}· web-1: bootpgm exited 0 after \d+\.\d\ds/);
    // Resuming a ready run only runs the ready programs.
    const resume = await f.cli(['resume', 'v', '-v']);
    expect(resume.code).toBe(EXIT.ok);
    expect(resume.stdout).toContain('  · database: starting from ready');
    expect(resume.stdout).not.toContain('bootpgm exited');
    expect(resume.stdout).toContain('  · database: readypgm exited 0');
  });

  it('--json prints one JSON event per line in order, then a result line', async () => {
    const f = makeFixture();
    const { code, stdout } = await f.cli(['boot', f.planFile, '-n', 'j', '--json']);
    expect(code).toBe(EXIT.ok);
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ type: 'operation', run: 'j', operation: 'boot' });
    const key = (e: Record<string, unknown>) =>
      e.type === 'level'
        ? `level ${e.level} ${e.action}`
        : e.type === 'service'
          ? `${e.service} ${e.action}`
          : '';
    const order = events
      .map(key)
      .filter((k) => /level|complete/.test(k) && !k.includes('transition'));
    expect(order.slice(0, 3)).toEqual([
      'level 1 starting',
      'database complete',
      'level 1 complete',
    ]);
    expect(order[3]).toBe('level 2 starting');
    expect(order.slice(4, 6).sort()).toEqual(['web-0 complete', 'web-1 complete']);
    expect(order[6]).toBe('level 2 complete');
    expect(
      events.every((e) => e.type === 'operation' || e.type === 'result' || e.run === 'j'),
    ).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'result', command: 'boot', ok: true, exitCode: 0 });
    const result = events.at(-1) as { runs: Array<{ services: Array<{ state: string }> }> };
    expect(result.runs[0]?.services.map((s) => s.state)).toEqual(['ready', 'ready', 'ready']);
  });

  it('-o writes the description with attributes and secrets redacted', async () => {
    const f = makeFixture();
    const out = join(f.dir, 'app.json');
    const boot = await f.cli(['boot', f.planFile, '-n', 'o', '-o', 'app.json', '-f', 'mylogs']);
    expect(boot.code).toBe(EXIT.ok);
    expect(boot.stdout).toContain(`logs: ${join(f.dir, 'mylogs', 'o')}\n`);
    expect(readFileSync(join(f.dir, 'mylogs', 'o', 'database.log'), 'utf8')).toContain('readypgm');
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain('hunter2');
    const description = JSON.parse(text);
    expect(description.run).toBe('o');
    const database = description.levels[0].services[0];
    expect(database).toMatchObject({ name: 'database', state: 'ready', hostname: 'localhost' });
    expect(database.attributes).toMatchObject({
      port: '5432',
      run_name: 'o',
      iaas_secret: '<redacted>',
    });
    expect(description.levels[1].services.map((s: { name: string }) => s.name)).toEqual([
      'web-0',
      'web-1',
    ]);
  });

  it('refuses a run name that exists (exit 3)', async () => {
    const f = makeFixture();
    await f.cli(['boot', f.planFile, '-n', 'twice', '-q']);
    const again = await f.cli(['boot', f.planFile, '-n', 'twice']);
    expect(again.code).toBe(EXIT.run);
    expect(again.stderr).toBe(
      `cloudboot: A run named "twice" already exists in ${f.dbDir}; pick another name or use "reload".\n`,
    );
  });
});

describe('status, repair, terminate, reboot, reload', () => {
  it('status exits 0 when all are ready, 1 when a ready program fails; repair restarts the failed', async () => {
    const f = makeFixture();
    await f.cli(['boot', f.planFile, '-n', 's', '-q']);
    const ok = await f.cli(['status', 's']);
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.stdout).toContain('run s: checking 3 services in 2 levels');
    expect(ok.stdout).toMatch(/status ok in .*: 3 of 3 services ready/);

    rmSync(join(f.dir, 'alive-web'));
    const bad = await f.cli(['status', 's']);
    expect(bad.code).toBe(EXIT.serviceFailed);
    expect(bad.stdout).toMatch(/✓ database +ready/);
    expect(bad.stdout).toMatch(/✗ web-0 +failed \(ready\)/);
    expect(bad.stdout).toContain('    ready program ready.sh exited with status 1');
    expect(bad.stdout).toContain('    stderr: web is not alive');
    expect(bad.stdout).toContain('next: "cloudboot repair s"');

    const repair = await f.cli(['repair', 's']);
    expect(repair.code).toBe(EXIT.ok);
    expect(repair.stdout).toMatch(/↻ web-0 +failed +restarting/);
    expect(repair.stdout).toMatch(/repair ok in .*: 3 of 3 services ready/);
    // Both replicas read one alive-web file: web-1's check may already see the
    // file web-0's new boot made, so one or two restart; each restart boots once more.
    const restarts = repair.stdout.match(/↻ web-\d +failed +restarting/g) ?? [];
    expect(restarts.length).toBeGreaterThanOrEqual(1);
    expect(f.order().filter((l) => l === 'boot web')).toHaveLength(2 + restarts.length);
    expect((await f.cli(['status', 's', '-q'])).code).toBe(EXIT.ok);
  });

  it('terminate runs terminate programs in reverse level order and removes working dirs', async () => {
    const f = makeFixture();
    await f.cli(['boot', f.planFile, '-n', 't', '-q']);
    expect(existsSync(join(f.workdir, 't', 'database'))).toBe(true);
    const { code, stdout } = await f.cli(['terminate', 't']);
    expect(code).toBe(EXIT.ok);
    expect(stdout.indexOf('level 2 (2 services)')).toBeLessThan(
      stdout.indexOf('level 1 (1 service)'),
    );
    expect(stdout).toMatch(/✓ database +terminated/);
    expect(f.order().slice(3)).toEqual(['terminate web', 'terminate web', 'terminate database']);
    expect(existsSync(join(f.workdir, 't'))).toBe(false);
    // Terminating again does nothing; status now fails (nothing is ready).
    expect((await f.cli(['terminate', 't', '-q'])).code).toBe(EXIT.ok);
    expect(f.order()).toHaveLength(6);
    const status = await f.cli(['status', 't']);
    expect(status.code).toBe(EXIT.serviceFailed);
    expect(status.stdout).toMatch(/- database +terminated +skipped/);
    expect(status.stdout).toMatch(/status FAILED in .*: 0 of 3 services ready/);
  });

  it('terminate --dash-nine skips terminate programs; several runs and a missing one', async () => {
    const f = makeFixture();
    await f.cli(['boot', f.planFile, '-n', 'k1', '-q']);
    await f.cli(['boot', f.planFile, '-n', 'k2', '-q']);
    const { code, stdout, stderr } = await f.cli(['terminate', 'k1', 'nope', 'k2', '--dash-nine']);
    expect(code).toBe(EXIT.run);
    expect(stderr).toBe(`cloudboot: No run named "nope" in ${f.dbDir}.\n`);
    expect(stdout).toContain(
      'run k1: terminating 3 services in 2 levels (dash-nine: no terminate programs)',
    );
    expect(stdout).toMatch(/run k2: terminate ok/);
    expect(f.order().filter((l) => l.startsWith('terminate'))).toEqual([]);
  });

  it('reboot terminates, then boots again', async () => {
    const f = makeFixture();
    await f.cli(['boot', f.planFile, '-n', 'r', '-q']);
    const { code, stdout } = await f.cli(['reboot', 'r', '--parallel', '1']);
    expect(code).toBe(EXIT.ok);
    expect(stdout).toMatch(/terminate ok[^\n]*\n[\s\S]*run r: booting 3 services[\s\S]*boot ok/);
    expect(f.order()).toEqual([
      'boot database',
      'boot web',
      'boot web',
      'terminate web',
      'terminate web',
      'terminate database',
      'boot database',
      'boot web',
      'boot web',
    ]);
  });

  it('reload adds a service to an existing run and boots it', async () => {
    const f = makeFixture();
    await f.cli(['boot', f.planFile, '-n', 'rl', '-q']);
    f.write(
      'level3.conf',
      `[svc-cache]\nbootpgm: boot.sh\nbootpgm_args: cache ${f.dir}\nreadypgm: ready.sh\nreadypgm_args: cache ${f.dir}\n`,
    );
    const top = readFileSync(f.planFile, 'utf8').replace(
      'level2: level2.conf',
      'level2: level2.conf\nlevel3: level3.conf',
    );
    f.write('top2.conf', top);
    const { code, stdout } = await f.cli(['reload', 'top2.conf', '-n', 'rl']);
    expect(code).toBe(EXIT.ok);
    expect(stdout).toContain(`run rl: loaded ${join(f.dir, 'top2.conf')}`);
    expect(stdout).toMatch(/✓ cache +ready/);
    expect(stdout).toMatch(/boot ok in .*: 4 of 4 services ready/);
    expect(f.order().filter((l) => l === 'boot database')).toHaveLength(1);
    expect(f.order()).toContain('boot cache');
    const missingName = await f.cli(['reload', 'top2.conf']);
    expect(missingName.code).toBe(EXIT.usage);
  });
});

describe('list, history, clean', () => {
  it('list shows runs with service counts by state', async () => {
    const f = makeFixture();
    expect((await f.cli(['list'])).stdout).toBe(`no runs in ${f.dbDir}\n`);
    await f.cli(['boot', f.planFile, '-n', 'l1', '-q']);
    await f.cli(['boot', f.planFile, '-n', 'l2', '-q', '-g', 'mode=fail']);
    const { code, stdout } = await f.cli(['list']);
    expect(code).toBe(EXIT.ok);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^RUN +CREATED +SERVICES +STATES +PLAN$/);
    expect(lines[1]).toMatch(/^l1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +3 +ready 3 +\S+top\.conf$/);
    expect(lines[2]).toMatch(/^l2 .* 3 +ready 1, failed 2 /);
  });

  it('history lists every instance with token, service, driver, id and times', async () => {
    const f = makeFixture();
    await f.cli(['boot', f.planFile, '-n', 'h', '-q']);
    await f.cli(['reboot', 'h', '-q']);
    const { code, stdout } = await f.cli(['history', 'h']);
    expect(code).toBe(EXIT.ok);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('run h: 6 instances, 3 current');
    expect(lines[1]).toMatch(
      /^TOKEN +SERVICE +DRIVER +INSTANCE +LAUNCHED +TERMINATED +CURRENT +CLOUD STATE$/,
    );
    expect(lines).toHaveLength(8);
    expect(lines[2]).toMatch(
      /^[0-9a-f-]{36} +database +static-ip +static:localhost +\d{4}-.*Z +\d{4}-.*Z +- +running \(existing\)$/,
    );
    expect(lines.filter((l) => / yes +running \(existing\)$/.test(l))).toHaveLength(3);
  });
});
