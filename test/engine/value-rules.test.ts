/**
 * A key core reads means the same at load time and at run time: a value
 * from the environment is held to the rule a literal one is checked by.
 */
import { CloudBoot, PlanError } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
const track = planDirs();

describe('one rule per key, at load time and at run time', () => {
  it('refuses a bad ssh_port written in the plan and the same port from the environment', async () => {
    const top = (port: string) =>
      `[defaults]\nhostname: 127.0.0.1\nworkdir: \${WORKDIR}\nssh_port: ${port}\n[runlevels]\nlevel1: l1.conf\n`;
    const plan = track(
      writePlan({
        'literal.conf': top('22.5'),
        'env.conf': top('env.CB_TEST_PORT'),
        'l1.conf': '[svc-a]\n',
      }),
    );
    expect(
      () =>
        new CloudBoot({
          dbDir: plan.dbDir,
          planFile: plan.path('literal.conf'),
          runName: 'literal',
          drivers,
        }),
    ).toThrow(
      new PlanError([
        {
          file: plan.path('literal.conf'),
          line: 4,
          section: 'defaults',
          key: 'ssh_port',
          message: 'expected a whole number from 1 to 65535, got "22.5"',
        },
      ]),
    );
    for (const port of ['22.5', '70000']) {
      const boot = new CloudBoot({
        dbDir: plan.dbDir,
        planFile: plan.path('env.conf'),
        runName: `env-${port.replace('.', '-')}`,
        drivers,
        env: { CB_TEST_PORT: port },
      });
      // Refused before any connection is tried; env values are redacted from messages.
      expect((await boot.run()).failures.map((f) => f.message)).toEqual([
        'a: resolve failed: ssh_port is "<redacted>"; expected a whole number from 1 to 65535',
      ]);
      boot.close();
    }
  });

  it('refuses an iaas_launch from the environment that is not a boolean', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\niaas_launch: env.CB_TEST_LAUNCH\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-a]\n',
      }),
    );
    const run = async (launch: string) => {
      const boot = new CloudBoot({
        dbDir: plan.dbDir,
        planFile: plan.path('top.conf'),
        runName: `launch-${launch}`,
        drivers,
        env: { CB_TEST_LAUNCH: launch },
      });
      const failures = (await boot.run()).failures.map((f) => f.message);
      boot.close();
      return failures;
    };
    expect(await run('maybe')).toEqual([
      'a: resolve failed: iaas_launch is "<redacted>"; expected true or false (or yes/no, on/off, 1/0)',
    ]);
    expect(await run('no')).toEqual([]);
  });
});
