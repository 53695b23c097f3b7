/**
 * A machine whose address is known before its level starts (here an
 * existing sshd host named by a literal address) is connected while the
 * earlier levels run, so its level begins with programs, not a handshake.
 */
import { readFileSync } from 'node:fs';
import type { CloudBootEvent } from '@cloudboot/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { Cleanup, onHost, runlevels, sshDefaults } from './boot-plans.js';

let hosts: SshHosts;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 1 });
});

afterEach(() => cleanup.run());

afterAll(async () => {
  await hosts?.stop();
});

/** Logins sshd of test host 0 accepted so far. */
function logins(): number {
  const host = hosts.hosts[0];
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
});
