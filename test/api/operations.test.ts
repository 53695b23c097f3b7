import { writeFileSync } from 'node:fs';
import { CloudBoot, type OperationResult, RunLockedError, UsageError } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { describe, expect, it } from 'vitest';
import { type PlanDir, planDirs, writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
const track = planDirs();

/** db in level 1, web in level 2; ready fails while `broken` exists, and booting removes it. */
function twoLevels(): PlanDir {
  return track(
    writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\nbootpgm: boot.sh\nreadypgm: ready.sh\n[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n',
      'l1.conf': '[svc-db]\n',
      'l2.conf': '[svc-web]\n',
      'boot.sh': '#!/bin/sh\necho "boot $(basename "$PWD")" >> ${ROOT}/log\nrm -f ${ROOT}/broken\n',
      'ready.sh':
        '#!/bin/sh\necho "ready $(basename "$PWD")" >> ${ROOT}/log\ntest ! -e ${ROOT}/broken\n',
    }),
  );
}

function open(plan: PlanDir, runName: string): CloudBoot {
  return new CloudBoot({ dbDir: plan.dbDir, planFile: plan.path('top.conf'), runName, drivers });
}

/** Each level's services with their status, as the result reports them. */
function outcome(result: OperationResult): string[] {
  return result.levels.flatMap((l) =>
    l.services.map((s) => `${l.level} ${l.status}: ${s.service} ${s.status}`),
  );
}

describe('operations return the promise of their result', () => {
  it('checkStatus() resolves with the status result and repair() with the repair result', async () => {
    const plan = twoLevels();
    const boot = open(plan, 'ops');
    expect((await boot.run()).ok).toBe(true);
    writeFileSync(plan.path('broken'), '');

    const status = await boot.checkStatus();
    expect(status.operation).toBe('status');
    expect(status.ok).toBe(false);
    expect(status.failures.map((f) => f.message)).toEqual([
      'db: ready failed: ready program ready.sh exited with status 1',
      'web: ready failed: ready program ready.sh exited with status 1',
    ]);
    expect(outcome(status)).toEqual(['1 error: db error', '2 error: web error']);
    expect(boot.services().map((s) => [s.name, s.state, s.failure?.phase])).toEqual([
      ['db', 'failed', 'ready'],
      ['web', 'failed', 'ready'],
    ]);

    const repair = await boot.repair();
    expect(repair.operation).toBe('repair');
    expect(repair.ok).toBe(true);
    expect(outcome(repair)).toEqual(['1 success: db success', '2 success: web success']);
    expect(boot.services().map((s) => [s.name, s.state])).toEqual([
      ['db', 'ready'],
      ['web', 'ready'],
    ]);
    // Status ran both ready programs; repair rebooted db, whose boot mended web too.
    expect(plan.read('log').trim().split('\n')).toEqual([
      'boot db',
      'ready db',
      'boot web',
      'ready web',
      'ready db',
      'ready web',
      'ready db',
      'boot db',
      'ready db',
      'ready web',
    ]);

    const down = await boot.shutdown();
    expect(down.operation).toBe('shutdown');
    expect(outcome(down)).toEqual(['2 success: web success', '1 success: db success']);
    boot.close();
  });

  it('a CloudService shuts down and starts alone, each resolving with its result', async () => {
    const plan = twoLevels();
    const boot = open(plan, 'one');
    expect((await boot.run()).ok).toBe(true);
    const web = boot.getServices()[1]?.[0];
    if (web === undefined) throw new Error('no web service');

    const down = await web.shutdown({ dashNine: true });
    expect(down.operation).toBe('shutdown');
    expect(outcome(down)).toEqual(['2 success: web success']);
    expect([web.state, boot.record('db').state]).toEqual(['terminated', 'ready']);
    expect(web.poll()).toBe(true);

    const up = await web.start();
    expect(up.operation).toBe('boot');
    expect(outcome(up)).toEqual(['2 success: web success']);
    expect([web.state, boot.record('db').state]).toEqual(['ready', 'ready']);
    expect(plan.read('log').trim().split('\n').slice(4)).toEqual(['boot web', 'ready web']);
    await boot.shutdown();
    boot.close();
  });

  it('an operation that cannot begin rejects its promise, and the running one goes on', async () => {
    const plan = twoLevels();
    const boot = open(plan, 'busy');
    boot.close();
    const first = new CloudBoot({ dbDir: plan.dbDir, runName: 'busy', drivers });
    const other = new CloudBoot({ dbDir: plan.dbDir, runName: 'busy', drivers });
    const running = first.run();
    const busy = first.checkStatus();
    const busyService = first.getServices()[0]?.[0]?.shutdown();
    const locked = other.repair();
    const lockedToo = other.shutdown();
    await expect(busy).rejects.toThrow(
      new UsageError('an operation (boot) is already running on run busy'),
    );
    await expect(busyService).rejects.toThrow(UsageError);
    await expect(locked).rejects.toThrow(RunLockedError);
    await expect(lockedToo).rejects.toThrow(/Run "busy" is in use by "boot" \(pid \d+/);
    const result = await running;
    expect(result.ok).toBe(true);
    expect(await first.wait()).toBe(result);
    expect(first.services().map((s) => s.state)).toEqual(['ready', 'ready']);
    first.close();
    // The lock is free again once the operation has settled.
    expect((await other.checkStatus()).ok).toBe(true);
    expect((await other.shutdown()).ok).toBe(true);
    other.close();
  });

  it('a second handle in the same process meets the run lock while the first is writing', async () => {
    const plan = twoLevels();
    open(plan, 'writing').close();
    const first = new CloudBoot({ dbDir: plan.dbDir, runName: 'writing', drivers });
    const other = new CloudBoot({ dbDir: plan.dbDir, runName: 'writing', drivers });
    let attempt: Promise<unknown> | undefined;
    // A transition event follows its write at once, before the group commit:
    // the first handle holds SQLite's write lock when the other tries its run lock.
    first.on((e) => {
      if (attempt === undefined && e.type === 'service' && e.action === 'transition') {
        attempt = other.checkStatus().catch((error: unknown) => error);
      }
    });
    const result = await first.run();
    // Not SQLite's "database is locked" after its busy wait, which blocked the event loop.
    expect(await attempt).toBeInstanceOf(RunLockedError);
    expect(result.ok).toBe(true);
    first.close();
    other.close();
  });
});

describe('reading a run through the API', () => {
  it('gives every service record, the transitions and the instances of the run', async () => {
    const plan = twoLevels();
    const boot = open(plan, 'reads');
    expect(boot.services().map((s) => [s.name, s.level, s.state])).toEqual([
      ['db', 1, 'pending'],
      ['web', 2, 'pending'],
    ]);
    expect(boot.transitions()).toEqual([]);
    expect(boot.instances()).toEqual([]);
    expect((await boot.run()).ok).toBe(true);
    const [db, web] = boot.services();
    expect(boot.instances().map((i) => [i.service, i.token, i.instanceId, i.terminatedAt])).toEqual(
      [
        ['db', db?.launchToken, 'static:localhost', null],
        ['web', web?.launchToken, 'static:localhost', null],
      ],
    );
    await boot.getServices()[1]?.[0]?.shutdown();
    // Both run on the one existing machine: releasing web ends only web's row.
    expect(boot.instances().map((i) => [i.service, i.terminatedAt !== null])).toEqual([
      ['db', false],
      ['web', true],
    ]);

    expect(boot.transitions('web').map((t) => `${t.from}->${t.to}`)).toEqual([
      'pending->launching',
      'launching->launched',
      'launched->addressed',
      'addressed->reachable',
      'reachable->contextualizing',
      'contextualizing->contextualized',
      'contextualized->ready',
      'ready->terminating',
      'terminating->terminated',
    ]);
    const all = boot.transitions();
    expect(all.filter((t) => t.service === 'db').map((t) => t.to)).toEqual([
      'launching',
      'launched',
      'addressed',
      'reachable',
      'contextualizing',
      'contextualized',
      'ready',
    ]);
    // Oldest first: db is ready before web starts launching.
    const dbReady = all.findIndex((t) => t.service === 'db' && t.to === 'ready');
    const webLaunch = all.findIndex((t) => t.service === 'web' && t.to === 'launching');
    expect(dbReady).toBeLessThan(webLaunch);

    // A second handle on the run reads the same rows from the database.
    const again = new CloudBoot({ dbDir: plan.dbDir, runName: 'reads' });
    expect(again.services()).toEqual(boot.services());
    expect(again.transitions()).toEqual(all);
    again.close();
    await boot.shutdown();
    boot.close();
  });
});
