import { CloudBoot, type Driver, DriverError, type LaunchContext } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const track = planDirs();

describe('launch: the first call of a token', () => {
  it('tells the driver a new token is on its first call, and a repeated launch is not', async () => {
    const plan = track(
      writePlan({
        'top.conf':
          '[defaults]\nlocal_exe: true\nworkdir: ${WORKDIR}\nimage: img\ndriver: scripted\niaas: here\napi_retries: 1\n[runlevels]\nlevel1: l1.conf\n',
        'l1.conf': '[svc-db]\n[svc-web]\n',
      }),
    );
    const calls: Array<{ service: string; token: string; firstCall: boolean | undefined }> = [];
    // db's first two calls get no answer (its retry too); every other call succeeds.
    let dbFailures = 2;
    const scripted = (): Driver => ({
      name: 'scripted',
      capabilities: { launchesMachines: true, findsByTags: false },
      launch: async (spec, context: LaunchContext) => {
        calls.push({ service: spec.service, token: context.token, firstCall: context.firstCall });
        if (spec.service === 'db' && dbFailures-- > 0) {
          throw new DriverError('transient', 'scripted', 'no answer');
        }
        return { instanceId: `i-${spec.service}` };
      },
      describe: async (ids) =>
        ids.map((instanceId) => ({
          instanceId,
          state: 'running',
          nativeState: 'running',
          address: '127.0.0.1',
        })),
      terminate: async () => {},
      validate: async () => {},
    });
    const boot = new CloudBoot({
      dbDir: plan.dbDir,
      planFile: plan.path('top.conf'),
      runName: 'first',
      drivers: { scripted },
    });
    expect((await boot.run()).ok).toBe(false);
    const db = calls.filter((c) => c.service === 'db');
    const token = db[0]?.token;
    // The retry after a lost answer may follow a call that reached the cloud.
    expect(db).toEqual([
      { service: 'db', token, firstCall: true },
      { service: 'db', token, firstCall: false },
    ]);
    expect(calls.filter((c) => c.service === 'web').map((c) => c.firstCall)).toEqual([true]);
    expect(boot.record('db')).toMatchObject({ state: 'failed', launchToken: token });

    // The repair launches db again with its recorded token: not a first call.
    expect((await boot.repair()).ok).toBe(true);
    expect(calls.filter((c) => c.service === 'db').slice(2)).toEqual([
      { service: 'db', token, firstCall: false },
    ]);
    await boot.shutdown();
    boot.close();
  });
});
