/**
 * Whole plans over SSH that go wrong: a machine that is down, a key the
 * machine refuses, a failing or overrunning boot program, a host key that
 * changed between boot and status, and attribute values written to attack
 * the shell. Each failure is checked by the exact message a user sees.
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostKeyFingerprint } from '../../packages/core/src/exec/ssh-pool.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { readRunDatabase } from '../support/run-database.js';
import {
  Cleanup,
  cli,
  eventually,
  onHost,
  PUBLISHING_BOOT,
  runlevels,
  sh,
  sshDefaults,
} from './boot-plans.js';
import { generateKey, isRunning, labelOf } from './targets.js';

let hosts: SshHosts;
const cleanup = new Cleanup();

beforeAll(async () => {
  hosts = await startSshHosts({ count: 4 });
});

afterEach(() => cleanup.run());

afterAll(async () => {
  await hosts?.stop();
});

/** `text` as a regular expression that matches exactly it. */
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A one-service plan on host `i` with `keys` added to the service. */
function oneService(base: string, i: number, keys: string, files: Record<string, string> = {}) {
  return cleanup.plan({
    'top.conf': `${sshDefaults(hosts, base, 'pgm_timeout: 2\n')}${runlevels(1)}`,
    'l1.conf': `[svc-lone]\n${onHost(hosts, i)}${keys}`,
    ...files,
  });
}

describe('reaching the machine', () => {
  it('gives up on a closed port within pgm_timeout, at stage tcp', async () => {
    await hosts.stopHost(3);
    try {
      const plan = oneService(cleanup.base(), 3, 'bootpgm: boot.sh\n', {
        'boot.sh': PUBLISHING_BOOT,
      });
      const boot = cleanup.boot(plan, 'closed');
      const started = Date.now();
      const result = await boot.run();
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(result.failures.map((f) => f.phase)).toEqual(['connect']);
      expect(result.failures[0]?.message).toMatch(
        new RegExp(
          `^lone: connect failed: ${literal(labelOf(hosts, 3))}: tcp: connection refused \\(gave up after \\d+ attempts in \\d\\.\\d s\\)$`,
        ),
      );
      const record = boot.record('lone');
      expect(record.state).toBe('failed');
      expect(record.failure?.phase).toBe('connect');
      expect(result.sshHandshakes).toBe(0);
    } finally {
      await hosts.startHost(3);
    }
  });

  it('fails at once at stage auth when an existing machine refuses the key', async () => {
    // A freshly launched VM gets a grace period for its keys to be installed;
    // an existing machine is up, so a refusal is final: no waiting for
    // pgm_timeout (30 s here). The key is a fresh one in no authorized_keys.
    const plan = cleanup.plan({
      'top.conf': `${sshDefaults(hosts, cleanup.base(), 'pgm_timeout: 30\nlocalsshkeypath: ${ROOT}/wrong_ed25519\n')}${runlevels(1)}`,
      'l1.conf': `[svc-lone]\n${onHost(hosts, 0)}bootpgm: boot.sh\n`,
      'boot.sh': PUBLISHING_BOOT,
    });
    const wrongKey = plan.path('wrong_ed25519');
    await generateKey(wrongKey);
    const refused = cleanup.boot(plan, 'refused');
    const started = Date.now();
    const result = await refused.run();
    const took = Date.now() - started;
    expect(took).toBeLessThan(2_000);
    expect(result.failures.map((f) => f.phase)).toEqual(['connect']);
    expect(result.failures[0]?.message).toMatch(
      new RegExp(
        `^lone: connect failed: ${literal(labelOf(hosts, 0))}: auth: the server refused key ${literal(wrongKey)} \\(publickey\\)$`,
      ),
    );
    // Key exchanges happened (the machine answered), the login did not.
    expect(result.sshHandshakes).toBeGreaterThan(0);
    expect(refused.record('lone').state).toBe('failed');
  });
});

describe('programs on the machine', () => {
  it('fails a boot program that exits non-zero, keeping the tail of its output in the run database', async () => {
    const base = cleanup.base();
    const plan = cleanup.plan({
      'top.conf': `${sshDefaults(hosts, base)}${runlevels(2)}`,
      'l1.conf': `[svc-ok]\n${onHost(hosts, 0)}bootpgm: boot.sh\n\n[svc-bad]\n${onHost(hosts, 1)}bootpgm: bad.sh\n`,
      'l2.conf': `[svc-later]\n${onHost(hosts, 2)}bootpgm: boot.sh\n`,
      'boot.sh': PUBLISHING_BOOT,
      // More stderr than the 4 KiB tail that is kept, so only the end survives.
      'bad.sh': `#!/bin/sh
echo "preparing disk"
head -c 6000 /dev/zero | tr '\\0' x >&2
printf '\\ndisk full\\n' >&2
exit 3
`,
    });
    const boot = cleanup.boot(plan, 'bad');
    const result = await boot.run();
    expect(result.levels.map((l) => l.status)).toEqual(['error', 'not-executed']);
    expect(result.failures.map((f) => [f.phase, f.message])).toEqual([
      ['contextualize', 'bad: contextualize failed: boot program bad.sh exited with status 3'],
    ]);
    expect(result.failures[0]?.stderrTail.endsWith('x\ndisk full\n')).toBe(true);

    // What the database holds, read back by a new handle on the run.
    const reopened = cleanup.reopen(plan, 'bad');
    const bad = reopened.record('bad');
    expect(bad.state).toBe('failed');
    expect(bad.failure).toEqual({
      phase: 'contextualize',
      message: 'boot program bad.sh exited with status 3',
      stdoutTail: 'preparing disk\n',
      stderrTail: `${'x'.repeat(4096 - '\ndisk full\n'.length)}\ndisk full\n`,
    });
    expect(reopened.record('ok').state).toBe('ready');
    expect(reopened.record('later').state).toBe('pending');
  });

  it('kills a boot program that overruns pgm_timeout, with its children, on the machine', async () => {
    const base = cleanup.base();
    const plan = oneService(base, 2, 'bootpgm: slow.sh\n', {
      // Records its own pid and its child's, then waits on the child.
      'slow.sh': '#!/bin/sh\necho $$ > slow.pid\nsleep 30 &\necho $! > sleep.pid\nwait\n',
    });
    const boot = cleanup.boot(plan, 'slow');
    const started = Date.now();
    const result = await boot.run();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.failures.map((f) => [f.phase, f.message])).toEqual([
      [
        'contextualize',
        'lone: contextualize failed: boot program slow.sh did not finish within 2 s (pgm_timeout) and was killed',
      ],
    ]);
    const machine = await cleanup.machine(hosts, 2);
    for (const file of ['slow.pid', 'sleep.pid']) {
      const pid = Number((await machine.readFile(`${base}/slow/lone/${file}`))?.toString('utf8'));
      expect(pid).toBeGreaterThan(1);
      expect(await eventually(async () => !(await isRunning(machine, pid)))).toBe(true);
    }
  });
});

describe('a host key that changed between boot and status', () => {
  it('fails status in the connect phase, naming the pinned and the new fingerprint', async () => {
    const base = cleanup.base();
    const plan = oneService(base, 1, 'bootpgm: boot.sh\nreadypgm: boot.sh\n', {
      'boot.sh': PUBLISHING_BOOT,
    });
    const boot = cleanup.boot(plan, 'rekeyed');
    expect((await boot.run()).ok).toBe(true);
    const pinned = hosts.hosts[1]?.hostKeyPublic as string;
    const host = hosts.hosts[1];
    const pinnedKey = () =>
      readRunDatabase(plan.dbDir, 'rekeyed', (store) =>
        store.hostKey(host?.address ?? '', host?.port ?? 0),
      );
    expect(pinnedKey()).toBe(pinned);

    await hosts.restartWithNewHostKey(1);
    const presented = hosts.hosts[1]?.hostKeyPublic as string;
    const problem =
      `${labelOf(hosts, 1)}: host-key: the host key changed: this run pinned ${hostKeyFingerprint(pinned)}, ` +
      `the server now presents ${hostKeyFingerprint(presented)}. Either the machine was reinstalled or ` +
      'someone is intercepting the connection. If the change is expected, set host_key: ' +
      `${presented} for this service in the plan.`;
    const status = await boot.checkStatus();
    expect(status.failures.map((f) => [f.phase, f.message])).toEqual([
      ['connect', `lone: connect failed: ${problem}`],
    ]);
    expect(boot.record('lone').state).toBe('failed');
    expect(boot.record('lone').failure?.message).toBe(problem);
    // The pin is not replaced by the key the server now presents.
    expect(pinnedKey()).toBe(pinned);
    boot.close();

    const run = await cli(['status', 'rekeyed', '-d', plan.dbDir], plan.root);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    const lines = run.stdout.split('\n');
    const row = lines.findIndex((l) => /^ {2}✗ lone +failed \(connect\) +\d+\.\d\ds$/.test(l));
    expect(row).toBeGreaterThan(0);
    expect(lines[row + 1]).toBe(`    ${problem}`);
    expect(lines.at(-2)).toMatch(
      /^run rekeyed: status FAILED in .*: 0 of 1 service ready; failed: lone$/,
    );
  });
});

describe('hostile attribute values', () => {
  it('passes published values verbatim through deps, bootconf, bootenv and argv, executing none', async () => {
    const base = cleanup.base();
    const hostile = {
      x: `$(touch ${base}/pwned-x)`,
      y: `'; touch ${base}/pwned-y; '`,
      z: `\`touch ${base}/pwned-z\``,
    };
    // argv.sh OUT ARGS...: writes the count and each argument on its own line.
    const argv = '#!/bin/sh\nout=$1\nshift\nprintf "%s\\n" "$#" "$@" > "$out"\n';
    const plan = cleanup.plan({
      'top.conf': `${sshDefaults(hosts, base)}${runlevels(2)}`,
      'l1.conf': `[svc-evil]\n${onHost(hosts, 0)}bootpgm: evil.sh\n`,
      'l2.conf': [
        `[svc-victim]\n${onHost(hosts, 1)}deps: victim_deps.conf\nbootconf: victim.json`,
        'bootpgm: victim_boot.sh',
        'bootpgm_args: ${.x} ${.y} ${evil.z}',
        'readypgm: argv.sh',
        'readypgm_args: ready-argv.txt ${.x} ${.y} ${.z} "both: ${.x} ${.y}"',
        'terminatepgm: argv.sh',
        `terminatepgm_args: ${base}/terminate-argv.txt \${evil.x} \${.y} \${.z}`,
        '',
      ].join('\n'),
      // The attacker's boot program publishes the values as they are.
      'evil.sh': `#!/bin/sh\ncat > bootout.json <<'EOF'\n${JSON.stringify(hostile)}\nEOF\n`,
      'victim_deps.conf': '[deps]\nx: ${evil.x}\ny: ${evil.y}\nz: ${evil.z}\n',
      'victim.json': '{"x": "$x", "y": "$y", "z": "${z}"}\n',
      // Sources bootenv.sh like a real boot program would, and records its argv.
      'victim_boot.sh':
        '#!/bin/sh\nset -e\n. ./bootenv.sh\nprintf "%s\\n" "$x" "$y" "$z" > env.txt\nprintf "%s\\n" "$#" "$@" > boot-argv.txt\n',
      'argv.sh': argv,
    });
    const boot = cleanup.boot(plan, 'hostile');
    const result = await boot.run();
    expect(result.failures.map((f) => f.message)).toEqual([]);
    expect(boot.record('evil').published).toEqual(hostile);

    const machine = await cleanup.machine(hosts, 1);
    const read = async (path: string) => (await machine.readFile(path))?.toString('utf8');
    const { x, y, z } = hostile;
    expect(await read(`${base}/hostile/victim/ready-argv.txt`)).toBe(
      `4\n${x}\n${y}\n${z}\nboth: ${x} ${y}\n`,
    );
    expect(await read(`${base}/hostile/victim/boot-argv.txt`)).toBe(`3\n${x}\n${y}\n${z}\n`);
    expect(await read(`${base}/hostile/victim/env.txt`)).toBe(`${x}\n${y}\n${z}\n`);
    expect(JSON.parse((await read(`${base}/hostile/victim/bootconf.json`)) ?? 'null')).toEqual(
      hostile,
    );

    expect((await boot.shutdown()).ok).toBe(true);
    expect(await read(`${base}/terminate-argv.txt`)).toBe(`3\n${x}\n${y}\n${z}\n`);

    // Nothing ran: no pwned file on the machine (nor here: it is the same host).
    const listing = await sh(machine, 'ls', base);
    expect(listing.stdoutTail.split('\n').filter(Boolean).sort()).toEqual(['terminate-argv.txt']);
    for (const name of ['x', 'y', 'z']) expect(existsSync(`${base}/pwned-${name}`)).toBe(false);
  });
});
