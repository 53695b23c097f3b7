/**
 * A machine whose address is known before its level starts (here an
 * existing sshd host named by a literal address) is connected while the
 * earlier levels run, so its level begins with programs, not a handshake;
 * not before those levels run their programs, so that its handshake does not
 * slow theirs. A shutdown, whose levels run in reverse, does the same for
 * the machines of the levels below.
 */
import { readFileSync } from 'node:fs';
import type { CloudBootEvent } from '@cloudboot/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { Cleanup, onHost, runlevels, sshDefaults } from './boot-plans.js';

let hosts: SshHosts;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 2 });
});

afterEach(() => cleanup.run());

afterAll(async () => {
  await hosts?.stop();
});

/** Logins sshd of test host `i` accepted so far. */
function logins(i = 0): number {
  const host = hosts.hosts[i];
  if (host === undefined) throw new RangeError('no test host');
  return readFileSync(host.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('Accepted publickey')).length;
}

describe('connecting ahead of the level', () => {
  it('logs in to a level-2 machine with a literal address while level 1 still runs', async () => {
    const base = cleanup.base();
    const plan = cleanup.plan({
      'top.conf': sshDefaults(hosts, base) + runlevels(2),
      'l1.conf': `[svc-slow]\nlocal_exe: true\nhostname: localhost\nworkdir: \${WORKDIR}\nbootpgm: slow.sh\n`,
      'l2.conf': `[svc-remote]\n${onHost(hosts, 0)}bootpgm: ok.sh\n`,
      'slow.sh': '#!/bin/sh\nsleep 1\n',
      'ok.sh': '#!/bin/sh\nexit 0\n',
    });
    const boot = cleanup.boot(plan, 'prewarm');
    const seen: Array<[string, number]> = [];
    const before = logins();
    boot.on((event: CloudBootEvent) => {
      if (event.type === 'level') seen.push([`${event.action} ${event.level}`, logins() - before]);
    });
    const result = await boot.run();
    expect(result.failures).toEqual([]);
    // Level 1 runs for a second; the login to level 2's machine happened meanwhile.
    expect(seen).toEqual([
      ['starting 1', 0],
      ['complete 1', 1],
      ['starting 2', 1],
      ['complete 2', 1],
    ]);
    expect(result.sshHandshakes).toBe(1);
  });

  it("logs in to a later level's machine only once the current level runs its programs", async () => {
    // Level 1's machine is down when the boot starts and comes up 0.7 s later:
    // its service keeps trying to connect. Level 2's machine (host 1) could
    // be connected at once, but it waits until level 1 runs its program.
    const plan = cleanup.plan({
      'top.conf': sshDefaults(hosts, cleanup.base(), 'pgm_timeout: 10\n') + runlevels(2),
      'l1.conf': `[svc-first]\n${onHost(hosts, 0)}bootpgm: wait.sh\n`,
      'l2.conf': `[svc-second]\n${onHost(hosts, 1)}bootpgm: ok.sh\n`,
      'wait.sh': '#!/bin/sh\nsleep 0.5\n',
      'ok.sh': '#!/bin/sh\nexit 0\n',
    });
    const boot = cleanup.boot(plan, 'prewarm-after-programs');
    const before = logins(1);
    const seen: Array<[string, number]> = [];
    boot.on((event: CloudBootEvent) => {
      if (event.type === 'service' && event.action === 'transition' && event.service === 'first')
        seen.push([event.state, logins(1) - before]);
      if (event.type === 'level') seen.push([`${event.action} ${event.level}`, logins(1) - before]);
    });
    await hosts.stopHost(0);
    const up = setTimeout(() => void hosts.startHost(0), 700);
    try {
      const result = await boot.run();
      expect(result.failures).toEqual([]);
    } finally {
      clearTimeout(up);
      await hosts.startHost(0);
    }
    expect(seen).toEqual([
      ['starting 1', 0],
      ['launching', 0],
      ['launched', 0],
      ['addressed', 0],
      ['reachable', 0],
      ['contextualizing', 0],
      ['contextualized', 1],
      ['ready', 1],
      ['complete 1', 1],
      ['starting 2', 1],
      ['complete 2', 1],
    ]);
  });

  it('logs in to a level-1 machine while the shutdown of level 2 still runs; not with dash-nine', async () => {
    const base = cleanup.base();
    const plan = cleanup.plan({
      'top.conf': sshDefaults(hosts, base) + runlevels(2),
      'l1.conf': `[svc-remote]\n${onHost(hosts, 0)}bootpgm: ok.sh\n`,
      'l2.conf': `[svc-slow]\nlocal_exe: true\nhostname: localhost\nworkdir: \${WORKDIR}\nterminatepgm: slow.sh\n`,
      'slow.sh': '#!/bin/sh\nsleep 1\n',
      'ok.sh': '#!/bin/sh\nexit 0\n',
    });
    const boot = cleanup.boot(plan, 'prewarm-down');
    expect((await boot.run()).failures).toEqual([]);
    const seen: Array<[string, number]> = [];
    let before = logins();
    boot.on((event: CloudBootEvent) => {
      if (event.type === 'level') seen.push([`${event.action} ${event.level}`, logins() - before]);
    });
    const down = await boot.shutdown();
    expect(down.failures).toEqual([]);
    // Level 2's terminate program runs for a second; level 1's machine was logged in to meanwhile.
    expect(seen).toEqual([
      ['starting 2', 0],
      ['complete 2', 1],
      ['starting 1', 1],
      ['complete 1', 1],
    ]);
    expect(down.sshHandshakes).toBe(1);

    // Booted again and torn down with dash-nine: no machine is connected to at all.
    expect((await boot.run()).failures).toEqual([]);
    before = logins();
    seen.length = 0;
    const nine = await boot.shutdown({ dashNine: true });
    expect(nine.failures).toEqual([]);
    expect(seen.map(([, n]) => n)).toEqual([0, 0, 0, 0]);
    expect(nine.sshHandshakes).toBe(0);
  });
});
