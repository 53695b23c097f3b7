import { existsSync, readFileSync } from 'node:fs';
import { CloudBoot, credentialKeysOf, REDACTED, SECRET_KEYS } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const stateDriver = new URL('../fixtures/drivers/state-file-driver.mjs', import.meta.url).pathname;
const track = planDirs();

function inhousePlan() {
  return track(
    writePlan({
      'top.conf': `[defaults]\nlocal_exe: true\nworkdir: \${WORKDIR}\nimage: img\ndriver: ${stateDriver}\nstate_file: \${ROOT}/cloud.json\n[runlevels]\nlevel1: l1.conf\n`,
      'l1.conf': '[svc-a]\nstate_token: inhouse-s3cret-token\n',
    }),
  );
}

/** The database file and its write-ahead log, byte for byte. */
function databaseBytes(file: string): string {
  return [file, `${file}-wal`]
    .filter(existsSync)
    .map((f) => readFileSync(f).toString('latin1'))
    .join('');
}

describe('credential keys declared by driver modules', () => {
  it("CloudBoot.create() imports the plan's driver modules and redacts their keys before storing", async () => {
    const plan = inhousePlan();
    const boot = await CloudBoot.create({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'c',
    });
    expect(boot.plan.credentialKeys).toEqual(['state_token']);
    expect(boot.plan.levels[0]?.services[0]?.keys.state_token?.value).toBe(REDACTED);
    expect(databaseBytes(boot.databaseFile)).not.toContain('s3cret');
    expect((await boot.run()).ok).toBe(true);
    // The driver still gets the value, read again from the plan file.
    expect(boot.attributes().key('a', 'state_token')).toBe('inhouse-s3cret-token');
    await boot.shutdown();
    boot.close();
    expect(databaseBytes(boot.databaseFile)).not.toContain('s3cret');
  });

  it('CloudBoot.create() stores the plan it checked: files edited while driver modules load are not read again', async () => {
    const editing = new URL('../fixtures/drivers/plan-editing-driver.mjs', import.meta.url)
      .pathname;
    const plan = track(
      writePlan({
        'top.conf': `[defaults]\nlocal_exe: true\nimage: img\ndriver: ${editing}\n[runlevels]\nlevel1: l1.conf\n`,
        'l1.conf': '[svc-a]\n',
      }),
    );
    process.env.CLOUDBOOT_TEST_EDIT_ON_IMPORT = plan.path('l1.conf');
    try {
      const boot = await CloudBoot.create({
        dbDir: plan.dbDir,
        planFile: plan.path('top.conf'),
        runName: 'e',
      });
      // The module did edit the file; the run has the plan as it was checked.
      expect(readFileSync(plan.path('l1.conf'), 'utf8')).toContain('[svc-added-later]');
      expect(boot.plan.levels[0]?.services.map((s) => s.name)).toEqual(['a']);
      boot.close();
      const reopened = new CloudBoot({ dbDir: plan.dbDir, runName: 'e' });
      expect(reopened.plan.levels[0]?.services.map((s) => s.name)).toEqual(['a']);
      reopened.close();
    } finally {
      delete process.env.CLOUDBOOT_TEST_EDIT_ON_IMPORT;
    }
  });

  it('a run made without them learns the keys when the driver loads, and scrubs the file', async () => {
    const plan = inhousePlan();
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'l',
    });
    // Stored before the module was loaded: the value is in the file for now.
    expect(boot.plan.credentialKeys).toBeUndefined();
    expect(databaseBytes(boot.databaseFile)).toContain('inhouse-s3cret-token');
    expect((await boot.run()).ok).toBe(true);
    expect(boot.plan.credentialKeys).toEqual(['state_token']);
    expect(databaseBytes(boot.databaseFile)).not.toContain('s3cret');
    expect((await boot.describe()).levels[0]?.services[0]?.attributes.state_token).toBe(REDACTED);
    await boot.shutdown();
    boot.close();
    const reopened = new CloudBoot({ dbDir: plan.dbDir, runName: 'l' });
    expect(reopened.plan.credentialKeys).toEqual(['state_token']);
    reopened.close();
  });

  it('rejects a credentialKeys export that is not a list of key names', () => {
    expect(credentialKeysOf({ credentialKeys: ['a_b', 'Token'] }, 'm')).toEqual(['a_b', 'token']);
    expect(credentialKeysOf({}, 'm')).toEqual([]);
    expect(() => credentialKeysOf({ credentialKeys: 'token' }, 'driver "x"')).toThrow(
      `driver "x" exports credentialKeys that is not a list of plan key names: expected e.g. "export const credentialKeys = ['my_token']"`,
    );
  });

  it('core knows every credential key the built-in cloud drivers declare before loading them', async () => {
    for (const name of ['ec2', 'gce', 'openstack']) {
      const module: unknown = await import(`@cloudboot/driver-${name}`);
      for (const key of credentialKeysOf(module, name)) {
        expect(SECRET_KEYS.has(key), `${name} declares ${key}`).toBe(true);
      }
    }
  });
});
