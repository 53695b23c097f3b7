import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import type { CliIo } from './io.js';
import { reportError } from './report-error.js';
import { captureCli, makeFixture } from './test-fixture.js';

describe('-x/--validate and -y/--dryrun', () => {
  it('-x on a broken plan exits 2 with every problem on stderr and creates nothing', async () => {
    const f = makeFixture();
    const broken = f.write(
      'broken.conf',
      '[runlevels]\nlevel1: level1.conf\nlevel2: missing.conf\n\n[defaults]\nlocal_exe: maybe\nhostname: localhost\n',
    );
    const { code, stdout, stderr } = await f.cli(['boot', '-x', broken]);
    expect(code).toBe(EXIT.usage);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      [
        'cloudboot: The plan has 2 problems:',
        `  ${broken}:6: [defaults] local_exe: expected true or false (or yes/no, on/off, 1/0), got "maybe"`,
        `  ${broken}:3: [runlevels] level2: file ${join(f.dir, 'missing.conf')} (from "missing.conf") does not exist; expected an existing file`,
        '',
      ].join('\n'),
    );
    expect(existsSync(f.dbDir)).toBe(false);
  });

  it('-x on a good plan loads its drivers and exits 0; a missing driver module exits 4', async () => {
    const f = makeFixture();
    const ok = await f.cli(['boot', f.planFile, '--validate']);
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.stdout).toBe(
      `plan ${f.planFile} is valid: 3 services in 2 levels; drivers: static-ip\n`,
    );
    f.write('level9.conf', '[svc-vm]\nimage: img-1\ndriver: ./no-such-driver.js\n');
    const plan = f.write('vm.conf', '[runlevels]\nlevel1: level9.conf\n');
    const missing = await f.cli(['boot', plan, '-x']);
    expect(missing.code).toBe(EXIT.driverLoad);
    expect(missing.stderr).toMatch(
      /^cloudboot: cannot load driver "\.\/no-such-driver\.js" \(file:.*no-such-driver\.js\): /,
    );
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(f.dbDir)).toBe(false);
  });

  it('-x loads a driver named by env.NAME, as the boot would', async () => {
    const f = makeFixture();
    f.write('level9.conf', '[svc-vm]\nimage: img-1\ndriver: env.CB_TEST_DRIVER\n');
    const plan = f.write('vm.conf', '[runlevels]\nlevel1: level9.conf\n');
    const missing = await f.cli(['boot', plan, '-x'], { CB_TEST_DRIVER: './no-such-driver.js' });
    expect(missing.code).toBe(EXIT.driverLoad);
    expect(missing.stderr).toMatch(/^cloudboot: cannot load driver "\.\/no-such-driver\.js" /);
    const unset = await f.cli(['boot', plan, '-x']);
    expect(unset.stdout).toBe(`plan ${plan} is valid: 1 service in 1 level; drivers: ec2\n`);
  });

  it('-y prints what would run per level and service and creates nothing', async () => {
    const f = makeFixture();
    const { code, stdout } = await f.cli(['boot', f.planFile, '-y', '-g', 'mode=dry']);
    expect(code).toBe(EXIT.ok);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe(
      `plan ${f.planFile}: 3 services in 2 levels (dry run: nothing is created or run)`,
    );
    expect(lines[1]).toBe(`level 1: ${join(f.dir, 'level1.conf')} (1 service)`);
    expect(lines[2]).toBe('  database');
    expect(lines[3]).toBe('    machine       existing host localhost (driver static-ip)');
    expect(lines[4]).toBe('    execution     programs run on this machine (local_exe)');
    expect(lines[5]).toBe(`    bootpgm       ${join(f.dir, 'boot.sh')} database ${f.dir}`);
    expect(stdout).toContain(`level 2: ${join(f.dir, 'level2.conf')} (2 services)`);
    expect(stdout).toContain('  web-1\n');
    expect(stdout).toContain(
      `bootpgm       ${join(f.dir, 'boot.sh')} web ${f.dir} \${global.mode} \${database.port}`,
    );
    expect(lines.at(-2)).toBe(
      `dry run of ${f.planFile}: 3 services in 2 levels; nothing was created`,
    );
    expect(existsSync(f.dbDir)).toBe(false);
    expect(existsSync(f.workdir)).toBe(false);
    expect(f.order()).toEqual([]);
  });

  it('--json with -y gives the plan in the result line', async () => {
    const f = makeFixture();
    const { stdout } = await f.cli(['boot', f.planFile, '-y', '--json']);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ type: 'result', command: 'boot', ok: true, exitCode: 0 });
    expect(result.plan.levels[1].services[0]).toMatchObject({ name: 'web-0', driver: 'static-ip' });
  });
});

describe('usage and run errors', () => {
  it('unknown commands and options exit 2 with a clear message', async () => {
    const f = makeFixture();
    const command = await f.cli(['frobnicate']);
    expect(command).toMatchObject({ code: EXIT.usage, stdout: '' });
    expect(command.stderr).toBe(
      'cloudboot: unknown command "frobnicate"; "cloudboot commands" lists them\n',
    );
    const option = await f.cli(['status', 'x', '--frob']);
    expect(option.code).toBe(EXIT.usage);
    expect(option.stderr).toBe('cloudboot: unknown option "--frob" (see "cloudboot --help")\n');
    const misplaced = await f.cli(['boot', f.planFile, '--dash-nine']);
    expect(misplaced.code).toBe(EXIT.usage);
    expect(misplaced.stderr).toBe(
      'cloudboot: --dash-nine cannot be used with "boot" (see "cloudboot boot --help")\n',
    );
    const level = await f.cli(['list', '-l', 'loud']);
    expect(level.stderr).toBe(
      'cloudboot: -l/--loglevel is "loud"; expected one of debug, info, warn, error\n',
    );
    const both = await f.cli(['list', '-v', '-q']);
    expect(both.stderr).toBe('cloudboot: use only one of -v, -q\n');
    const parallel = await f.cli(['status', 'x', '--parallel', '0']);
    expect(parallel.stderr).toBe(
      'cloudboot: --parallel is "0"; expected a whole number of at least 1\n',
    );
    const global = await f.cli(['boot', f.planFile, '-g', 'novalue']);
    expect(global.stderr).toBe('cloudboot: -g/--global "novalue" is not KEY=VALUE\n');
    const noPlan = await f.cli(['boot']);
    expect(noPlan.stderr).toBe('cloudboot: a plan file is needed: cloudboot boot PLAN [-n NAME]\n');
    const none = await f.cli([]);
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toMatch(/^usage: cloudboot COMMAND[\s\S]*cloudboot: no command given\n$/);
    expect(existsSync(f.dbDir)).toBe(false);
  });

  it('status of a missing run exits 3; --json adds a result line with the error', async () => {
    const f = makeFixture();
    const { code, stdout, stderr } = await f.cli(['status', 'ghost', '--json']);
    expect(code).toBe(EXIT.run);
    expect(stderr).toBe(`cloudboot: No run named "ghost" in ${f.dbDir}.\n`);
    expect(JSON.parse(stdout)).toEqual({
      type: 'result',
      command: 'status',
      ok: false,
      exitCode: EXIT.run,
      error: { code: 'RUN_NOT_FOUND', message: `No run named "ghost" in ${f.dbDir}.` },
    });
  });

  it('uses $CLOUDBOOT_DBDIR when -d is not given', async () => {
    const f = makeFixture();
    const dbDir = join(f.dir, 'env-db');
    const io = { env: { CLOUDBOOT_DBDIR: dbDir }, cwd: f.dir };
    expect((await captureCli(['boot', f.planFile, '-n', 'e', '-q'], io)).code).toBe(EXIT.ok);
    expect((await captureCli(['list'], io)).stdout).toMatch(/^RUN[^\n]*\ne /);
  });
});

describe('help', () => {
  it('--help lists commands, options and exit codes; COMMAND --help shows one command', async () => {
    const f = makeFixture();
    const help = await f.cli(['--help']);
    expect(help.code).toBe(EXIT.ok);
    for (const c of [
      'boot PLAN [-n NAME]',
      'status NAME',
      'terminate NAME...',
      'history NAME',
      'commands',
    ]) {
      expect(help.stdout).toContain(`  ${c}`);
    }
    expect(help.stdout).toMatch(/--dash-nine +skip terminate programs/);
    expect(help.stdout).toMatch(/exit status:\n {2}0 +full success\n {2}1 /);
    expect(help.stdout).toContain('  70  internal error');
    const boot = await f.cli(['boot', '--help']);
    expect(boot.stdout).toMatch(/^usage: cloudboot boot PLAN \[-n NAME\]\n/);
    expect(boot.stdout).toContain('-x, --validate');
    expect(boot.stdout).not.toContain('--dash-nine');
    expect((await f.cli(['help', 'terminate'])).stdout).toContain('--dash-nine');
  });

  it('commands lists every command with one line of help', async () => {
    const f = makeFixture();
    const { code, stdout } = await f.cli(['commands']);
    expect(code).toBe(EXIT.ok);
    const names = stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]);
    expect(names).toEqual([
      'boot',
      'status',
      'terminate',
      'reboot',
      'repair',
      'reload',
      'resume',
      'list',
      'history',
      'clean',
      'report',
      'commands',
      'completion',
    ]);
  });
});

describe('error reporting', () => {
  function io(): CliIo & { err: () => string } {
    let err = '';
    return {
      stdout: { write: () => true },
      stderr: { write: (s: string) => (err += s) },
      env: {},
      cwd: '/',
      err: () => err,
    };
  }

  it('shows an unexpected error as internal (exit 70) with its stack only when verbose', () => {
    const quiet = io();
    expect(reportError(quiet, new TypeError('boom'), false)).toBe(EXIT.internal);
    expect(quiet.err()).toBe(
      'cloudboot: internal error: boom\ncloudboot: run with -v for the stack trace\n',
    );
    const verbose = io();
    expect(reportError(verbose, new TypeError('boom'), true)).toBe(EXIT.internal);
    expect(verbose.err()).toMatch(/^cloudboot: internal error: boom\nTypeError: boom\n\s+at /);
  });

  it('an unwritable -o FILE is reported without a stack trace (exit 2)', async () => {
    const f = makeFixture();
    const { code, stderr } = await f.cli([
      'boot',
      f.planFile,
      '-n',
      'o',
      '-q',
      '-o',
      'no/such/dir/out.json',
    ]);
    expect(code).toBe(EXIT.usage);
    expect(stderr).toMatch(/^cloudboot: cannot write -o \S+no\/such\/dir\/out\.json: ENOENT/);
  });
});
