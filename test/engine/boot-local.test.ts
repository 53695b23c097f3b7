import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BootFailedError,
  CloudBoot,
  type CloudBootEvent,
  PlanError,
  RunLockedError,
  RunStore,
  UsageError,
} from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { describe, expect, it } from 'vitest';
import { planDirs, samplePlan, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
const track = planDirs();

describe('booting the sample plan locally', () => {
  it('fills bootconf and bootenv, flows attributes between levels and reaches ready', async () => {
    const plan = track(samplePlan());
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'sample',
      drivers,
    });
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([]);
    expect(result.ok).toBe(true);

    // Byte for byte what cloudinit.d wrote: the template's text, filled in place.
    expect(plan.read('machine/sample/database/bootconf.json')).toBe(
      '{"name": "orders", "price": "$10"}\n',
    );
    const price = execFileSync('/bin/sh', ['-c', '. ./bootenv.sh; printf %s "$name|$price"'], {
      cwd: plan.path('machine/sample/database'),
    }).toString();
    expect(price).toBe('orders|$10');
    for (const web of ['web-0', 'web-1']) {
      expect(plan.read(`machine/sample/${web}/bootconf.json`)).toBe(
        '{"db_url": "postgres://app:generated-secret@localhost:5433/orders"}\n',
      );
    }
    expect(boot.getServices().map((level) => level.map((s) => [s.name, s.state]))).toEqual([
      [['database', 'ready']],
      [
        ['web-0', 'ready'],
        ['web-1', 'ready'],
      ],
    ]);
    const db = boot.getServices()[0]?.[0];
    expect(db?.getAttrFromBag('password')).toBe('generated-secret');
    expect(db?.getAttrFromBag('port')).toBe('5433');
    expect(statSync(boot.databaseFile).mode & 0o777).toBe(0o600);
    boot.close();
  });

  it('commits transitions in order and starts level 2 only after level 1 is ready', async () => {
    const plan = track(samplePlan());
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'order',
      drivers,
    });
    await boot.run();
    const transitions = boot.transitions();
    expect(transitions.filter((t) => t.service === 'database').map((t) => t.to)).toEqual([
      'launching',
      'launched',
      'addressed',
      'reachable',
      'contextualizing',
      'contextualized',
      'ready',
    ]);
    const dbReady = transitions.findIndex((t) => t.service === 'database' && t.to === 'ready');
    const firstWeb = transitions.findIndex((t) => t.service.startsWith('web-'));
    expect(dbReady).toBeGreaterThanOrEqual(0);
    expect(firstWeb).toBeGreaterThan(dbReady);
    boot.close();
  });

  it('shuts down in reverse level order and removes working directories', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\nterminatepgm: stop.sh\nterminatepgm_args: ${.service}\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\nlevel3: l3.conf\n',
        'l1.conf': '[svc-a]\n',
        'l2.conf': '[svc-b]\n[svc-c]\n',
        'l3.conf': '[svc-d]\n',
        'stop.sh': '#!/bin/sh\necho "$1" >> ${ROOT}/stopped\n',
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'down',
      drivers,
    });
    expect((await boot.run()).ok).toBe(true);
    expect(existsSync(plan.path('machine/down/a'))).toBe(true);
    const result = await boot.shutdown();
    expect(result.ok).toBe(true);
    const order = plan.read('stopped').trim().split('\n');
    expect(order[0]).toBe('d');
    expect(order.slice(1, 3).sort()).toEqual(['b', 'c']);
    expect(order[3]).toBe('a');
    expect(existsSync(plan.path('machine', 'down'))).toBe(false);
    expect(
      boot
        .getServices()
        .flat()
        .map((s) => s.state),
    ).toEqual(Array(4).fill('terminated'));
    boot.close();
  });
});

describe('working directories', () => {
  it('never takes over or removes a directory cloudboot did not make', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${ROOT}\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf':
          '[svc-precious]\nbootpgm: boot.sh\nterminatepgm: stop.sh\n[svc-fresh]\nbootpgm: boot.sh\nterminatepgm: stop.sh\n',
        'stop.sh': '#!/bin/sh\necho stopped >> ${ROOT}/stops\n',
        'boot.sh': '#!/bin/sh\nexit 0\n',
        'owned/precious/data.txt': 'keep me\n',
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'owned',
      drivers,
    });
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([
      `precious: contextualize failed: working directory ${plan.path('owned', 'precious')} already exists and was not made by run owned; cloudboot uses only directories it made itself: remove it, or set workdir to another base`,
    ]);
    expect(boot.record('fresh').state).toBe('ready');
    expect((await boot.shutdown()).ok).toBe(true);
    expect(plan.read('owned/precious/data.txt')).toBe('keep me\n');
    // Its terminate program was neither written into it nor run; fresh's was.
    expect(existsSync(plan.path('owned/precious/stop.sh'))).toBe(false);
    expect(plan.read('stops')).toBe('stopped\n');
    expect(existsSync(plan.path('owned/fresh'))).toBe(false);
    boot.close();
  });
});

describe('resuming after a crash inside contextualization', () => {
  it('takes over the empty directory the crash left before the ownership mark was written', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\nbootpgm: boot.sh\n',
        'boot.sh': '#!/bin/sh\necho booted >> ${ROOT}/boots\n',
      }),
    );
    const first = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'crashed',
      drivers,
    });
    expect((await first.run()).ok).toBe(true);
    first.close();
    // As if the process died right after creating the directory (of a
    // service that failed before, so that `contextualizing` is a legal move).
    const store = RunStore.open(plan.dbDir, 'crashed');
    store.transition('a', 'failed', {
      failure: { phase: 'connect', message: 'unreachable', stdoutTail: '', stderrTail: '' },
    });
    store.transition('a', 'contextualizing', { contextualized: false });
    store.close();
    rmSync(join(plan.workdir, 'crashed', 'a'), { recursive: true });
    mkdirSync(join(plan.workdir, 'crashed', 'a'), { mode: 0o700 });

    const resumed = new CloudBoot({ dbDir: plan.dbDir, runName: 'crashed', drivers });
    expect((await resumed.run()).failures).toEqual([]);
    expect(resumed.record('a').state).toBe('ready');
    expect(plan.read('boots')).toBe('booted\nbooted\n');
    resumed.close();
  });
});

describe('review fixes', () => {
  it('does not publish a bootout.json left by an earlier boot', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\nbootpgm: boot.sh\n',
        'boot.sh':
          '#!/bin/sh\n[ -f ${ROOT}/publish ] && echo \'{"token": "old"}\' > bootout.json\nexit 0\n',
      }),
    );
    writeFileSync(plan.path('publish'), '');
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'stale',
      drivers,
    });
    await boot.run();
    expect(boot.getServices()[0]?.[0]?.getAttrFromBag('token')).toBe('old');
    await boot.shutdown({ dashNine: true }); // keeps the working directory
    rmSync(plan.path('publish'));
    await boot.run();
    expect(boot.getServices()[0]?.[0]?.getAttrFromBag('token')).toBeUndefined();
    boot.close();
  });

  it('refuses a relative workdir: a literal one at load time, one from the environment at run time', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: rel/dir\n[runlevels]\nlevel1: l1.conf\n',
        'env.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: env.WORKDIR\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\n',
      }),
    );
    const options = { dbDir: plan.dbDir, drivers, env: { WORKDIR: 'rel/dir' } };
    expect(
      () => new CloudBoot({ ...options, planFile: plan.path('top.conf'), runName: 'rel' }),
    ).toThrow(
      new PlanError([
        {
          file: plan.path('top.conf'),
          line: 4,
          section: 'defaults',
          key: 'workdir',
          message: 'expected an absolute path on the machine, or ~/…, got "rel/dir"',
        },
      ]),
    );
    const boot = new CloudBoot({ ...options, planFile: plan.path('env.conf'), runName: 'env' });
    // A value that came from the environment is redacted from messages, like every env value.
    expect((await boot.run()).failures.map((f) => f.message)).toEqual([
      'a: resolve failed: workdir is "<redacted>"; expected an absolute path on the machine, or ~/…',
    ]);
    boot.close();
  });

  it('redacts secrets with quotes and backslashes from logged arguments', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\ndeps: deps.conf\nbootpgm: boot.sh\nbootpgm_args: ${.pw}\n',
        'deps.conf': '[deps]\npw: env.TEST_QUOTED_PW\n',
        'boot.sh': '#!/bin/sh\nexit 0\n',
      }),
    );
    const env = { TEST_QUOTED_PW: 's3cr"et\\pw' };
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'quoted',
      drivers,
      env,
    });
    await boot.run();
    const log = readFileSync(join(boot.logDir, 'a.log'), 'utf8');
    expect(log).toContain('bootpgm boot.sh ["<redacted>"] on local');
    expect(log).not.toContain('s3cr');
    boot.close();
  });

  it('lets an iterator made after a shutdown began see its first events', async () => {
    const plan = track(samplePlan());
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'late',
      drivers,
    });
    await boot.run();
    const done = boot.shutdown();
    const seen: string[] = [];
    for await (const e of boot.events())
      if (e.type === 'level') seen.push(`${e.level} ${e.action}`);
    await done;
    expect(seen).toEqual(['2 starting', '2 complete', '1 starting', '1 complete']);
    boot.close();
  });
});

describe('a failing terminate program', () => {
  it('keeps that machine, shuts the rest down, and dash-nine finishes the job', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n',
        'l1.conf': '[svc-db]\nterminatepgm: stop.sh\n',
        'l2.conf': '[svc-web]\nterminatepgm: stuck.sh\n',
        'stop.sh': '#!/bin/sh\necho db >> ${ROOT}/stopped\n',
        'stuck.sh': '#!/bin/sh\necho "cannot drain connections" >&2\nexit 2\n',
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'stuck',
      drivers,
    });
    await boot.run();
    const down = await boot.shutdown();
    expect(down.ok).toBe(false);
    expect(down.failures.map((f) => [f.message, f.stderrTail])).toEqual([
      [
        'web: terminate failed: terminate program stuck.sh exited with status 2; the machine was left as it is (use dash-nine to skip terminate programs)',
        'cannot drain connections\n',
      ],
    ]);
    expect(boot.record('web').state).toBe('failed');
    expect(existsSync(plan.path('machine', 'stuck', 'web'))).toBe(true);
    expect(boot.record('db').state).toBe('terminated');
    expect(plan.read('stopped')).toBe('db\n');

    expect((await boot.shutdown({ dashNine: true })).ok).toBe(true);
    expect(boot.record('web').state).toBe('terminated');
    expect(plan.read('stopped')).toBe('db\n');
    boot.close();
  });
});

describe('failures', () => {
  const failingPlan = () =>
    writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\npgm_timeout: 1\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n',
      'l1.conf':
        '[svc-ok]\nbootpgm: ok.sh\n[svc-bad]\nbootpgm: bad.sh\n[svc-slow]\nreadypgm: slow.sh\n',
      'l2.conf': '[svc-later]\nbootpgm: ok.sh\n',
      'ok.sh': '#!/bin/sh\necho booted >> ${ROOT}/booted\n',
      'bad.sh': '#!/bin/sh\necho "some output"\necho "disk full" >&2\nexit 3\n',
      // A duration no other test uses: the check below looks at every process of the machine.
      'slow.sh': '#!/bin/sh\nsleep 29.7\n',
    });

  it('fails the service with the stderr tail, finishes the level and skips later levels', async () => {
    const plan = track(failingPlan());
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'fail',
      drivers,
    });
    const started = Date.now();
    const result = await boot.run();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.ok).toBe(false);
    expect(result.levels.map((l) => l.status)).toEqual(['error', 'not-executed']);
    expect(result.failures.map((f) => f.message).sort()).toEqual([
      'bad: contextualize failed: boot program bad.sh exited with status 3',
      'slow: ready failed: ready program slow.sh did not finish within 1 s (pgm_timeout) and was killed',
    ]);
    const bad = boot.record('bad');
    expect(bad.state).toBe('failed');
    expect(bad.failure).toEqual({
      phase: 'contextualize',
      message: 'boot program bad.sh exited with status 3',
      stdoutTail: 'some output\n',
      stderrTail: 'disk full\n',
    });
    expect(boot.record('ok').state).toBe('ready');
    expect(boot.record('later').state).toBe('pending');
    expect(boot.errorStatus().map((l) => l.map((s) => s.name).sort())).toEqual([
      ['bad', 'slow'],
      [],
    ]);
    expect(() => boot.poll()).toThrow(BootFailedError);
    // The slow ready program was killed, not left behind.
    expect(execFileSync('ps', ['-eo', 'args']).toString()).not.toMatch(/sleep 29\.7$/m);
    boot.close();
  });

  it('start() again does not restart failed services; repair() restarts them, with reloaded programs', async () => {
    const plan = track(failingPlan());
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'again',
      drivers,
    });
    await boot.run();
    const again = await boot.run();
    expect(again.levels[0]?.services.find((s) => s.service === 'bad')?.status).toBe('error');
    expect(plan.read('booted').trim().split('\n')).toHaveLength(1);

    // Fix the broken programs, then repair: failed services are contextualized again.
    writeFileSync(
      plan.path('bad.sh'),
      '#!/bin/sh\necho fixed >> ${ROOT}/booted\n'.replace('${ROOT}', plan.root),
    );
    writeFileSync(plan.path('slow.sh'), '#!/bin/sh\nexit 0\n');
    // The run uses the programs it stored; reload takes the edited ones.
    expect((await boot.repair()).failures.map((f) => f.service)).toEqual(['bad', 'slow']);
    boot.reload(plan.path('top.conf'));
    const repaired = await boot.repair();
    expect(repaired.failures).toEqual([]);
    expect(
      boot
        .getServices()
        .flat()
        .map((s) => [s.name, s.state]),
    ).toEqual([
      ['ok', 'ready'],
      ['bad', 'ready'],
      ['slow', 'ready'],
      ['later', 'ready'],
    ]);
    expect(plan.read('booted').trim().split('\n').sort()).toEqual(['booted', 'booted', 'fixed']);
    boot.close();
  });
});

describe('resolving a service', () => {
  it('fails in phase resolve, launching nothing, when scp_username and ssh_username differ', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nhostname: 127.0.0.1\nssh_username: alice\nscp_username: bob\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\n',
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'users',
      drivers,
    });
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([
      'a: resolve failed: scp_username is "bob" but ssh_username is "alice"; cloudboot uploads files and runs programs over one SSH connection, so they must be the same user',
    ]);
    expect(boot.instances()).toEqual([]);
    boot.close();
  });
});

describe('program arguments', () => {
  it("may use attributes the service's own boot program published", async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf':
          '[svc-db]\nbootconf: conf.json\nbootpgm: boot.sh\nreadypgm: ready.sh\nreadypgm_args: ${.port} "${.service} ok"\n',
        'conf.json': '{"name": "${service}"}',
        'boot.sh': '#!/bin/sh\necho \'{"port": "6543"}\' > bootout.json\n',
        'ready.sh': '#!/bin/sh\nprintf "%s|" "$@" > ${ROOT}/argv\n',
      }),
    );
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'args',
      drivers,
    });
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([]);
    expect(plan.read('argv')).toBe('6543|db ok|');
    boot.close();
  });
});

describe('secrets', () => {
  it('keeps credentials and env values out of the database and the logs, but gives them to the programs', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\niaas_secret: env.TEST_CLOUD_SECRET\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf':
          '[svc-db]\ndeps: deps.conf\nbootconf: conf.json\nbootpgm: boot.sh\nbootpgm_args: ${.iaas_secret} ${.db_password}\n',
        'deps.conf': '[deps]\ndb_password: env.TEST_DB_PASSWORD\n',
        'conf.json': '{"password": "${db_password}"}',
        'boot.sh': '#!/bin/sh\nprintf "%s|" "$@" > ${ROOT}/argv\n',
      }),
    );
    const env = { TEST_CLOUD_SECRET: 'cloud-s3cret-value', TEST_DB_PASSWORD: 'db-s3cret-value' };
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'secrets',
      drivers,
      env,
    });
    expect((await boot.run()).ok).toBe(true);
    expect(plan.read('argv')).toBe('cloud-s3cret-value|db-s3cret-value|');
    expect(JSON.parse(plan.read('machine/secrets/db/bootconf.json'))).toEqual({
      password: 'db-s3cret-value',
    });
    const log = readFileSync(join(boot.logDir, 'db.log'), 'utf8');
    expect(log).toContain('bootpgm boot.sh ["<redacted>","<redacted>"] on local');
    boot.close();
    for (const file of [boot.databaseFile, `${boot.databaseFile}-wal`].filter(existsSync)) {
      const bytes = readFileSync(file).toString('latin1');
      expect(bytes).not.toContain('s3cret');
      expect(bytes).toContain('env.TEST_CLOUD_SECRET');
    }
    expect(readFileSync(join(boot.logDir, 'db.log'), 'utf8')).not.toContain('s3cret');
  });
});

describe('reopening a run', () => {
  it('only re-runs ready programs for services already booted', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\nbootpgm: boot.sh\nreadypgm: ready.sh\n',
        'boot.sh': '#!/bin/sh\necho boot >> ${ROOT}/log\n',
        'ready.sh': '#!/bin/sh\necho ready >> ${ROOT}/log\n',
      }),
    );
    const first = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'reopen',
      drivers,
    });
    await first.run();
    first.close();
    const second = new CloudBoot({ dbDir: plan.dbDir, runName: 'reopen', drivers });
    expect((await second.run()).ok).toBe(true);
    expect(plan.read('log')).toBe('boot\nready\nready\n');
    second.close();
  });

  it('stores globals given to later commands, so they need not be repeated', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[globals]\ncolour: red\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\nreadypgm: ready.sh\nreadypgm_args: ${global.colour}\n',
        'ready.sh': '#!/bin/sh\necho "$1" >> ${ROOT}/colours\n',
        'more.conf': '[globals]\ncolour: green\n',
      }),
    );
    const first = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'globals',
      drivers,
    });
    await first.run();
    first.close();
    const blue = new CloudBoot({
      dbDir: plan.dbDir,
      runName: 'globals',
      globals: { COLOUR: 'blue' },
      drivers,
    });
    await blue.run();
    blue.close();
    const again = new CloudBoot({ dbDir: plan.dbDir, runName: 'globals', drivers });
    await again.run();
    again.close();
    const file = new CloudBoot({
      dbDir: plan.dbDir,
      runName: 'globals',
      globalsFiles: [plan.path('more.conf')],
      drivers,
    });
    await file.run();
    file.close();
    expect(plan.read('colours')).toBe('red\nblue\nblue\ngreen\n');
  });

  it('refuses a second operation while the run is locked', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\nreadypgm: ready.sh\n',
        'ready.sh': '#!/bin/sh\nsleep 0.5\n',
      }),
    );
    const first = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'locked',
      drivers,
    });
    first.start();
    expect(() => first.start()).toThrow(UsageError);
    const second = new CloudBoot({ dbDir: plan.dbDir, runName: 'locked', drivers });
    expect(() => second.start()).toThrow(RunLockedError);
    expect(() => second.start()).toThrow(/Run "locked" is in use by "boot" \(pid \d+/);
    await first.wait();
    expect((await second.run()).ok).toBe(true);
    first.close();
    second.close();
  });
});

describe('the seed API', () => {
  it('poll() throws before start and delivers level and service callbacks in order', async () => {
    const plan = track(samplePlan());
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'poll',
      drivers,
    });
    expect(() => boot.poll()).toThrow('poll() was called before start() or shutdown()');
    const seen: string[] = [];
    boot.start();
    await boot.blockUntilComplete({
      onLevel: (e) => seen.push(`level ${e.level} ${e.action}`),
      onService: (e) => {
        if (e.action !== 'transition') seen.push(`${e.service} ${e.action}`);
      },
      pollPeriodMs: 10,
    });
    expect(seen[0]).toBe('level 1 starting');
    expect(seen.indexOf('database complete')).toBeLessThan(seen.indexOf('level 1 complete'));
    expect(seen.indexOf('level 1 complete')).toBeLessThan(seen.indexOf('level 2 starting'));
    expect(seen.at(-1)).toBe('level 2 complete');
    expect(boot.poll()).toBe(true);
    boot.close();
  });

  it('gives iterators and pollers the very events listeners heard, in order, from the first', async () => {
    const plan = track(samplePlan());
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'replay',
      drivers,
    });
    const heard: CloudBootEvent[] = [];
    boot.on((event) => heard.push(event));
    boot.start();
    const iterated: CloudBootEvent[] = [];
    for await (const event of boot.events()) iterated.push(event);
    expect(iterated).toStrictEqual(heard);
    expect(heard.filter((e) => e.type === 'program')).toHaveLength(6);
    // A first poll after the end still delivers every level and service event.
    const polled: CloudBootEvent[] = [];
    expect(boot.poll({ onLevel: (e) => polled.push(e), onService: (e) => polled.push(e) })).toBe(
      true,
    );
    expect(polled).toStrictEqual(heard.filter((e) => e.type === 'level' || e.type === 'service'));
    boot.close();
  });

  it('streams typed events through an async iterator', async () => {
    const plan = track(samplePlan());
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'iter',
      drivers,
    });
    boot.start();
    const events: CloudBootEvent[] = [];
    for await (const event of boot.events()) events.push(event);
    expect(events.filter((e) => e.type === 'service' && e.action === 'complete')).toHaveLength(3);
    boot.close();
  });
});
