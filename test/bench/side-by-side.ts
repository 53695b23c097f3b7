/**
 * `pnpm bench:ansible`: the same 3-level application brought up and torn
 * down by cloudboot (its CLI) and by an Ansible playbook, against the same
 * sshd machines on loopback addresses, once with a login shell that costs
 * nothing and once with one whose `~/.bashrc` takes 100 ms (as a language
 * version manager's init does). Prints one markdown table, a row per login
 * shell and tool, with cloudboot's two commands (`boot`, then `terminate`)
 * also timed apart.
 *
 * Per machine, both tools: make a private directory, fill a JSON bootconf,
 * upload and run a boot program, read the attributes it leaves in
 * `bootout.json` (the next level's bootconf needs them), upload and run a
 * ready program; at the end remove the directory. Boot and ready programs
 * sleep 1 s, so with 3 levels the critical path is 6 s.
 *
 * The playbook is a fair one: forks = number of machines, pipelining on,
 * fact gathering off, SSH connections shared (ControlPersist).
 * ansible-core comes from the Debian registry; as root it is installed when
 * missing.
 *
 * A third row, `floor`, is what any tool built like cloudboot (a Node
 * process per command, ssh2, a connection per machine and command) cannot
 * go below: `ssh-floor.mjs` touching the first level's machine (all `boot`
 * needs before its first program starts) plus `ssh-floor.mjs` touching
 * every machine (all `terminate` needs before its removals can run), with
 * the critical path added.
 *
 *   pnpm bench:ansible [--runs N] [--only TOOL[,TOOL…]]   (TOOL: floor, cloudboot, ansible)
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type SshHost, type SshHosts, startSshHosts } from '../harness/sshd.js';
import { median } from './scenarios.js';

const MACHINES = 10;
/** Services per level: 1, 3, 6 (one machine each). */
const LEVELS = [1, 3, 6];
const PROGRAM_SECONDS = 1;
const CRITICAL_PATH_S = LEVELS.length * 2 * PROGRAM_SECONDS;
/** A login user whose every command pays 100 ms of shell start-up. */
const SLOW_USER = { user: 'cloudboot-bench', shell: '/bin/bash' };
const REPO = resolve(import.meta.dirname, '../..');

const BOOT = `#!/bin/sh
sleep ${PROGRAM_SECONDS}
printf '{"port": "%s"}\\n' 8080 > bootout.json
`;
const READY = `#!/bin/sh\nsleep ${PROGRAM_SECONDS}\n`;

/** Machine index of service `i` of level `level` (0-based). */
function machineOf(level: number, i: number): number {
  return LEVELS.slice(0, level).reduce((a, b) => a + b, 0) + i;
}

function writeCloudbootPlan(dir: string, hosts: SshHosts): string {
  writeFileSync(join(dir, 'boot.sh'), BOOT, { mode: 0o755 });
  writeFileSync(join(dir, 'ready.sh'), READY, { mode: 0o755 });
  const runlevels: string[] = [];
  LEVELS.forEach((count, level) => {
    const upstream = level === 0 ? 'none' : `\${l${level - 1}s0.hostname}:\${l${level - 1}s0.port}`;
    writeFileSync(
      join(dir, `bootconf-${level}.json`),
      `{"level": "${level + 1}", "service": "\${service}", "upstream": "${upstream}"}\n`,
    );
    const sections = Array.from({ length: count }, (_, i) => {
      const host = hosts.hosts[machineOf(level, i)];
      if (host === undefined) throw new Error('not enough machines');
      return [
        `[svc-l${level}s${i}]`,
        `hostname: ${host.address}`,
        `ssh_port: ${host.port}`,
        `bootconf: bootconf-${level}.json`,
        '',
      ].join('\n');
    });
    writeFileSync(join(dir, `level${level + 1}.conf`), sections.join('\n'));
    runlevels.push(`level${level + 1}: level${level + 1}.conf`);
  });
  const top = [
    '[runlevels]',
    ...runlevels,
    '',
    '[defaults]',
    `ssh_username: ${hosts.username}`,
    `localsshkeypath: ${hosts.clientKeyPath}`,
    `workdir: ${homeOf(hosts.username)}/bench-work`,
    'bootpgm: boot.sh',
    'readypgm: ready.sh',
    'pgm_timeout: 60',
    '',
  ];
  writeFileSync(join(dir, 'top.conf'), top.join('\n'));
  return join(dir, 'top.conf');
}

function writePlaybook(dir: string, hosts: SshHosts): string {
  writeFileSync(join(dir, 'boot.sh'), BOOT, { mode: 0o755 });
  writeFileSync(join(dir, 'ready.sh'), READY, { mode: 0o755 });
  const inventory: string[] = [];
  LEVELS.forEach((count, level) => {
    inventory.push(`[level${level}]`);
    for (let i = 0; i < count; i++) {
      const host = hosts.hosts[machineOf(level, i)];
      if (host === undefined) throw new Error('not enough machines');
      inventory.push(
        `l${level}s${i} ansible_host=${host.address} ansible_port=${host.port} level=${level + 1}`,
      );
    }
  });
  inventory.push(
    '[all:vars]',
    `ansible_user=${hosts.username}`,
    `ansible_ssh_private_key_file=${hosts.clientKeyPath}`,
    'ansible_python_interpreter=/usr/bin/python3',
    '',
  );
  writeFileSync(join(dir, 'inventory.ini'), inventory.join('\n'));
  writeFileSync(
    join(dir, 'bootconf.json.j2'),
    '{"level": "{{ level }}", "service": "{{ inventory_hostname }}", "upstream": "{{ upstream }}"}\n',
  );
  writeFileSync(
    join(dir, 'service.yml'),
    `- ansible.builtin.file: { path: "{{ wd }}", state: directory, mode: "0700" }
- ansible.builtin.template: { src: bootconf.json.j2, dest: "{{ wd }}/bootconf.json", mode: "0600" }
- ansible.builtin.copy: { src: boot.sh, dest: "{{ wd }}/boot.sh", mode: "0700" }
- ansible.builtin.command: { cmd: ./boot.sh, chdir: "{{ wd }}" }
- ansible.builtin.slurp: { src: "{{ wd }}/bootout.json" }
  register: bootout
- ansible.builtin.set_fact: { port: "{{ (bootout.content | b64decode | from_json).port }}" }
- ansible.builtin.copy: { src: ready.sh, dest: "{{ wd }}/ready.sh", mode: "0700" }
- ansible.builtin.command: { cmd: ./ready.sh, chdir: "{{ wd }}" }
`,
  );
  const plays = LEVELS.map((_, level) => {
    const upstream =
      level === 0
        ? 'none'
        : `{{ hostvars[groups.level${level - 1}[0]].ansible_host }}:{{ hostvars[groups.level${level - 1}[0]].port }}`;
    return `- hosts: level${level}
  gather_facts: false
  vars: { wd: "bench-work/{{ inventory_hostname }}", upstream: "${upstream}" }
  tasks:
    - ansible.builtin.include_tasks: service.yml
`;
  });
  plays.push(`- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.file: { path: "bench-work/{{ inventory_hostname }}", state: absent }
`);
  writeFileSync(join(dir, 'playbook.yml'), plays.join('\n'));
  writeFileSync(
    join(dir, 'ansible.cfg'),
    `[defaults]
forks = ${MACHINES}
gathering = explicit
host_key_checking = False
inventory = ${join(dir, 'inventory.ini')}
local_tmp = ${join(dir, 'ansible-local')}
retry_files_enabled = False

[ssh_connection]
pipelining = True
control_path_dir = ${join(dir, 'cp')}
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR
`,
  );
  return join(dir, 'playbook.yml');
}

/** Runs a command to completion; rejects with its output when it fails. */
function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.on('error', fail);
    child.on('close', (code) =>
      code === 0
        ? done()
        : fail(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`)),
    );
  });
}

/** The cloudboot CLI: the built binary when there is one, else the sources. */
function cloudbootCommand(): string[] {
  const built = join(REPO, 'packages/cli/dist/main.js');
  return existsSync(built)
    ? [built]
    : ['--conditions=source', '--import', 'tsx', join(REPO, 'packages/cli/src/main.ts')];
}

/** One timed run: the whole, and for cloudboot its two commands apart. */
interface Timing {
  readonly totalMs: number;
  readonly bootMs?: number;
  readonly teardownMs?: number;
}

async function timeCloudboot(dir: string, hosts: SshHosts, index: number): Promise<Timing> {
  const plan = writeCloudbootPlan(dir, hosts);
  const db = join(dir, `db-${index}`);
  const cli = cloudbootCommand();
  const name = `sbs-${index}`;
  const started = performance.now();
  await run(process.execPath, [...cli, 'boot', plan, '-n', name, '-d', db, '-q']);
  const booted = performance.now();
  await run(process.execPath, [...cli, 'terminate', name, '-d', db, '-q']);
  const ended = performance.now();
  return { totalMs: ended - started, bootMs: booted - started, teardownMs: ended - booted };
}

const FLOOR_SCRIPT = join(REPO, 'test/bench/ssh-floor.mjs');

/** One `ssh-floor.mjs` process touching `machines`: its wall time. */
async function timeFloorCommand(hosts: SshHosts, machines: readonly SshHost[]): Promise<number> {
  const started = performance.now();
  await run(process.execPath, [
    FLOOR_SCRIPT,
    hosts.clientKeyPath,
    hosts.username,
    ...machines.map((m) => `${m.address}:${m.port}`),
  ]);
  return performance.now() - started;
}

/** The floor of `boot` + `terminate`, in the shape of a cloudboot timing (see the module comment). */
async function timeFloor(hosts: SshHosts): Promise<Timing> {
  const first = hosts.hosts[machineOf(0, 0)];
  if (first === undefined) throw new Error('not enough machines');
  const boot = CRITICAL_PATH_S * 1000 + (await timeFloorCommand(hosts, [first]));
  const teardown = await timeFloorCommand(hosts, hosts.hosts);
  return { totalMs: boot + teardown, bootMs: boot, teardownMs: teardown };
}

async function timeAnsible(dir: string, hosts: SshHosts): Promise<Timing> {
  const playbook = writePlaybook(dir, hosts);
  const started = performance.now();
  await run('ansible-playbook', [playbook], { ANSIBLE_CONFIG: join(dir, 'ansible.cfg') });
  return { totalMs: performance.now() - started };
}

function ensureAnsible(): void {
  try {
    execFileSync('ansible-playbook', ['--version'], { stdio: 'ignore' });
    return;
  } catch {
    if (process.getuid?.() !== 0)
      throw new Error('ansible-playbook is missing: install the Debian package ansible-core');
  }
  console.error('bench: installing ansible-core (Debian package)');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'ansible-core'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** The home directory of `user` (both tools work below it, as Ansible does by default). */
function homeOf(user: string): string {
  const home = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).split(':')[5];
  if (home === undefined || home === '') throw new Error(`no home directory for ${user}`);
  return home;
}

/** Gives the slow login user a `~/.bashrc` that takes 100 ms, like a version manager's init. */
function slowDownLoginShell(user: string): void {
  const home = homeOf(user);
  writeFileSync(
    join(home, '.bashrc'),
    '# cloudboot bench: a login shell that costs 100 ms\nsleep 0.1\n',
  );
}

/**
 * What starting Node costs here (every cloudboot command pays it once),
 * and whether the environment adds to it: Node 20 reads the certificates
 * `NODE_EXTRA_CA_CERTS` names at every start, not when TLS first needs them.
 */
async function nodeStartUp(): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await run(process.execPath, ['-e', '0']);
    times.push(performance.now() - started);
  }
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  return (
    `node start-up: ${Math.round(median(times))} ms (median of 5 \`node -e 0\`)` +
    (extra ? `; NODE_EXTRA_CA_CERTS=${extra} is set` : '; NODE_EXTRA_CA_CERTS is not set')
  );
}

/** What the bench compares. */
type Tool = 'floor' | 'cloudboot' | 'ansible';

/** One table row: medians of a tool's samples. */
function row(label: string, tool: Tool, samples: readonly Timing[]): string {
  const wall = median(samples.map((s) => s.totalMs));
  // The playbook boots and tears down in one run: no split for Ansible.
  const part = (pick: (s: Timing) => number | undefined) => {
    const values = samples.flatMap((s) => pick(s) ?? []);
    return values.length === samples.length ? median(values) : undefined;
  };
  const boot = part((s) => s.bootMs);
  const teardown = part((s) => s.teardownMs);
  const name = tool === 'floor' ? 'floor (Node + ssh2, no work)' : tool;
  return (
    `| ${label} | ${name} | ${fmt(wall)} | ${fmt(wall - CRITICAL_PATH_S * 1000)} | ` +
    `${boot === undefined ? 'n/a' : `${fmt(boot)} (${fmt(boot - CRITICAL_PATH_S * 1000)})`} | ` +
    `${teardown === undefined ? 'n/a' : fmt(teardown)} |`
  );
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '5' }, only: { type: 'string' } },
  });
  const runs = Number(values.runs);
  const tools = (['floor', 'cloudboot', 'ansible'] as const satisfies readonly Tool[]).filter(
    (tool) => values.only === undefined || values.only.split(',').includes(tool),
  );
  if (tools.length === 0)
    throw new Error('--only takes floor, cloudboot or ansible, or several joined by commas');
  ensureAnsible();
  const ansibleVersion = execFileSync('ansible-playbook', ['--version'], {
    encoding: 'utf8',
  }).split('\n')[0];
  console.log('# cloudboot and Ansible, side by side\n');
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${ansibleVersion}, ${new Date().toISOString().slice(0, 10)}`,
  );
  console.log(`${await nodeStartUp()}\n`);
  console.log(
    `plan: levels of ${LEVELS.join(', ')} services on ${MACHINES} sshd machines; programs sleep ${PROGRAM_SECONDS} s; critical path ${CRITICAL_PATH_S} s; ${runs} runs each after a warm-up, median\n`,
  );
  const variants = [
    { label: 'light (/bin/sh, no rc file)', login: undefined },
    { label: '100 ms (~/.bashrc sleeps 0.1 s)', login: SLOW_USER },
  ];
  console.log(
    '| login shell | tool | boot + teardown | overhead over the critical path | boot alone (its overhead) | teardown alone |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const variant of variants) {
    const hosts = await startSshHosts({
      count: MACHINES,
      ...(variant.login && { login: variant.login }),
    });
    const dir = mkdtempSync(join(tmpdir(), 'cloudboot-sbs-'));
    try {
      if (variant.login !== undefined && process.getuid?.() === 0)
        slowDownLoginShell(variant.login.user);
      const once = (tool: Tool, i: number) =>
        tool === 'cloudboot'
          ? timeCloudboot(dir, hosts, i)
          : tool === 'ansible'
            ? timeAnsible(dir, hosts)
            : timeFloor(hosts);
      // Runs take turns (a warm-up each, then one of each tool per round), so
      // a machine that slows down or speeds up during the bench weighs on
      // every row alike.
      for (const tool of tools) await once(tool, 0);
      const samples = new Map<Tool, Timing[]>(tools.map((tool) => [tool, []]));
      for (let i = 1; i <= runs; i++) {
        for (const tool of tools) samples.get(tool)?.push(await once(tool, i));
      }
      for (const tool of tools) console.log(row(variant.label, tool, samples.get(tool) ?? []));
    } finally {
      await hosts.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

await main();
