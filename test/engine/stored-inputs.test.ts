/**
 * A run owns its inputs: the programs and bootconf templates are stored in
 * the run database at boot (and reload), so status and terminate still work
 * when the plan directory has moved, and use the run's copy.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { afterEach, describe, expect, it } from 'vitest';
import { writePlan } from '../support/plan-files.js';

const drivers = { 'static-ip': createDriver };
let cleanups: string[] = [];
afterEach(() => {
  for (const dir of cleanups) rmSync(dir, { recursive: true, force: true });
  cleanups = [];
});

describe('after the plan directory moved', () => {
  it('status and terminate use the programs stored with the run', async () => {
    const machine = mkdtempSync(join(tmpdir(), 'cloudboot-test-machine-'));
    const plan = writePlan({
      'top.conf': `[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${machine}\n[runlevels]\nlevel1: l1.conf\n`,
      'l1.conf':
        '[svc-web]\nbootconf: web.json\nbootpgm: files/boot.sh\nreadypgm: files/ready.sh\nterminatepgm: files/stop.sh\nterminatepgm_args: ${.service}\n',
      'web.json': '{"name": "$service"}\n',
      'files/boot.sh': '#!/bin/sh\ngrep -q web bootconf.json\n',
      'files/ready.sh': '#!/bin/sh\ngrep -q web bootconf.json\n',
      'files/stop.sh': `#!/bin/sh\necho "stopped $1" > ${machine}/stopped\n`,
    });
    const moved = `${plan.root}-moved`;
    cleanups.push(machine, plan.root, moved);
    const boot = new CloudBoot({
      dbDir: join(machine, 'db'),
      planFile: plan.path('top.conf'),
      runName: 'moving',
      drivers,
    });
    expect((await boot.run()).failures).toEqual([]);
    boot.close();

    renameSync(plan.root, moved);
    // A file now at the old place is not what the run booted with.
    mkdirSync(plan.path('files'), { recursive: true });
    writeFileSync(plan.path('files', 'ready.sh'), '#!/bin/sh\nexit 7\n', { mode: 0o755 });

    const again = new CloudBoot({ dbDir: join(machine, 'db'), runName: 'moving', drivers });
    const status = await again.checkStatus();
    expect(status.failures.map((f) => f.message)).toEqual([]);
    expect(status.ok).toBe(true);
    const down = await again.shutdown();
    expect(down.failures.map((f) => f.message)).toEqual([]);
    expect(existsSync(join(machine, 'moving'))).toBe(false);
    expect(readFileSync(join(machine, 'stopped'), 'utf8')).toBe('stopped web\n');
    again.close();
  });
});
