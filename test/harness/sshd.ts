/**
 * The "machines" of every SSH test: real OpenSSH `sshd` processes on loopback
 * addresses (127.x.y.z), each with its own host key, all accepting one
 * generated client key for one login user.
 *
 * Each test process gets its own block of loopback addresses (derived from its
 * pid) and each sshd a port that was free on its address when probed, so
 * parallel vitest workers never collide. Nothing listens or connects outside
 * 127.0.0.0/8.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian's openssh-server puts the daemon. */
export const SSHD_PATH = '/usr/sbin/sshd';
/** Login user the harness creates and uses when the tests run as root. */
export const TEST_USER = 'cloudboot-test';

const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 2_000;

/** Options of {@link startSshHosts}. */
export interface SshHostsOptions {
  /** How many sshd "machines" to start. */
  readonly count: number;
  /**
   * Listen on one port on every address (a port free on all of them), as
   * machines of a cloud all answer on port 22: a plan or a fake cloud can
   * then name a machine by its address alone. Default: a port per host.
   */
  readonly samePort?: boolean;
  /**
   * As root, the login user to create (if missing) and use, and its login
   * shell; default {@link TEST_USER} with `/bin/sh`. Ignored when not root.
   */
  readonly login?: { readonly user: string; readonly shell: string };
}

/** One running (or stopped) test machine. `pid` and `hostKeyPublic` change on restart. */
export interface SshHost {
  /** Loopback address sshd listens on, e.g. `127.31.7.2`. */
  readonly address: string;
  /** TCP port sshd listens on (kept across stop/start/restart). */
  readonly port: number;
  /** The host's public key as an OpenSSH line: `ssh-ed25519 AAAA…`. */
  hostKeyPublic: string;
  /** PID of the listening sshd; 0 while the host is stopped. */
  pid: number;
  /** sshd's log file (`-E`). */
  readonly logFile: string;
}

/** A set of running sshd test machines and the means to control them. */
export interface SshHosts {
  /** The machines, in start order. */
  readonly hosts: readonly SshHost[];
  /** Private key (mode 0600) every machine accepts for {@link username}. */
  readonly clientKeyPath: string;
  /** The `authorized_keys` file every machine reads (tests may rewrite it). */
  readonly authorizedKeysPath: string;
  /** Login user: `cloudboot-test` when running as root, else the current user. */
  readonly username: string;
  /** Stops host `i` and starts it again on the same address and port with a new host key. */
  restartWithNewHostKey(i: number): Promise<void>;
  /** Stops host `i` like a machine going down: the listener, its connections and their programs. */
  stopHost(i: number): Promise<void>;
  /** Starts a stopped host `i` again (same address, port and host key). */
  startHost(i: number): Promise<void>;
  /**
   * Drops every connection of host `i`: kills its per-connection sshd
   * processes (not the listener, not the login sessions' programs).
   * Resolves with how many it killed.
   */
  dropConnections(i: number): number;
  /** Stops every host and removes all generated files. */
  stop(): Promise<void>;
}

/** Internal state of one host. */
interface HostState {
  readonly host: SshHost;
  readonly dir: string;
  readonly configFile: string;
  child: ChildProcess | undefined;
}

/**
 * Starts `count` sshd processes on loopback and waits until each accepts TCP.
 * Throws when `/usr/sbin/sshd` is missing, naming the package to install.
 */
export async function startSshHosts(options: SshHostsOptions): Promise<SshHosts> {
  requireSshd();
  const username = await ensureLoginUser(options.login ?? { user: TEST_USER, shell: '/bin/sh' });
  const dir = await mkdtemp(join(tmpdir(), 'cloudboot-sshd-'));
  // The login user (not root) must be able to read authorized_keys.
  await chmod(dir, 0o755);
  const states: HostState[] = [];
  try {
    const clientKeyPath = join(dir, 'id_ed25519');
    await generateKey(clientKeyPath, 'cloudboot-test-client');
    const authorizedKeysPath = join(dir, 'authorized_keys');
    await writeFile(authorizedKeysPath, await readFile(`${clientKeyPath}.pub`), { mode: 0o644 });
    await chmod(authorizedKeysPath, 0o644);
    const addresses = Array.from({ length: options.count }, nextAddress);
    const shared = options.samePort === true ? await portFreeOnAll(addresses) : undefined;
    for (const [i, address] of addresses.entries()) {
      const port = shared ?? (await freePort(address));
      states.push(await prepareHost(dir, i, address, port, authorizedKeysPath));
    }
    await Promise.all(states.map(launch));
    return makeHandle(dir, states, username, clientKeyPath, authorizedKeysPath);
  } catch (error) {
    await Promise.all(states.map(halt));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function makeHandle(
  dir: string,
  states: HostState[],
  username: string,
  clientKeyPath: string,
  authorizedKeysPath: string,
): SshHosts {
  const at = (i: number): HostState => {
    const state = states[i];
    if (state === undefined) throw new RangeError(`no ssh test host #${i} (have ${states.length})`);
    return state;
  };
  return {
    hosts: states.map((s) => s.host),
    clientKeyPath,
    authorizedKeysPath,
    username,
    restartWithNewHostKey: async (i) => {
      const state = at(i);
      await halt(state);
      state.host.hostKeyPublic = await newHostKey(state.dir);
      await launch(state);
    },
    stopHost: (i) => halt(at(i)),
    startHost: (i) => launch(at(i)),
    dropConnections: (i) => {
      const listener = at(i).child?.pid;
      if (listener === undefined) return 0;
      const sessions = descendants(listener).filter((pid) => commandName(pid).startsWith('sshd'));
      for (const pid of sessions) signal(pid, 'SIGKILL');
      return sessions.length;
    },
    stop: async () => {
      await Promise.all(states.map(halt));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function requireSshd(): void {
  if (!existsSync(SSHD_PATH)) {
    throw new Error(
      `SSH tests need OpenSSH's sshd at ${SSHD_PATH}; install the Debian package openssh-server (apt-get install -y openssh-server).`,
    );
  }
}

/**
 * The login user of the test machines. As root, a dedicated user (by default
 * with `/bin/sh`: no rc files that slow down or change every exec); otherwise
 * the current user.
 */
async function ensureLoginUser(login: { user: string; shell: string }): Promise<string> {
  if (process.getuid?.() !== 0) return userInfo().username;
  await mkdir('/run/sshd', { recursive: true });
  // Several test processes may race here; useradd/usermod lock /etc/passwd.
  for (let attempt = 0; attempt < 50; attempt++) {
    const shadow = shadowPassword(login.user);
    if (shadow !== undefined && !shadow.startsWith('!')) return login.user;
    // A locked password ("!") makes sshd refuse the user when UsePAM is off; "*" is not locked.
    const created =
      shadow === undefined
        ? run('useradd', ['-m', '-s', login.shell, '-p', '*', login.user])
        : run('usermod', ['-p', '*', login.user]);
    await created.catch(() => sleep(100));
  }
  throw new Error(
    `could not create the test login user ${login.user} (useradd -m -s ${login.shell})`,
  );
}

/** The password field of `user` in /etc/shadow, or undefined when there is no such user. */
function shadowPassword(user: string): string | undefined {
  const line = readFileSync('/etc/shadow', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  return line?.split(':')[1];
}

async function generateKey(path: string, comment: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  await chmod(path, 0o600);
}

/** Replaces the host key in `dir` and returns its public line (type and base64, no comment). */
async function newHostKey(dir: string): Promise<string> {
  const path = join(dir, 'ssh_host_ed25519_key');
  await rm(path, { force: true });
  await rm(`${path}.pub`, { force: true });
  await generateKey(path, 'cloudboot-test-host');
  const [type, blob] = (await readFile(`${path}.pub`, 'utf8')).trim().split(/\s+/);
  return `${type} ${blob}`;
}

let nextHostOctet = 0;

/** A loopback address in this process's own block: 127.A.B.C with A.B from the pid. */
function nextAddress(): string {
  const block = process.pid % 62_500;
  nextHostOctet = (nextHostOctet % 254) + 1;
  return `127.${1 + Math.floor(block / 250)}.${1 + (block % 250)}.${nextHostOctet}`;
}

/** A TCP port that is free on `address` right now. */
function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const bound = server.address();
      server.close(() =>
        typeof bound === 'object' && bound !== null
          ? resolve(bound.port)
          : reject(new Error(`could not probe a free port on ${address}`)),
      );
    });
  });
}

/** A port free on every one of `addresses` right now (probed from the first address's pick). */
async function portFreeOnAll(addresses: readonly string[]): Promise<number> {
  const [first, ...rest] = addresses;
  if (first === undefined) return 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort(first);
    const free = await Promise.all(rest.map((a) => isFree(a, port)));
    if (free.every(Boolean)) return port;
  }
  throw new Error(`could not find one port free on all of ${addresses.join(', ')}`);
}

/** Whether `port` can be bound on `address` right now. */
function isFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, address, () => server.close(() => resolve(true)));
  });
}

async function prepareHost(
  root: string,
  i: number,
  address: string,
  port: number,
  authorizedKeys: string,
): Promise<HostState> {
  const dir = join(root, `host-${i}`);
  await mkdir(dir, { mode: 0o755 });
  const hostKeyPublic = await newHostKey(dir);
  const configFile = join(dir, 'sshd_config');
  await writeFile(configFile, sshdConfig(dir, address, port, authorizedKeys));
  const host: SshHost = { address, port, hostKeyPublic, pid: 0, logFile: join(dir, 'sshd.log') };
  return { host, dir, configFile, child: undefined };
}

function sshdConfig(dir: string, address: string, port: number, authorizedKeys: string): string {
  return [
    `ListenAddress ${address}`,
    `Port ${port}`,
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    'MaxSessions 100',
    'MaxStartups 100:30:200',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

/** Starts sshd in the foreground (`-D`) and waits until its port accepts TCP. */
async function launch(state: HostState): Promise<void> {
  if (state.child !== undefined) return;
  const { host } = state;
  const child = spawn(SSHD_PATH, ['-D', '-f', state.configFile, '-E', host.logFile], {
    stdio: 'ignore',
  });
  state.child = child;
  if (child.pid === undefined) throw new Error(`could not start ${SSHD_PATH}`);
  host.pid = child.pid;
  livePids.add(child.pid);
  child.once('exit', () => {
    livePids.delete(child.pid as number);
    if (state.child === child) {
      state.child = undefined;
      host.pid = 0;
    }
  });
  await waitForPort(state, child);
}

async function waitForPort(state: HostState, child: ChildProcess): Promise<void> {
  const { address, port, logFile } = state.host;
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await acceptsTcp(address, port)) return;
    await sleep(20);
  }
  await halt(state);
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim() : '(no log)';
  throw new Error(`sshd on ${address}:${port} did not start; its log:\n${log}`);
}

function acceptsTcp(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: address, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Kills the listener and everything it started (connections, login sessions, programs). */
async function halt(state: HostState): Promise<void> {
  const child = state.child;
  if (child === undefined || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  for (const pid of [...descendants(child.pid), child.pid]) signal(pid, 'SIGKILL');
  await Promise.race([exited, sleep(STOP_GRACE_MS)]);
  state.child = undefined;
  state.host.pid = 0;
}

/** PIDs of every descendant of `root`, read from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = parentPid(Number(entry));
    if (ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    const kids = children.get(pid) ?? [];
    found.push(...kids);
    queue.push(...kids);
  }
  return found;
}

/** The command name of a process (`/proc/PID/comm`), '' when it is gone. */
function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 4, after the parenthesised command name (which may contain spaces).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Listener PIDs still running; killed if the test process exits without stop(). */
const livePids = new Set<number>();
process.once('exit', () => {
  for (const pid of livePids) signal(pid, 'SIGKILL');
});
