import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatProblem, PlanError } from '../errors.js';
import type { LoadOptions } from './loader.js';
import { COMMAND_LINE, loadPlan } from './loader.js';
import type { Plan, ServicePlan } from './model.js';
import { REDACTED } from './model.js';

/** The sample plan of the original tool's format, as the repository keeps it for tests. */
const SAMPLE_DIR = fileURLToPath(new URL('../../../../test/fixtures/sample-plan', import.meta.url));

let dir: string;

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'cloudboot-plan-')));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes files (paths relative to the temp dir), creating folders as needed. */
function write(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    const file = join(dir, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
}

/** Loads `top.conf` of the temp dir. */
function load(options: LoadOptions = {}): Plan {
  return loadPlan(join(dir, 'top.conf'), options);
}

/** The formatted problems of a failing load, with the temp dir shown as `.`. */
function problemsOf(options: LoadOptions = {}, top = 'top.conf'): string[] {
  try {
    loadPlan(join(dir, top), options);
  } catch (error) {
    expect(error).toBeInstanceOf(PlanError);
    return (error as PlanError).problems.map((p) => formatProblem(p).split(dir).join('.'));
  }
  throw new Error('expected the plan to be rejected');
}

function service(plan: Plan, name: string): ServicePlan {
  const found = plan.levels.flatMap((l) => l.services).find((s) => s.name === name);
  if (found === undefined) throw new Error(`no service ${name}`);
  return found;
}

/** `{key: value}` of a service's keys or deps. */
function valuesOf(values: ServicePlan['keys']): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.value]));
}

/** A one-level plan whose level file is `level`, with extra top-file text. */
function onePlan(level: string, top = ''): void {
  write({ 'top.conf': `${top}\n[runlevels]\nlevel1: one.conf\n`, 'one.conf': level });
}

describe('loadPlan on the sample plan', () => {
  const plan = loadPlan(join(SAMPLE_DIR, 'top.conf'));

  it('has two levels: database, then two web replicas', () => {
    expect(plan.topFile).toBe(join(SAMPLE_DIR, 'top.conf'));
    expect(plan.levels.map((l) => [l.level, l.file, l.services.map((s) => s.name)])).toEqual([
      [1, join(SAMPLE_DIR, 'levels/data.conf'), ['database']],
      [2, join(SAMPLE_DIR, 'levels/web.conf'), ['web-0', 'web-1']],
    ]);
    expect(service(plan, 'web-1').level).toBe(2);
  });

  it('applies [defaults] and resolves paths against the naming file', () => {
    const database = service(plan, 'database');
    expect(valuesOf(database.keys)).toEqual({
      local_exe: 'true',
      hostname: 'localhost',
      pgm_timeout: '60',
      bootconf: join(SAMPLE_DIR, 'files/database.json'),
      bootpgm: join(SAMPLE_DIR, 'files/database_boot.sh'),
      readypgm: join(SAMPLE_DIR, 'files/database_ready.sh'),
      terminatepgm: join(SAMPLE_DIR, 'files/database_stop.sh'),
    });
    expect(database.keys.hostname?.source).toEqual({
      file: join(SAMPLE_DIR, 'top.conf'),
      line: 5,
      section: 'defaults',
      key: 'hostname',
    });
    expect(database.source).toEqual({
      file: join(SAMPLE_DIR, 'levels/data.conf'),
      line: 1,
      section: 'svc-database',
    });
    expect(valuesOf(database.deps)).toEqual({ db_name: 'orders' });
  });

  it('keeps references raw and gives replicas the same keys and deps', () => {
    const [web0, web1] = [service(plan, 'web-0'), service(plan, 'web-1')];
    expect(valuesOf(web0.deps)).toEqual({
      db_host: '${database.hostname}',
      db_port: '${database.port}',
      db_password: '${database.password}',
    });
    expect(web0.deps.db_host?.source).toEqual({
      file: join(SAMPLE_DIR, 'files/web_deps.conf'),
      line: 2,
      section: 'deps',
      key: 'db_host',
    });
    expect(web0.keys.readypgm_args?.value).toBe('${.db_port} "${global.site_name} site"');
    expect(web0.keys).not.toHaveProperty('replica_count');
    expect(web0.keys).not.toHaveProperty('deps');
    expect(web1.keys).toEqual(web0.keys);
    expect(web1.deps).toEqual(web0.deps);
  });

  it('reads [globals]', () => {
    expect(plan.globals).toEqual({
      site_name: {
        value: 'demo',
        source: {
          file: join(SAMPLE_DIR, 'top.conf'),
          line: 9,
          section: 'globals',
          key: 'site_name',
        },
      },
    });
  });
});

describe('loadPlan', () => {
  it('orders levels by number, not by text or position', () => {
    write({
      'top.conf': '[runlevels]\nlevel10: ten.conf\nlevel2: two.conf\nlevel1: one.conf\n',
      'one.conf': '[svc-a]\nhostname: h\n',
      'two.conf': '[svc-b]\nhostname: h\n',
      'ten.conf': '[svc-c]\nhostname: h\n',
    });
    const plan = load();
    expect(plan.levels.map((l) => [l.level, l.services[0]?.name])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(service(plan, 'c').level).toBe(3);
  });

  it('expands replica_count into NAME-0 … NAME-(N-1) in place', () => {
    onePlan(
      '[svc-a]\nhostname: h\n[svc-w]\nreplica_count: 3\nimage: ami-1\n[svc-z]\nhostname: h\n',
    );
    const plan = load();
    expect(plan.levels[0]?.services.map((s) => s.name)).toEqual(['a', 'w-0', 'w-1', 'w-2', 'z']);
    expect(valuesOf(service(plan, 'w-2').keys)).toEqual({ image: 'ami-1' });
    expect(service(plan, 'w-2').source.section).toBe('svc-w');
  });

  it('takes service keys over the cloud profile over [defaults]', () => {
    write({
      'top.conf': [
        '[defaults]',
        'iaas: from-defaults',
        'allocation: small',
        'ssh_username: root',
        'image: ami-default',
        '[cloud-aws]',
        'iaas: ec2',
        'ssh_username: ubuntu',
        '[cloud-gce]',
        'iaas: gce',
        '[runlevels]',
        'level1: one.conf',
      ].join('\n'),
      'one.conf': [
        '[svc-full]',
        'cloud: cloud-aws',
        'ssh_username: admin',
        '[svc-short]',
        'cloud: gce',
        '[svc-none]',
        'hostname: h',
      ].join('\n'),
    });
    const plan = load();
    expect(valuesOf(service(plan, 'full').keys)).toEqual({
      iaas: 'ec2',
      allocation: 'small',
      ssh_username: 'admin',
      image: 'ami-default',
      cloud: 'cloud-aws',
    });
    expect(service(plan, 'full').keys.iaas?.source.section).toBe('cloud-aws');
    expect(valuesOf(service(plan, 'short').keys)).toMatchObject({
      iaas: 'gce',
      ssh_username: 'root',
    });
    expect(valuesOf(service(plan, 'none').keys)).toMatchObject({ iaas: 'from-defaults' });
  });

  it('uses the profile named in [defaults] for services that name none', () => {
    onePlan('[svc-a]\nimage: x\n', '[defaults]\ncloud: aws\n[cloud-aws]\niaas: ec2\n');
    expect(valuesOf(service(load(), 'a').keys)).toEqual({ cloud: 'aws', iaas: 'ec2', image: 'x' });
  });

  it('treats an empty service value as absent, so the lower rank applies', () => {
    onePlan('[svc-a]\nhostname:\nimage: x\n', '[defaults]\nhostname: h\n');
    expect(service(load(), 'a').keys.hostname?.value).toBe('h');
  });

  it('reads deps, then deps1, deps2, deps10; later files override earlier ones', () => {
    onePlan(
      '[svc-a]\nhostname: h\ndeps10: d10.conf\ndeps2: d2.conf\ndeps: d.conf\ndeps1: d1.conf\n',
    );
    write({
      'd.conf': '[deps]\norder: d\nfirst: only-d\n',
      'd1.conf': '[deps]\norder: d1\nmid: d1\n',
      'd2.conf': '[deps]\norder: d2\nmid: d2\nempty:\n',
      'd10.conf': '[deps]\norder: d10\n',
    });
    const a = service(load(), 'a');
    expect(valuesOf(a.deps)).toEqual({ order: 'd10', first: 'only-d', mid: 'd2', empty: '' });
    expect(a.deps.order?.source.file).toBe(join(dir, 'd10.conf'));
    expect(a.keys).not.toHaveProperty('deps10');
  });

  it('ranks globals: [globals] < -G files in order < -g', () => {
    onePlan('[svc-a]\nhostname: ${global.host}\n', '[globals]\na: top\nb: top\nc: top\nhost: h\n');
    write({
      'g/one.conf': '[globals]\nb: one\nc: one\n',
      'two.conf': '[globals]\nc: two\nd: two\n',
    });
    const plan = load({
      cwd: join(dir, 'g'),
      globalsFiles: ['one.conf', '../two.conf'],
      globals: { D: 'cli', e: 'env.E' },
    });
    expect(valuesOf(plan.globals)).toEqual({
      a: 'top',
      b: 'one',
      c: 'two',
      host: 'h',
      d: 'cli',
      e: 'env.E',
    });
    expect(plan.globals.b?.source).toEqual({
      file: join(dir, 'g/one.conf'),
      line: 2,
      section: 'globals',
      key: 'b',
    });
    expect(plan.globals.d?.source).toEqual({ file: COMMAND_LINE, key: 'd' });
  });

  it('keeps env.NAME and references raw: no path resolution, no validation', () => {
    onePlan(
      [
        '[svc-a]',
        'image: env.IMAGE',
        'bootpgm: env.BOOT_PGM',
        'readypgm: ${.dir}/ready.sh',
        'ssh_port: env.PORT',
        'pgm_timeout: ${global.t}',
        'iaas_key: env.AWS_KEY',
      ].join('\n'),
      '[globals]\nt: 5\n',
    );
    expect(valuesOf(service(load(), 'a').keys)).toEqual({
      image: 'env.IMAGE',
      bootpgm: 'env.BOOT_PGM',
      readypgm: '${.dir}/ready.sh',
      ssh_port: 'env.PORT',
      pgm_timeout: '${global.t}',
      iaas_key: 'env.AWS_KEY',
    });
  });

  it('keeps literal credentials out of the plan but checks them first', () => {
    write({
      'top.conf':
        '[defaults]\niaas_secret: s3cret-a\ncloud: x\n[cloud-x]\niaas_key: s3cret-b\n[runlevels]\nlevel1: one.conf\n',
      'one.conf': '[svc-a]\nhostname: h\n[svc-b]\nhostname: h\niaas_secret: env.SECRET\n',
    });
    const plan = load();
    expect(JSON.stringify(plan)).not.toContain('s3cret');
    expect(service(plan, 'a').keys.iaas_key).toEqual({
      value: REDACTED,
      secret: true,
      source: { file: join(dir, 'top.conf'), line: 5, section: 'cloud-x', key: 'iaas_key' },
    });
    expect(service(plan, 'b').keys.iaas_secret).toEqual({
      value: 'env.SECRET',
      source: { file: join(dir, 'one.conf'), line: 5, section: 'svc-b', key: 'iaas_secret' },
    });
    onePlan('[svc-a]\nhostname: h\niaas_secret: x${nosuch.key}\n');
    expect(problemsOf()).toEqual([
      expect.stringMatching(/^\.\/one\.conf:3: \[svc-a\] iaas_secret: .*nosuch/),
    ]);
  });

  it('expands ~ in paths to the home directory', () => {
    const home = process.env.HOME;
    process.env.HOME = join(dir, 'home');
    try {
      onePlan('[svc-a]\nhostname: h\nlocalsshkeypath: ~/key.pem\ndeps: ~/deps.conf\n');
      write({ 'home/key.pem': 'k', 'home/deps.conf': '[deps]\nx: 1\n' });
      const a = service(load(), 'a');
      expect(a.keys.localsshkeypath?.value).toBe(join(dir, 'home/key.pem'));
      expect(valuesOf(a.deps)).toEqual({ x: '1' });
    } finally {
      process.env.HOME = home;
    }
  });

  it('resolves [defaults] paths against the top file and accepts valid literals', () => {
    write({
      'top.conf':
        '[defaults]\nreadypgm: bin/ready.sh\nssh_port: 2222\npgm_timeout: 0.5\niaas_launch: NO\n[runlevels]\nlevel1: levels/one.conf\n',
      'levels/one.conf': '[svc-a]\nhostname: h\nlocal_exe: On\n',
      'bin/ready.sh': 'exit 0',
    });
    expect(valuesOf(service(load(), 'a').keys)).toMatchObject({
      readypgm: join(dir, 'bin/ready.sh'),
      ssh_port: '2222',
      local_exe: 'On',
    });
  });

  it('allows keys it does not know, for drivers', () => {
    onePlan('[svc-a]\nimage: x\ndriver: gce\nzone: europe-west1-b\n');
    expect(service(load(), 'a').keys.zone?.value).toBe('europe-west1-b');
  });

  it('allows references to earlier levels, own attributes and replicas by name', () => {
    write({
      'top.conf': '[runlevels]\nlevel1: one.conf\nlevel2: two.conf\n',
      'one.conf': '[svc-db]\nhostname: h\n[svc-w]\nreplica_count: 2\nhostname: h\n',
      'two.conf': '[svc-app]\nhostname: ${db.hostname}\nbootpgm_args: ${w-1.port} ${.x}\n',
    });
    expect(service(load(), 'app').keys.hostname?.value).toBe('${db.hostname}');
  });
});

describe('loadPlan problems', () => {
  it('reports a missing top file', () => {
    expect(problemsOf({}, 'nope.conf')).toEqual([
      './nope.conf: the plan file does not exist; expected the top file of a plan',
    ]);
  });

  it('reports top-file sections and runlevels', () => {
    write({
      'top.conf': '[defaults]\nimage: x\n[servers]\na: b\n[cloud-]\n',
    });
    expect(problemsOf()).toEqual([
      './top.conf:3: [servers] unknown section; expected [runlevels], [defaults], [globals] or [cloud-NAME]',
      './top.conf:5: [cloud-] unknown section; expected [runlevels], [defaults], [globals] or [cloud-NAME]',
      './top.conf: no [runlevels] section; expected one naming the level files, e.g. "level1: web.conf"',
    ]);
  });

  it('reports bad level keys, no levels and repeated level numbers', () => {
    write({ 'top.conf': '[runlevels]\nfirst: one.conf\n' });
    expect(problemsOf()).toEqual([
      './top.conf:2: [runlevels] first: expected a key of "level" and a number, e.g. level1',
      './top.conf:1: [runlevels] no levels; expected keys level1, level2, … naming level files',
    ]);
    write({
      'top.conf': '[runlevels]\nlevel1: one.conf\nlevel01: two.conf\nlevel: x\n',
      'one.conf': '[svc-a]\nhostname: h\n',
      'two.conf': '[svc-b]\nhostname: h\n',
    });
    expect(problemsOf()).toEqual([
      './top.conf:4: [runlevels] level: expected a key of "level" and a number, e.g. level1',
      './top.conf:3: [runlevels] level01: has the same number as level1 (line 2); expected each level number once',
    ]);
  });

  it('reports missing level, deps and program files, naming both files', () => {
    write({
      'top.conf': '[runlevels]\nlevel1: one.conf\nlevel2: levels/missing.conf\n',
      'one.conf': '[svc-a]\nhostname: h\nbootpgm: boot.sh\ndeps: nodeps.conf\n',
    });
    expect(problemsOf()).toEqual([
      './top.conf:3: [runlevels] level2: file ./levels/missing.conf (from "levels/missing.conf") does not exist; expected an existing file',
      './one.conf:3: [svc-a] bootpgm: file ./boot.sh (from "boot.sh") does not exist; expected an existing file',
      './one.conf:4: [svc-a] deps: file ./nodeps.conf (from "nodeps.conf") does not exist; expected an existing file',
    ]);
  });

  it('reports a directory given as a file, and deps paths that are not literal', () => {
    onePlan('[svc-a]\nhostname: h\nreadypgm: sub\ndeps: env.DEPS\ndeps1:\n');
    write({ 'sub/x': '' });
    expect(problemsOf()).toEqual([
      './one.conf:3: [svc-a] readypgm: file ./sub (from "sub") is not a regular file; expected an existing file',
      './one.conf:4: [svc-a] deps: expected a literal path of a deps file (read at load time), got "env.DEPS"',
      './one.conf:5: [svc-a] deps1: expected a literal path of a deps file (read at load time), got ""',
    ]);
  });

  it('reports a deps file without [deps], once per naming service', () => {
    write({
      'top.conf': '[runlevels]\nlevel1: one.conf\n',
      'one.conf': '[svc-a]\nhostname: h\ndeps: d.conf\n[svc-b]\nhostname: h\ndeps: d.conf\n',
      'd.conf': '[dep]\nx: 1\n',
    });
    expect(problemsOf()).toEqual([
      './d.conf: no [deps] section (file named by ./one.conf:3); expected a [deps] section of key: value attributes',
      './d.conf: no [deps] section (file named by ./one.conf:6); expected a [deps] section of key: value attributes',
    ]);
  });

  it('refuses service names that could climb out of a working directory', () => {
    write({
      'top.conf': '[runlevels]\nlevel1: one.conf\n',
      'one.conf':
        '[svc-../../etc]\nhostname: h\n[svc-a/b]\nhostname: h\n[svc-ok_1.2-x]\nhostname: h\n',
    });
    expect(problemsOf()).toEqual([
      './one.conf:1: [svc-../../etc] service name "../../etc" is not usable; expected letters, digits, ".", "_" and "-", starting with a letter or digit',
      './one.conf:3: [svc-a/b] service name "a/b" is not usable; expected letters, digits, ".", "_" and "-", starting with a letter or digit',
    ]);
  });

  it('reports level-file sections, missing image/hostname and unknown cloud profiles', () => {
    onePlan(
      '[defaults-x]\nk: v\n[svc-a]\ncloud: cloud-gcp\nimage: x\n[svc-b]\niaas: ec2\n',
      '[cloud-aws]\niaas: ec2\n',
    );
    expect(problemsOf()).toEqual([
      './one.conf:1: [defaults-x] unexpected section in a level file; expected only [svc-NAME] sections',
      './one.conf:4: [svc-a] cloud: cloud profile "cloud-gcp" is not defined; expected the name of a [cloud-NAME] section of the top file (defined: cloud-aws)',
      './one.conf:6: [svc-b] service "b" has neither image nor hostname; expected one of them here, in its cloud profile or in [defaults]',
    ]);
  });

  it('reports an unknown cloud in [defaults] once, and deps/replica_count outside services', () => {
    write({
      'top.conf':
        '[defaults]\ncloud: nimbus\nreplica_count: 2\n[cloud-x]\ndeps: d.conf\n[runlevels]\nlevel1: one.conf\n',
      'one.conf': '[svc-a]\nhostname: h\n[svc-b]\nhostname: h\n',
    });
    expect(problemsOf()).toEqual([
      './top.conf:3: [defaults] replica_count: expected this key only in a [svc-NAME] section',
      './top.conf:5: [cloud-x] deps: expected this key only in a [svc-NAME] section',
      './top.conf:2: [defaults] cloud: cloud profile "nimbus" is not defined; expected the name of a [cloud-NAME] section of the top file (defined: cloud-x)',
    ]);
  });

  it('reports invalid literals and replica counts', () => {
    onePlan(
      [
        '[svc-a]',
        'hostname: h',
        'pgm_timeout: 0',
        'ssh_port: 70000',
        'iaas_launch: maybe',
        'local_exe: 2',
        'replica_count: two',
        '[svc-b]',
        'hostname: h',
        'pgm_timeout: -1',
        'ssh_port: 22.5',
        'replica_count: 0',
        '[svc-c]',
        'hostname: h',
        'pgm_timeout: 2147483.5',
        '[svc-d]',
        'hostname: h',
        'pgm_timeout: 2147483',
      ].join('\n'),
    );
    const timeout =
      'pgm_timeout: expected a positive number of seconds, at most 2147483 (about 24 days, the longest timer Node.js allows)';
    expect(problemsOf()).toEqual([
      `./one.conf:3: [svc-a] ${timeout}, got "0"`,
      './one.conf:4: [svc-a] ssh_port: expected a whole number from 1 to 65535, got "70000"',
      './one.conf:5: [svc-a] iaas_launch: expected true or false (or yes/no, on/off, 1/0), got "maybe"',
      './one.conf:6: [svc-a] local_exe: expected true or false (or yes/no, on/off, 1/0), got "2"',
      './one.conf:7: [svc-a] replica_count: expected a positive whole number of replicas, got "two"',
      `./one.conf:10: [svc-b] ${timeout}, got "-1"`,
      './one.conf:11: [svc-b] ssh_port: expected a whole number from 1 to 65535, got "22.5"',
      './one.conf:12: [svc-b] replica_count: expected a positive whole number of replicas, got "0"',
      `./one.conf:15: [svc-c] ${timeout}, got "2147483.5"`,
    ]);
  });

  it('reports circles of ${.attr} references, once each, wherever the values are written', () => {
    write({
      'top.conf': '[defaults]\nhostname: ${.hostname}\n[runlevels]\nlevel1: one.conf\n',
      'one.conf': [
        '[svc-a]',
        'x: ${.y}',
        'y: a-${.z}',
        'z: ${.x}',
        'w: ${.x} ${.run_name}',
        'deps: d.conf',
        '[svc-b]',
        'p: ${.q}',
        'q: fine',
      ].join('\n'),
      'd.conf': '[deps]\nself: ${.self}\n',
    });
    expect(problemsOf()).toEqual([
      './d.conf:2: [deps] self: ${.self} makes a reference cycle (self -> self) (for service "a"); expected attributes that do not refer to each other in a circle',
      './top.conf:2: [defaults] hostname: ${.hostname} makes a reference cycle (hostname -> hostname) (for service "a"); expected attributes that do not refer to each other in a circle',
      './one.conf:2: [svc-a] x: ${.y} makes a reference cycle (x -> y -> z -> x); expected attributes that do not refer to each other in a circle',
      './top.conf:2: [defaults] hostname: ${.hostname} makes a reference cycle (hostname -> hostname) (for service "b"); expected attributes that do not refer to each other in a circle',
    ]);
  });

  it('reports a bootconf template that no values can make a JSON object, and a relative workdir', () => {
    write({
      'top.conf': '[defaults]\nhostname: h\n[runlevels]\nlevel1: one.conf\n',
      'one.conf': [
        '[svc-a]',
        'bootconf: a.json',
        'workdir: ../x',
        '[svc-b]',
        'bootconf: b.json',
        'workdir: /srv/${global.x}',
        '[svc-c]',
        'bootconf: c.json',
        'workdir: ~/work',
        '[svc-d]',
        'bootconf: ${.a}',
        'a: d.json',
        '[svc-e]',
        'bootconf: e.json',
      ].join('\n'),
      'a.json': '{"a": 1,, "b": "$x"}\n',
      'b.json': '{"price": "$10"}',
      'c.json': '["$x"]',
      'e.json': '{\n  "name": "$name",\n  "port": $port\n}\n',
    });
    const problems = problemsOf({ globals: { x: 'y' } });
    expect(problems).toEqual([
      expect.stringMatching(
        /^\.\/one\.conf:2: \[svc-a\] bootconf: template \.\/a\.json is not valid JSON whatever its placeholders hold \(.+\); expected a JSON object in which a placeholder outside a string stands for one whole JSON value$/,
      ),
      './one.conf:3: [svc-a] workdir: expected an absolute path on the machine, or ~/…, got "../x"',
      './one.conf:5: [svc-b] bootconf: template ./b.json, line 1, column 12: invalid "$"; use $name, ${name}, ${service.attr}, ${.attr} or ${global.name}, and "$$" for a literal "$"',
      './one.conf:8: [svc-c] bootconf: template ./c.json is an array; expected a JSON object ({"key": "value", …})',
    ]);
  });

  it('checks the account policy keys of services, profiles and [defaults]', () => {
    write({
      'top.conf':
        '[defaults]\napi_calls_per_second: 0\n[cloud-x]\napi_retries: -1\n[runlevels]\nlevel1: one.conf\n',
      'one.conf':
        '[svc-a]\nhostname: h\ncloud: cloud-x\napi_calls_per_second: fast\napi_retries: 1.5\n[svc-b]\nhostname: h\napi_calls_per_second: 0.5\napi_retries: 0\n[svc-c]\nhostname: h\napi_retries: env.RETRIES\n',
    });
    expect(problemsOf()).toEqual([
      './top.conf:2: [defaults] api_calls_per_second: expected a positive number, got "0"',
      './top.conf:4: [cloud-x] api_retries: expected a whole number, 0 or more, got "-1"',
      './one.conf:4: [svc-a] api_calls_per_second: expected a positive number, got "fast"',
      './one.conf:5: [svc-a] api_retries: expected a whole number, 0 or more, got "1.5"',
    ]);
  });

  it('reports duplicate service names across files and through replicas', () => {
    write({
      'top.conf': '[runlevels]\nlevel1: one.conf\nlevel2: two.conf\n',
      'one.conf': '[svc-db]\nhostname: h\n[svc-web-1]\nhostname: h\n',
      'two.conf': '[svc-db]\nhostname: h\n[svc-web]\nreplica_count: 2\nhostname: h\n',
    });
    expect(problemsOf()).toEqual([
      './two.conf:1: [svc-db] service "db" is already defined at ./one.conf:1 [svc-db]; expected each service name once across the plan',
      './two.conf:3: [svc-web] service "web-1" is already defined at ./one.conf:3 [svc-web-1]; expected each service name once across the plan',
    ]);
  });

  it('reports references that do not point to an earlier level or a defined global', () => {
    write({
      'top.conf':
        '[defaults]\nssh_username: ${global.user}\n[globals]\nsite: s\n[runlevels]\nlevel1: one.conf\nlevel2: two.conf\n',
      'one.conf': '[svc-db]\nhostname: ${app.hostname}\n[svc-web]\nreplica_count: 2\nhostname: h\n',
      'two.conf':
        '[svc-app]\nhostname: ${db.hostname}\nbootconf_x: ${web.port} ${web-0.port} ${.me} ${global.SITE}\ndeps: d.conf\n[svc-peer]\nhostname: ${app.hostname} ${ghost.x}\n',
      'd.conf': '[deps]\npeer: ${peer.port}\n',
    });
    expect(problemsOf()).toEqual([
      './top.conf:2: [defaults] ssh_username: ${global.user} names undefined global "user"; expected a key of [globals], of a -G file or of -g',
      './one.conf:2: [svc-db] hostname: ${app.hostname} names service "app" of a later level (2); expected a service of a level before level 1',
      './two.conf:3: [svc-app] bootconf_x: ${web.port} names "web", which has replica_count 2; expected one replica: web-0 … web-1',
      './d.conf:2: [deps] peer: ${peer.port} names service "peer" of the same level (2); expected a service of a level before level 2 (for service "app")',
      './two.conf:6: [svc-peer] hostname: ${app.hostname} names service "app" of the same level (2); expected a service of a level before level 2',
      './two.conf:6: [svc-peer] hostname: ${ghost.x} names unknown service "ghost"; expected a service of a level before level 2',
    ]);
  });

  it('reports problems of -G and -g globals', () => {
    onePlan('[svc-a]\nhostname: h\n');
    write({ 'g.conf': '[globals]\nx: 1\n[other]\ny: 2\n' });
    expect(
      problemsOf({ cwd: dir, globalsFiles: ['g.conf', 'missing.conf'], globals: { ' ': 'v' } }),
    ).toEqual([
      './g.conf:3: [other] unexpected section in a globals file; expected only [globals]',
      '<command line>: -G: file ./missing.conf (from "missing.conf") does not exist; expected an existing file',
      '<command line>: -g: expected -g KEY=VALUE with a non-empty KEY',
    ]);
  });

  it('reports every problem of every file at once, in one PlanError', () => {
    write({
      'top.conf':
        '[defaults]\nlocal_exe: perhaps\n[runlevels]\nlevel1: one.conf\nlevel2: two.conf\n',
      'one.conf': '[svc-a]\nhostname h\nimage: x\n',
      'two.conf': '[svc-b]\nimage: y\nbootconf: b.json\nhostname: ${c.hostname}\n',
    });
    let error: unknown;
    try {
      load();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PlanError);
    expect((error as PlanError).message.split(dir).join('.')).toBe(
      [
        'The plan has 4 problems:',
        '  ./top.conf:2: [defaults] local_exe: expected true or false (or yes/no, on/off, 1/0), got "perhaps"',
        '  ./one.conf:2: [svc-a] cannot parse "hostname h"; expected [section], key: value, key = value or a comment',
        '  ./two.conf:3: [svc-b] bootconf: file ./b.json (from "b.json") does not exist; expected an existing file',
        '  ./two.conf:4: [svc-b] hostname: ${c.hostname} names unknown service "c"; expected a service of a level before level 2',
      ].join('\n'),
    );
  });
});
