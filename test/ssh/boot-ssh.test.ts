/**
 * Whole plans booted and shut down over SSH, on the harness's sshd machines:
 * attributes flowing between levels and machines, the files a service gets
 * on its machine, `.tar.gz` programs, reverse-order shutdown, and one
 * connection per machine per operation.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import {
  Cleanup,
  onHost,
  PUBLISHING_BOOT,
  runlevels,
  serverOf,
  sh,
  sshDefaults,
  tarball,
} from './boot-plans.js';

let hosts: SshHosts;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 4 });
});

afterEach(() => cleanup.run());

afterAll(async () => {
  await hosts?.stop();
});

/** Index in `transitions` of the first one matching, or -1. */
type Transition = { readonly service: string; readonly to: string };
const indexOf = (transitions: readonly Transition[], service: string, to?: string): number =>
  transitions.findIndex((t) => t.service === service && (to === undefined || t.to === to));

const READY = `#!/bin/sh
# Ready when the boot program left its bootout.json in this directory.
[ -s bootout.json ] || { echo "no bootout.json in $(pwd)" >&2; exit 1; }
`;

describe('booting a 3-level plan over 3 machines', () => {
  /**
   * db (host 0) publishes port and password; web (host 1) reads them through
   * deps and its bootconf; cache (host 2) is a .tar.gz program; agent shares
   * db's machine through `${db.hostname}`; front (host 2) reads level 2.
   */
  async function threeLevelPlan() {
    const base = cleanup.base();
    const plan = cleanup.plan({
      'top.conf': `${sshDefaults(hosts, base, 'readypgm: ready.sh\npgm_timeout: 10\n')}${runlevels(3)}`,
      'l1.conf': `[svc-db]\n${onHost(hosts, 0)}bootpgm: boot.sh\nbootpgm_args: port=5433 password=pw-\${.service}\n`,
      'l2.conf': [
        `[svc-web]\n${onHost(hosts, 1)}deps: web_deps.conf\nbootconf: web.json\nbootpgm: boot.sh\nbootpgm_args: db=\${db.hostname}:\${db.port}\n`,
        `[svc-cache]\n${onHost(hosts, 2)}bootpgm: cachepkg.tar.gz\nbootpgm_args: lru\n`,
        '[svc-agent]\nhostname: ${db.hostname}\nssh_port: ${db.ssh_port}\nbootpgm: boot.sh\nbootpgm_args: watching=${db.hostname}\n',
      ].join('\n'),
      'l3.conf': `[svc-front]\n${onHost(hosts, 2)}bootpgm: boot.sh\nbootpgm_args: upstream=\${web.db} cache=\${cache.flavour}\n`,
      'web_deps.conf': '[deps]\ndb_host: ${db.hostname}\ndb_port: ${db.port}\n',
      'web.json':
        '{"url": "postgres://app:${db.password}@${db_host}:${db_port}/orders", "price": "$$10", "me": "$service"}\n',
      'boot.sh': PUBLISHING_BOOT,
      'ready.sh': READY,
      // Runs from the service's directory: writes bootout.json there, reads a file of its own bundle.
      'cachepkg/run.sh': `#!/bin/sh
set -e
server=$(echo "$SSH_CONNECTION" | awk '{print $3 ":" $4}')
bundled=$(cat "$(dirname "$0")/data.txt")
printf '{"flavour": "%s", "script": "%s", "bundled": "%s", "server": "%s"}' "$1" "$0" "$bundled" "$server" > bootout.json
`,
      'cachepkg/data.txt': 'from the tarball\n',
    });
    await tarball(plan.root, 'cachepkg');
    return { base, plan };
  }

  it('flows attributes across levels and machines and reaches ready on every service', async () => {
    const { base, plan } = await threeLevelPlan();
    const boot = cleanup.boot(plan, 'three');
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(boot.getServices().map((level) => level.map((s) => [s.name, s.state]))).toEqual([
      [['db', 'ready']],
      [
        ['web', 'ready'],
        ['cache', 'ready'],
        ['agent', 'ready'],
      ],
      [['front', 'ready']],
    ]);

    const db = hosts.hosts[0]?.address;
    const published = (name: string) => boot.record(name).published;
    // Each program ran on its own machine, from its own working directory.
    expect(published('db')).toEqual({
      server: serverOf(hosts, 0),
      cwd: `${base}/three/db`,
      port: '5433',
      password: 'pw-db',
    });
    expect(published('web')).toEqual({
      server: serverOf(hosts, 1),
      cwd: `${base}/three/web`,
      db: `${db}:5433`,
    });
    expect(published('agent')).toEqual({
      server: serverOf(hosts, 0),
      cwd: `${base}/three/agent`,
      watching: db,
    });
    expect(published('cache')).toEqual({
      flavour: 'lru',
      script: `${base}/three/cache/cachepkg/run.sh`,
      bundled: 'from the tarball',
      server: serverOf(hosts, 2),
    });
    expect(published('front')).toEqual({
      server: serverOf(hosts, 2),
      cwd: `${base}/three/front`,
      upstream: `${db}:5433`,
      cache: 'lru',
    });
    expect(boot.record('agent').hostname).toBe(db);

    // One connection per machine for the whole boot: hosts 0, 1 and 2.
    expect(result.sshHandshakes).toBe(3);
  });

  it('writes bootconf.json and bootenv.sh on the machine, filled from deps and earlier levels', async () => {
    const { base, plan } = await threeLevelPlan();
    const boot = cleanup.boot(plan, 'files');
    expect((await boot.run()).ok).toBe(true);
    const db = hosts.hosts[0]?.address;
    const url = `postgres://app:pw-db@${db}:5433/orders`;

    const web = await cleanup.machine(hosts, 1);
    const bootconf = (await web.readFile(`${base}/files/web/bootconf.json`))?.toString('utf8');
    expect(JSON.parse(bootconf ?? 'null')).toEqual({ url, price: '$10', me: 'web' });
    const bootenv = (await web.readFile(`${base}/files/web/bootenv.sh`))?.toString('utf8') ?? '';
    expect(
      bootenv
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0]),
    ).toEqual(['export url', 'export price', 'export me']);
    // Sourcing it on the machine yields exactly the values, `$` included.
    const sourced = await sh(
      web,
      '. ./bootenv.sh && printf "%s|%s|%s" "$url" "$price" "$me"',
      `${base}/files/web`,
    );
    expect(sourced.stdoutTail).toBe(`${url}|$10|web`);
    // The bundle was unpacked in the service's directory on host 2.
    const cache = await cleanup.machine(hosts, 2);
    const listing = await sh(cache, 'ls cachepkg', `${base}/files/cache`);
    expect(listing.stdoutTail.split('\n').filter(Boolean).sort()).toEqual(['data.txt', 'run.sh']);
  });

  it('starts each level only after every service of the previous one is ready', async () => {
    const { plan } = await threeLevelPlan();
    const boot = cleanup.boot(plan, 'order');
    expect((await boot.run()).ok).toBe(true);
    const transitions = boot.transitions();
    expect(transitions.filter((t) => t.service === 'web').map((t) => t.to)).toEqual([
      'launching',
      'launched',
      'addressed',
      'reachable',
      'contextualizing',
      'contextualized',
      'ready',
    ]);
    const dbReady = indexOf(transitions, 'db', 'ready');
    for (const name of ['web', 'cache', 'agent']) {
      expect(indexOf(transitions, name)).toBeGreaterThan(dbReady);
      expect(indexOf(transitions, 'front')).toBeGreaterThan(indexOf(transitions, name, 'ready'));
    }
  });
});

describe('shutting down over SSH', () => {
  it('runs terminate programs in reverse level order and removes every working directory', async () => {
    const base = cleanup.base();
    const log = `${base}/order.log`;
    const plan = cleanup.plan({
      'top.conf': `${sshDefaults(hosts, base, `bootpgm: boot.sh\nterminatepgm: stop.sh\nterminatepgm_args: \${.service} ${log}\n`)}${runlevels(3)}`,
      'l1.conf': `[svc-a]\n${onHost(hosts, 0)}`,
      'l2.conf': `[svc-b]\n${onHost(hosts, 1)}\n[svc-c]\n${onHost(hosts, 2)}`,
      'l3.conf': `[svc-d]\n${onHost(hosts, 0)}`,
      'boot.sh': PUBLISHING_BOOT,
      // A nanosecond clock reading per line, so the order does not rest on append order alone.
      'stop.sh': '#!/bin/sh\necho "$1 $(date +%s%N)" >> "$2"\n',
    });
    const boot = cleanup.boot(plan, 'down');
    expect((await boot.run()).ok).toBe(true);
    const machines = await Promise.all([0, 1, 2].map((i) => cleanup.machine(hosts, i)));
    const exists = (i: number, path: string) =>
      sh(machines[i] as (typeof machines)[number], `test -e '${path}'`).then(
        (r) => r.exitCode === 0,
      );
    expect(await exists(1, `${base}/down/b/boot.sh`)).toBe(true);

    const result = await boot.shutdown();
    expect(result.failures.map((f) => f.message)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.levels.map((l) => l.level)).toEqual([3, 2, 1]);
    expect(result.sshHandshakes).toBe(3);

    const lines = ((await machines[0]?.readFile(log))?.toString('utf8') ?? '').trim().split('\n');
    const entries = lines.map((line) => {
      const [service, ns] = line.split(' ');
      return { service, at: BigInt(ns ?? '0') };
    });
    expect(entries.map((e) => e.service)).toEqual([
      'd',
      expect.any(String),
      expect.any(String),
      'a',
    ]);
    expect(
      entries
        .slice(1, 3)
        .map((e) => e.service)
        .sort(),
    ).toEqual(['b', 'c']);
    // b and c run at once (one level): each level's clock readings must
    // come after all of the level before's, in no order within the level.
    const at = (service: string) => entries.find((e) => e.service === service)?.at ?? 0n;
    const [b, c] = [at('b'), at('c')];
    expect(at('d') < b && at('d') < c).toBe(true);
    expect(b < at('a') && c < at('a')).toBe(true);

    for (const [i, service] of [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [0, 'd'],
    ] as const) {
      expect(await exists(i, `${base}/down/${service}`)).toBe(false);
    }
    // Only the log the terminate programs shared is left in the base directory.
    expect((await sh(machines[0] as (typeof machines)[number], 'ls', base)).stdoutTail).toBe(
      'order.log\n',
    );
    expect(
      boot
        .getServices()
        .flat()
        .map((s) => [s.name, s.state]),
    ).toEqual([
      ['a', 'terminated'],
      ['b', 'terminated'],
      ['c', 'terminated'],
      ['d', 'terminated'],
    ]);
  });
});

describe('a wide level', () => {
  it('boots 40 services on 4 machines with exactly 4 handshakes', async () => {
    const base = cleanup.base();
    const sections = [0, 1, 2, 3].map(
      (i) =>
        `[svc-m${i}]\n${onHost(hosts, i)}replica_count: 10\nbootpgm: boot.sh\nbootpgm_args: n=\${.service}\n`,
    );
    const plan = cleanup.plan({
      'top.conf': `${sshDefaults(hosts, base, 'readypgm: ready.sh\n')}${runlevels(1)}`,
      'l1.conf': sections.join('\n'),
      'boot.sh': PUBLISHING_BOOT,
      'ready.sh': READY,
    });
    const boot = cleanup.boot(plan, 'wide');
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([]);
    expect(result.sshHandshakes).toBe(4);
    // Per machine its shell (the connect probe) and SFTP; per service one request to
    // claim the directory and write bootconf.json and bootenv.sh, one per program
    // (uploaded with its start), and two to read bootout.json (open, read).
    expect(result.sshChannels).toBe(8);
    expect(result.sshRoundTrips).toBe(4 + 40 * 5);
    const services = boot.getServices().flat();
    expect(services).toHaveLength(40);
    for (const service of services) {
      expect(service.state).toBe('ready');
      const machine = Number(service.name.slice(1, 2));
      expect(boot.record(service.name).published).toEqual({
        server: serverOf(hosts, machine),
        cwd: `${base}/wide/${service.name}`,
        n: service.name,
      });
    }
    const down = await boot.shutdown();
    expect(down.failures).toEqual([]);
    expect(down.sshHandshakes).toBe(4);
    // Per machine its shell (no SFTP); per service one request that checks the mark and removes the directory.
    expect(down.sshRoundTrips).toBe(4 + 40);
    expect(down.sshChannels).toBe(4);
    for (let i = 0; i < 4; i++) {
      const machine = await cleanup.machine(hosts, i);
      expect((await sh(machine, `ls -A '${base}'`)).stdoutTail).toBe('');
    }
  });
});
