/**
 * SshPool against real sshd machines: pooling, staged readiness and its
 * retries, authentication and host key pinning.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectStage } from '../../packages/core/src/errors.js';
import { RemoteError, UsageError } from '../../packages/core/src/errors.js';
import {
  hostKeyFingerprint,
  MemoryHostKeyStore,
  SshPool,
  type SshPoolOptions,
} from '../../packages/core/src/exec/ssh-pool.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { generateKey, labelOf, makeDir, targetOf } from './targets.js';

let hosts: SshHosts;
let scratch: string;
const pools: SshPool[] = [];

/** A pool closed after the test. */
function newPool(options: Partial<SshPoolOptions> = {}): SshPool {
  const pool = new SshPool({ hostKeys: new MemoryHostKeyStore(), agent: '', ...options });
  pools.push(pool);
  return pool;
}

/** The rejection of `promise`, which must be a RemoteError. */
async function remoteFailure(promise: Promise<unknown>): Promise<RemoteError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RemoteError);
  return error as RemoteError;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await sleep(20);
  expect(condition()).toBe(true);
}

beforeAll(async () => {
  hosts = await startSshHosts({ count: 4 });
  scratch = await mkdtemp(join(tmpdir(), 'cloudboot-ssh-test-'));
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

afterAll(async () => {
  await hosts?.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('pooling', () => {
  it('makes one handshake for many sessions and runs on one machine', async () => {
    const pool = newPool();
    const sessions = await Promise.all(
      Array.from({ length: 10 }, () => pool.session(targetOf(hosts, 0), { timeoutMs: 5_000 })),
    );
    const results = await Promise.all(
      sessions.flatMap((session) =>
        [1, 2].map(() => session.run({ program: 'true', args: [], cwd: '/', timeoutMs: 5_000 })),
      ),
    );
    expect(results.every((r) => r.exitCode === 0)).toBe(true);
    expect(new Set(sessions).size).toBe(1);
    expect(pool.handshakes).toBe(1);
  });

  it('connects to several machines concurrently, each once', async () => {
    const pool = newPool();
    const sessions = await Promise.all(
      hosts.hosts.map((_, i) => pool.session(targetOf(hosts, i), { timeoutMs: 5_000 })),
    );
    const seen = await Promise.all(
      sessions.map((session) =>
        session.run({
          program: 'sh',
          args: ['-c', 'echo "$SSH_CONNECTION"'],
          cwd: '/',
          timeoutMs: 5_000,
        }),
      ),
    );
    // SSH_CONNECTION = "client-ip client-port server-ip server-port"
    const servers = seen.map((r) => r.stdoutTail.trim().split(' ').slice(2).join(':'));
    expect(servers).toEqual(hosts.hosts.map((h) => `${h.address}:${h.port}`));
    expect(sessions.map((s) => s.label)).toEqual(hosts.hosts.map((_, i) => labelOf(hosts, i)));
    expect(pool.handshakes).toBe(hosts.hosts.length);
  });

  it('holds back a connect ahead of need while a machine needed now connects', async () => {
    const pool = newPool();
    const needed = pool.session(targetOf(hosts, 0), { timeoutMs: 5_000 });
    await sleep(20);
    const ahead = pool.session(targetOf(hosts, 2), { timeoutMs: 5_000, background: true });
    await needed;
    // The machine needed now got the only handshake so far; the other then followed.
    expect(pool.handshakes).toBe(1);
    await ahead;
    expect(pool.handshakes).toBe(2);
  });

  it('re-establishes a dropped connection on next use', async () => {
    const pool = newPool();
    const session = await pool.session(targetOf(hosts, 1), { timeoutMs: 5_000 });
    await hosts.stopHost(1);
    await hosts.startHost(1);
    await sleep(100);
    const result = await session.run({
      program: 'echo',
      args: ['back'],
      cwd: '/',
      timeoutMs: 5_000,
    });
    expect(result.stdoutTail).toBe('back\n');
    expect(pool.handshakes).toBe(2);
  });

  it('reports a program killed with its machine as killed, once the machine is back', async () => {
    const session = await newPool().session(targetOf(hosts, 1), { timeoutMs: 5_000 });
    // A directory the program may write its status files to, as cloudboot's working
    // directories are (with none, they live in the remote shell's own directory,
    // which goes with that shell).
    const dir = `/tmp/cloudboot-killed-${process.pid}`;
    await makeDir(session, dir);
    let started: (pgid: number) => void = () => {};
    const pgid = new Promise<number>((resolve) => {
      started = resolve;
    });
    const running = session.run({
      program: 'sleep',
      args: ['30'],
      cwd: dir,
      timeoutMs: 60_000,
      onStart: (group) => started(group),
    });
    try {
      await pgid;
      await hosts.stopHost(1);
      await hosts.startHost(1);
      expect(await running).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: false });
    } finally {
      const cleanup = await newPool().session(targetOf(hosts, 1), { timeoutMs: 5_000 });
      await cleanup.removeDir(dir);
    }
  });

  it('fails a running program when the machine stays unreachable past its timeout', async () => {
    const session = await newPool().session(targetOf(hosts, 1), { timeoutMs: 5_000 });
    const failure = remoteFailure(
      session.run({ program: 'sleep', args: ['30'], cwd: '/', timeoutMs: 1_500 }),
    );
    await sleep(300);
    await hosts.stopHost(1);
    try {
      const error = await failure;
      expect(error.message).toMatch(
        new RegExp(
          `^${labelOf(hosts, 1)}: command: the connection was lost while sleep was running, and the machine did not answer again: .*tcp`,
        ),
      );
      expect(error.permanent).toBe(false);
    } finally {
      await hosts.startHost(1);
    }
  });

  it('finds a program again after its connection drops, once and repeatedly', async () => {
    const pool = newPool();
    const session = await pool.session(targetOf(hosts, 1), { timeoutMs: 5_000 });
    const dir = `/tmp/cloudboot-reattach-${process.pid}`;
    await makeDir(session, dir);
    try {
      const output: Buffer[] = [];
      const running = session.run({
        program: 'sh',
        args: ['-c', 'echo run >> runs; echo first; sleep 2; echo second; exit 3'],
        cwd: dir,
        timeoutMs: 20_000,
        onOutput: (_stream, chunk) => output.push(chunk),
      });
      await sleep(400);
      expect(hosts.dropConnections(1)).toBeGreaterThan(0);
      await sleep(600);
      hosts.dropConnections(1);
      await sleep(300);
      hosts.dropConnections(1);
      const result = await running;
      expect(result).toMatchObject({ exitCode: 3, timedOut: false, stdoutTail: 'first\nsecond\n' });
      expect(Buffer.concat(output).toString()).toBe('first\nsecond\n');
      expect((await session.readFile(`${dir}/runs`))?.toString()).toBe('run\n');
      expect(pool.handshakes).toBeGreaterThanOrEqual(3);
    } finally {
      await session.removeDir(dir);
    }
  });

  it('rejects sessions once closed', async () => {
    const pool = newPool();
    await pool.close();
    await expect(pool.session(targetOf(hosts, 0), { timeoutMs: 1_000 })).rejects.toThrow(
      new UsageError('the SSH pool is closed'),
    );
  });
});

describe('working directories', () => {
  it('takes back a directory left with a cut-short mark, never writing through a link there', async () => {
    const session = await newPool().session(targetOf(hosts, 0), { timeoutMs: 5_000 });
    // In /tmp: the login user may not be the user running the tests.
    const dir = `/tmp/cloudboot-half-mark-${process.pid}`;
    const victim = `${dir}-victim`;
    const mark = join(dir, '.mark');
    const claim = () =>
      session.prepareDir({ base: '/tmp', chain: [dir], markFile: '.mark', mark: 'run 0123abcd' });
    try {
      expect(await claim()).toEqual({ ok: true, existed: false });
      const owner = await lstat(dir);
      await writeFile(mark, 'run 01');
      await chown(mark, owner.uid, owner.gid);
      expect(await claim()).toEqual({ ok: true, existed: false });
      expect(await readFile(mark, 'utf8')).toBe('run 0123abcd\n');
      // The same cut-short mark, as a symbolic link to a file of someone else's.
      await writeFile(victim, 'run 01', { mode: 0o644 });
      await rm(mark);
      await symlink(victim, mark);
      expect(await claim()).toEqual({ ok: true, existed: false });
      expect(await readFile(victim, 'utf8')).toBe('run 01');
      expect((await lstat(mark)).isFile()).toBe(true);
      expect(await readFile(mark, 'utf8')).toBe('run 0123abcd\n');
      expect(await claim()).toEqual({ ok: true, existed: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(victim, { force: true });
    }
  });
});

describe('staged readiness', () => {
  it('retries a closed port, then fails at stage tcp within the timeout', async () => {
    await hosts.stopHost(2);
    try {
      const stages: ConnectStage[] = [];
      const started = Date.now();
      const error = await remoteFailure(
        newPool().session(targetOf(hosts, 2), {
          timeoutMs: 1_500,
          onRetry: (stage) => stages.push(stage),
        }),
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_300);
      expect(Date.now() - started).toBeLessThan(1_600);
      expect(stages.length).toBeGreaterThanOrEqual(2);
      expect(new Set(stages)).toEqual(new Set(['tcp']));
      expect(error.stage).toBe('tcp');
      expect(error.permanent).toBe(false);
      expect(error.message).toMatch(
        new RegExp(
          `^${labelOf(hosts, 2)}: tcp: connection refused \\(gave up after \\d+ attempts in 1\\.\\d s\\)$`,
        ),
      );
    } finally {
      await hosts.startHost(2);
    }
  });

  it('waits for a port that opens late', async () => {
    await hosts.stopHost(2);
    const stages: ConnectStage[] = [];
    const late = sleep(1_000).then(() => hosts.startHost(2));
    const pool = newPool();
    const session = await pool.session(targetOf(hosts, 2), {
      timeoutMs: 10_000,
      onRetry: (stage) => stages.push(stage),
    });
    await late;
    expect(stages).toContain('tcp');
    const result = await session.run({ program: 'true', args: [], cwd: '/', timeoutMs: 5_000 });
    expect(result.exitCode).toBe(0);
    expect(pool.handshakes).toBe(1);
  });
});

describe('authentication', () => {
  let authorized: Buffer;
  beforeAll(async () => {
    authorized = await readFile(hosts.authorizedKeysPath);
  });
  afterEach(async () => {
    await writeFile(hosts.authorizedKeysPath, authorized);
  });

  it('fails at stage auth when the server refuses the key', async () => {
    const wrongKey = join(scratch, 'wrong_ed25519');
    await generateKey(wrongKey);
    const error = await remoteFailure(
      newPool({ authGraceMs: 0 }).session(targetOf(hosts, 0, { privateKeyPath: wrongKey }), {
        timeoutMs: 5_000,
      }),
    );
    expect(error.message).toBe(
      `${labelOf(hosts, 0)}: auth: the server refused key ${wrongKey} (publickey)`,
    );
    expect(error.stage).toBe('auth');
    expect(error.permanent).toBe(true);
  });

  it('retries refusals for the grace period while keys may still be installed', async () => {
    await writeFile(hosts.authorizedKeysPath, '');
    const stages: ConnectStage[] = [];
    const installed = sleep(800).then(() => writeFile(hosts.authorizedKeysPath, authorized));
    const session = await newPool().session(targetOf(hosts, 0), {
      timeoutMs: 10_000,
      onRetry: (stage) => stages.push(stage),
    });
    await installed;
    expect(stages).toContain('auth');
    expect(
      (await session.run({ program: 'true', args: [], cwd: '/', timeoutMs: 5_000 })).exitCode,
    ).toBe(0);
  });

  it('gives up on refusals after the grace period', async () => {
    await writeFile(hosts.authorizedKeysPath, '');
    const started = Date.now();
    const error = await remoteFailure(
      newPool({ authGraceMs: 600 }).session(targetOf(hosts, 0), { timeoutMs: 10_000 }),
    );
    // Well before the 10 s the session allows: a loaded machine slows each attempt.
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(error.message).toBe(
      `${labelOf(hosts, 0)}: auth: the server refused key ${hosts.clientKeyPath} (publickey)`,
    );
    expect(error.permanent).toBe(true);
  });

  /** Every key of the machines, limited to `command` (an authorized_keys forced command). */
  async function forceCommand(command: string): Promise<void> {
    const lines = authorized.toString().trim().split('\n');
    // sshd reads \" as a quote inside command="…"; other characters are taken as they are.
    const quoted = command.replaceAll('"', '\\"');
    await writeFile(
      hosts.authorizedKeysPath,
      lines.map((l) => `command="${quoted}" ${l}\n`).join(''),
    );
  }

  it('fails at stage command, with the status and stderr, when the account runs no command', async () => {
    await forceCommand('echo denied >&2; exit 3');
    const retried: string[] = [];
    const error = await remoteFailure(
      newPool().session(targetOf(hosts, 0), {
        timeoutMs: 1_500,
        onRetry: (_stage, e) => retried.push(e.message),
      }),
    );
    expect(error.stage).toBe('command');
    // Retried until the deadline (the last attempt may run out of time instead).
    expect(retried[0]).toBe(
      `${labelOf(hosts, 0)}: command: "/bin/sh -s" ended before it was ready (exit status 3): denied`,
    );
  });

  it('runs every step on an exec channel of its own when the shell cannot serve', async () => {
    // The shell answers like one without setsid or base64; other commands run.
    await forceCommand(
      `case "$SSH_ORIGINAL_COMMAND" in 'exec /bin/sh -s') echo '0 missing' ;; internal-sftp) exec /usr/lib/openssh/sftp-server ;; *) eval "$SSH_ORIGINAL_COMMAND" ;; esac`,
    );
    const pool = newPool();
    const session = await pool.session(targetOf(hosts, 0), { timeoutMs: 5_000 });
    const dir = `/tmp/cloudboot-fallback-${process.pid}`;
    const claim = await session.prepareDir({
      base: '/tmp',
      chain: [dir],
      markFile: '.mark',
      mark: 'run x',
      files: [{ name: 'f.txt', data: 'data', mode: 0o600 }],
    });
    expect(claim).toEqual({ ok: true, existed: false });
    const result = await session.run({
      program: 'cat',
      args: ['f.txt'],
      cwd: dir,
      timeoutMs: 5_000,
    });
    expect(result).toMatchObject({ exitCode: 0, stdoutTail: 'data' });
    await session.removeDir(dir);
    // The shell, SFTP, then an exec channel each: the claim, the program, the removal.
    expect(pool.channels).toBe(5);
  });

  it('fails at once when a machine that accepted the key refuses it later', async () => {
    const pool = newPool();
    const session = await pool.session(targetOf(hosts, 3), { timeoutMs: 5_000 });
    await writeFile(hosts.authorizedKeysPath, '');
    await hosts.stopHost(3);
    await hosts.startHost(3);
    const started = Date.now();
    const error = await remoteFailure(session.removeDir(`/tmp/cloudboot-absent-${process.pid}`));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error.stage).toBe('auth');
    expect(error.permanent).toBe(true);
  });

  it('uses the ssh agent when the target has no key, and says so when the agent is empty', async () => {
    const socket = join(scratch, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await waitFor(() => existsSync(socket));
      const { privateKeyPath: _, ...withoutKey } = targetOf(hosts, 0);
      const empty = await remoteFailure(
        newPool({ agent: socket }).session(withoutKey, { timeoutMs: 5_000 }),
      );
      expect(empty.message).toBe(
        `${labelOf(hosts, 0)}: auth: cannot use the ssh agent at ${socket}: it holds no keys`,
      );
      expect(empty.permanent).toBe(true);

      const sshAdd = (key: string) =>
        promisify(execFile)('ssh-add', ['-q', key], { env: { SSH_AUTH_SOCK: socket } });
      const wrongKey = join(scratch, 'agent_wrong_ed25519');
      await generateKey(wrongKey);
      await sshAdd(wrongKey);
      const refused = await remoteFailure(
        newPool({ agent: socket, authGraceMs: 0 }).session(withoutKey, { timeoutMs: 5_000 }),
      );
      expect(refused.message).toBe(
        `${labelOf(hosts, 0)}: auth: the server refused every key of the ssh agent at ${socket}`,
      );

      await sshAdd(hosts.clientKeyPath);
      const session = await newPool({ agent: socket }).session(withoutKey, { timeoutMs: 5_000 });
      expect(
        (await session.run({ program: 'true', args: [], cwd: '/', timeoutMs: 5_000 })).exitCode,
      ).toBe(0);
    } finally {
      agent.kill();
    }
  });

  it('says so when there is neither a key nor an agent', async () => {
    const target = targetOf(hosts, 0);
    const { privateKeyPath: _, ...withoutKey } = target;
    const error = await remoteFailure(
      newPool({ agent: '' }).session(withoutKey, { timeoutMs: 1_000 }),
    );
    expect(error.message).toBe(
      `${labelOf(hosts, 0)}: auth: no private key given (localsshkeypath) and no ssh agent (SSH_AUTH_SOCK is not set)`,
    );
    expect(error.permanent).toBe(true);
  });

  it('says so when the key file is missing', async () => {
    const missing = join(scratch, 'no-such-key');
    const error = await remoteFailure(
      newPool().session(targetOf(hosts, 0, { privateKeyPath: missing }), { timeoutMs: 1_000 }),
    );
    expect(error.message).toBe(
      `${labelOf(hosts, 0)}: auth: cannot read private key ${missing}: no such file`,
    );
    expect(error.permanent).toBe(true);
  });
});

describe('host keys', () => {
  it('pins the first key and refuses a changed one, naming both fingerprints', async () => {
    const hostKeys = new MemoryHostKeyStore();
    const target = targetOf(hosts, 1);
    await newPool({ hostKeys }).session(target, { timeoutMs: 5_000 });
    const first = hosts.hosts[1]?.hostKeyPublic as string;
    expect(hostKeys.get(target.host, target.port)).toBe(first);

    await hosts.restartWithNewHostKey(1);
    const second = hosts.hosts[1]?.hostKeyPublic as string;
    const error = await remoteFailure(newPool({ hostKeys }).session(target, { timeoutMs: 5_000 }));
    expect(error.stage).toBe('host-key');
    expect(error.permanent).toBe(true);
    expect(error.message).toBe(
      `${labelOf(hosts, 1)}: host-key: the host key changed: this run pinned ${hostKeyFingerprint(first)}, ` +
        `the server now presents ${hostKeyFingerprint(second)}. Either the machine was reinstalled or ` +
        'someone is intercepting the connection. If the change is expected, set host_key: ' +
        `${second} for this service in the plan.`,
    );
    expect(hostKeys.get(target.host, target.port)).toBe(first);
  });

  it("accepts the plan's host_key as a key line or a SHA256 fingerprint, over a stale pin", async () => {
    const current = hosts.hosts[1]?.hostKeyPublic as string;
    for (const expectedHostKey of [current, hostKeyFingerprint(current)]) {
      const hostKeys = new MemoryHostKeyStore();
      const target = targetOf(hosts, 1, { expectedHostKey });
      hostKeys.pin(target.host, target.port, hosts.hosts[0]?.hostKeyPublic as string);
      await newPool({ hostKeys }).session(target, { timeoutMs: 5_000 });
      expect(hostKeys.get(target.host, target.port)).toBe(current);
    }
  });

  it("refuses a server whose key does not match the plan's host_key", async () => {
    const other = hosts.hosts[0]?.hostKeyPublic as string;
    const current = hosts.hosts[1]?.hostKeyPublic as string;
    const target = targetOf(hosts, 1, { expectedHostKey: hostKeyFingerprint(other) });
    const error = await remoteFailure(newPool().session(target, { timeoutMs: 5_000 }));
    expect(error.message).toBe(
      `${labelOf(hosts, 1)}: host-key: the host key does not match the plan: host_key is ${hostKeyFingerprint(other)}, ` +
        `the server presents ${hostKeyFingerprint(current)}. Either the machine was reinstalled or ` +
        'someone is intercepting the connection. If the change is expected, set host_key: ' +
        `${current} for this service in the plan.`,
    );
  });

  it('rejects a host_key that is neither a key nor a fingerprint', async () => {
    const target = targetOf(hosts, 1, { expectedHostKey: 'AAAA' });
    const error = await remoteFailure(newPool().session(target, { timeoutMs: 5_000 }));
    expect(error.message).toBe(
      `${labelOf(hosts, 1)}: host-key: host_key "AAAA" is neither an OpenSSH public key ("ssh-ed25519 AAAA…") nor a SHA256: fingerprint`,
    );
    expect(error.permanent).toBe(true);
  });
});
