/**
 * A boot program outlives a dropped SSH connection: sshd's per-connection
 * processes are killed while it runs (once, then over and over), cloudboot
 * reconnects and waits for the same program, and the service ends ready
 * with the program run exactly once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MachineSession } from '../../packages/core/src/exec/machine.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { Cleanup, eventually, onHost, runlevels, sh, sshDefaults } from './boot-plans.js';

let hosts: SshHosts;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 1 });
});
afterEach(() => cleanup.run());
afterAll(async () => {
  await hosts?.stop();
});

/** One service whose boot program counts its runs in `runs`, then works for 2.5 s. */
function countingPlan(base: string) {
  return cleanup.plan({
    'top.conf': `${sshDefaults(hosts, base, 'pgm_timeout: 30\n')}bootpgm: boot.sh\nreadypgm: ready.sh\n${runlevels(1)}`,
    'l1.conf': `[svc-app]\n${onHost(hosts, 0)}`,
    'boot.sh':
      '#!/bin/sh\necho ran >> runs\necho working\nsleep 2.5\necho "{\\"cwd\\": \\"$(pwd)\\"}" > bootout.json\n',
    'ready.sh': '#!/bin/sh\ntest -f bootout.json\n',
  });
}

/** Lines in every `runs` file under `base` on the machine. */
async function runsUnder(machine: MachineSession, base: string): Promise<number> {
  const counted = await sh(machine, `cat ${base}/*/*/runs 2>/dev/null | wc -l`);
  return Number(counted.stdoutTail.trim());
}

describe('a connection dropped while the boot program runs', () => {
  for (const [what, drops] of [
    ['once', 1],
    ['repeatedly', 5],
  ] as const) {
    it(`drops ${what}: the service ends ready and the program ran once`, async () => {
      const base = cleanup.base();
      const plan = countingPlan(base);
      const witness = await cleanup.machine(hosts, 0);
      const boot = cleanup.boot(plan, `drop-${drops}`);
      const running = boot.run();
      expect(await eventually(async () => (await runsUnder(witness, base)) === 1, 5_000)).toBe(
        true,
      );
      for (let i = 0; i < drops; i++) {
        // After the first drop, cloudboot's connection comes back before the next.
        expect(await eventually(async () => hosts.dropConnections(0) > 0, 5_000)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const result = await running;
      expect(result.failures.map((f) => f.message)).toEqual([]);
      expect(boot.record('app').state).toBe('ready');
      const cwd = String(boot.record('app').published.cwd);
      expect((await witness.readFile(`${cwd}/runs`))?.toString()).toBe('ran\n');
      expect(result.sshHandshakes).toBeGreaterThan(drops);
      expect(result.sshHandshakes).toBeLessThanOrEqual(drops + 1);
    });
  }
});
