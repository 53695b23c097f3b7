import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudBoot, REDACTED, TemplateError } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { afterEach, describe, expect, it } from 'vitest';
import { type PlanDir, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
let dirs: PlanDir[] = [];
afterEach(() => {
  for (const d of dirs) d.remove();
  dirs = [];
});

const TOP = [
  '[defaults]',
  'local_exe: true',
  'hostname: localhost',
  'workdir: ${WORKDIR}',
  'iaas_secret: defaults-s3cret-1',
  'cloud: cloud-x',
  '[cloud-x]',
  'iaas_key: AKIA-profile-s3cret-2',
  '[runlevels]',
  'level1: l1.conf',
  '',
].join('\n');

/** Two services: `db` takes both credentials from [defaults] and the profile, `web` has its own secret. */
function secretPlan(): PlanDir {
  const plan = writePlan({
    'top.conf': TOP,
    'l1.conf': [
      '[svc-db]',
      'bootpgm: boot.sh',
      'bootpgm_args: ${.service} ${.iaas_secret} ${.iaas_key}',
      '[svc-web]',
      'iaas_secret: web-own-s3cret-3',
      'bootpgm: boot.sh',
      'bootpgm_args: ${.service} ${.iaas_secret} ${.iaas_key}',
      '',
    ].join('\n'),
    'boot.sh': '#!/bin/sh\nprintf "%s|" "$@" > ${ROOT}/argv-$1\n',
  });
  dirs.push(plan);
  return plan;
}

/** The attribute, or the message of the error resolving it. */
function attrOrError(boot: CloudBoot, service: string, name: string): string | undefined {
  try {
    return boot.attributes().attr(service, name);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    return (error as Error).message;
  }
}

describe('credentials written literally in the plan', () => {
  it('reach the programs but not the run database, in a new run and a reopened one', async () => {
    const plan = secretPlan();
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'lit',
      drivers,
    });
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([]);
    expect(plan.read('argv-db')).toBe('db|defaults-s3cret-1|AKIA-profile-s3cret-2|');
    expect(plan.read('argv-web')).toBe('web|web-own-s3cret-3|AKIA-profile-s3cret-2|');
    const db = boot.getServices()[0]?.find((s) => s.name === 'db');
    expect(db?.getAttrFromBag('iaas_secret')).toBe('defaults-s3cret-1');
    const stored = boot.plan.levels[0]?.services[0]?.keys.iaas_secret;
    expect(stored).toEqual({
      value: REDACTED,
      secret: true,
      source: { file: plan.path('top.conf'), line: 5, section: 'defaults', key: 'iaas_secret' },
    });
    const inMemory = boot.plan;
    boot.close();

    for (const file of [boot.databaseFile, `${boot.databaseFile}-wal`].filter(existsSync)) {
      expect(readFileSync(file).toString('latin1')).not.toContain('s3cret');
    }
    expect(readFileSync(join(boot.logDir, 'db.log'), 'utf8')).not.toContain('s3cret');

    const reopened = new CloudBoot({ dbDir: plan.dbDir, runName: 'lit', drivers });
    expect(reopened.plan).toEqual(inMemory);
    const services = reopened.getServices()[0] ?? [];
    expect(services.map((s) => [s.name, s.getAttrFromBag('iaas_secret')])).toEqual([
      ['db', 'defaults-s3cret-1'],
      ['web', 'web-own-s3cret-3'],
    ]);
    expect(services[0]?.getAttrFromBag('iaas_key')).toBe('AKIA-profile-s3cret-2');
    reopened.close();
  });

  it('are read once per file by one attribute resolver, and a clear error once gone from the file', async () => {
    const plan = secretPlan();
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'gone',
      drivers,
    });
    expect((await boot.run()).ok).toBe(true);
    const attrs = boot.attributes();
    expect(attrs.attr('db', 'iaas_secret')).toBe('defaults-s3cret-1');
    boot.close();

    writeFileSync(plan.path('top.conf'), TOP.replace('iaas_secret: defaults-s3cret-1\n', ''));
    // The resolver that already read the file keeps what it read.
    expect(attrs.attr('db', 'iaas_secret')).toBe('defaults-s3cret-1');
    const reopened = new CloudBoot({ dbDir: plan.dbDir, runName: 'gone', drivers });
    const message = `iaas_secret of service db: the plan file ${plan.path('top.conf')}:5 no longer has it (there is no iaas_secret in [defaults] now); literal credentials are not stored with the run but read again from the plan file, so write it as env.NAME so it need not be stored, and reload the plan`;
    expect(attrOrError(reopened, 'db', 'iaas_secret')).toBe(message);
    // Other keys of the same file, and a service's own secret, are still there.
    expect(attrOrError(reopened, 'db', 'iaas_key')).toBe('AKIA-profile-s3cret-2');
    expect(attrOrError(reopened, 'web', 'iaas_secret')).toBe('web-own-s3cret-3');
    const again = await reopened.run();
    expect(again.failures.map((f) => f.message)).toEqual([expect.stringContaining(message)]);
    reopened.close();
  });

  it('is an error when the key now reads env.NAME or the file is gone, until the plan is reloaded', async () => {
    const plan = secretPlan();
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'changed',
      drivers,
      env: { CLOUD_SECRET: 'from-env' },
    });
    writeFileSync(
      plan.path('top.conf'),
      TOP.replace('iaas_secret: defaults-s3cret-1', 'iaas_secret: env.CLOUD_SECRET'),
    );
    expect(attrOrError(boot, 'db', 'iaas_secret')).toContain(
      `:5 no longer has it (it is now env.CLOUD_SECRET; reload the plan to use that)`,
    );
    boot.reload(plan.path('top.conf'));
    expect(attrOrError(boot, 'db', 'iaas_secret')).toBe('from-env');

    plan.remove();
    expect(attrOrError(boot, 'web', 'iaas_secret')).toBe(
      `iaas_secret of service web: the plan file ${plan.path('l1.conf')}:5 no longer has it (the file cannot be read: ENOENT); literal credentials are not stored with the run but read again from the plan file, so write it as env.NAME so it need not be stored, and reload the plan`,
    );
    boot.close();
  });
});
