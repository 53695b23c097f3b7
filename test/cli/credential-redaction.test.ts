import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from 'cloudboot';
import { describe, expect, it } from 'vitest';
import { type PlanDir, planDirs, writePlan } from '../support/plan-files.js';

const stateDriver = new URL('../fixtures/drivers/state-file-driver.mjs', import.meta.url).pathname;
const track = planDirs();

async function cli(plan: PlanDir, argv: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...argv, '-d', plan.dbDir], {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env: { ...process.env, NO_COLOR: '1', ...env },
    cwd: plan.root,
  });
  return { code, stdout, stderr };
}

/** Every file under `dir`, as text (latin1: byte for byte). */
function filesUnder(dir: string): Array<[string, string]> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .map((f) => [f, readFileSync(f).toString('latin1')]);
}

const SECRETS = {
  gceLiteral: 'gce-literal-s3cret-1',
  awsEnv: 'aws-env-s3cret-2',
  osLiteral: 'os-literal-s3cret-3',
  inhouseLiteral: 'inhouse-literal-s3cret-4',
  inhouseEnv: 'inhouse-env-s3cret-5',
  gceEnv: 'gce-env-s3cret-6',
};

describe('credential keys of every driver are kept out of every record', () => {
  it('the run database, the service logs, -o and --json hold no credential, literal or env.NAME', async () => {
    const plan = track(
      writePlan({
        'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\nimage: img\ndriver: ${stateDriver}\nstate_file: \${ROOT}/cloud.json\nbootpgm: boot.sh\n[runlevels]\nlevel1: l1.conf\n`,
        'l1.conf': [
          '[svc-a]',
          `gce_access_token: ${SECRETS.gceLiteral}`,
          'aws_session_token: env.AWS_TOK',
          `os_password: ${SECRETS.osLiteral}`,
          `state_token: ${SECRETS.inhouseLiteral}`,
          'bootpgm_args: a ${.gce_access_token} ${.aws_session_token} ${.os_password} ${.state_token}',
          '[svc-b]',
          'gce_access_token: env.GOOGLE_OAUTH_ACCESS_TOKEN',
          'state_token: env.STATE_TOKEN',
          'bootpgm_args: b ${.gce_access_token} ${.state_token}',
          'readypgm: ready.sh',
          'readypgm_args: ${.state_token}',
          '',
        ].join('\n'),
        // The programs print what they get, on stdout and stderr: the logs and the stored
        // failure must still not show it; argv-NAME proves the programs did get it.
        'boot.sh': '#!/bin/sh\necho "$@" > ${ROOT}/argv-$1\necho "booting with $*"\n',
        'ready.sh': '#!/bin/sh\necho "token $1 refused" >&2\nexit 1\n',
      }),
    );
    const env = {
      AWS_TOK: SECRETS.awsEnv,
      GOOGLE_OAUTH_ACCESS_TOKEN: SECRETS.gceEnv,
      STATE_TOKEN: SECRETS.inhouseEnv,
    };
    const boot = await cli(
      plan,
      ['boot', 'top.conf', '-n', 'sec', '--json', '-o', 'out.json'],
      env,
    );
    expect(boot.code).toBe(1);
    expect(plan.read('argv-a')).toBe(
      `a ${SECRETS.gceLiteral} ${SECRETS.awsEnv} ${SECRETS.osLiteral} ${SECRETS.inhouseLiteral}\n`,
    );
    expect(plan.read('argv-b')).toBe(`b ${SECRETS.gceEnv} ${SECRETS.inhouseEnv}\n`);
    const status = await cli(plan, ['status', 'sec', '--json', '-o', 'status.json'], env);
    expect(status.code).toBe(1);

    const records: Array<[string, string]> = [
      ...filesUnder(plan.dbDir),
      ['out.json', plan.read('out.json')],
      ['status.json', plan.read('status.json')],
      ['boot --json', boot.stdout],
      ['status --json', status.stdout],
    ];
    expect(records.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        join(plan.dbDir, 'cloudboot-sec.db'),
        join(plan.dbDir, 'logs', 'sec', 'a.log'),
        join(plan.dbDir, 'logs', 'sec', 'b.log'),
      ]),
    );
    for (const [name, text] of records) {
      for (const secret of Object.values(SECRETS)) {
        expect(text.includes(secret), `${secret} in ${name}`).toBe(false);
      }
    }
    // What is there instead.
    const a = JSON.parse(plan.read('out.json')).levels[0].services[0].attributes;
    expect(a).toMatchObject({
      gce_access_token: '<redacted>',
      aws_session_token: '<redacted>',
      os_password: '<redacted>',
      state_token: '<redacted>',
    });
    expect(plan.read('db', 'logs', 'sec', 'b.log')).toContain('token <redacted> refused');
    expect(boot.stdout).toContain('"stderrTail":"token <redacted> refused\\n"');
    expect(plan.read('db', 'logs', 'sec', 'a.log')).toContain(
      'booting with a <redacted> <redacted> <redacted> <redacted>',
    );
    expect((await cli(plan, ['terminate', 'sec', '-q'], env)).code).toBe(0);
  });

  it('reload learns the credential keys of a driver module new in the plan before storing it', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\n',
        'top2.conf':
          '[defaults]\nlocal_exe: true\nworkdir: ${WORKDIR}\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n',
        'l1.conf': '[svc-here]\nhostname: localhost\n',
        'l2.conf': `[svc-vm]\nimage: img\ndriver: ${stateDriver}\nstate_file: \${ROOT}/cloud.json\nstate_token: ${SECRETS.inhouseLiteral}\n`,
      }),
    );
    expect((await cli(plan, ['boot', 'top.conf', '-n', 'rl', '-q'], {})).code).toBe(0);
    const reload = await cli(plan, ['reload', 'top2.conf', '-n', 'rl', '-q'], {});
    expect(reload.stderr).toBe('');
    expect(reload.code).toBe(0);
    expect(plan.read('cloud.json')).toContain('"service":"vm"');
    for (const [name, text] of filesUnder(plan.dbDir)) {
      expect(text.includes(SECRETS.inhouseLiteral), name).toBe(false);
    }
    expect((await cli(plan, ['terminate', 'rl', '-q'], {})).code).toBe(0);
  });
});
