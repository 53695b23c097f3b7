/**
 * Helpers of the end-to-end SSH boot tests: plans whose services run on the
 * harness's sshd machines, a per-test base directory on the machines, and an
 * independent SSH connection to look at a machine from the test.
 */

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CloudBoot, type CloudBootOptions } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { type CliIo, runCli } from 'cloudboot';
import type { MachineSession, RunResult } from '../../packages/core/src/exec/machine.js';
import { MemoryHostKeyStore, SshPool } from '../../packages/core/src/exec/ssh-pool.js';
import type { SshHosts } from '../harness/sshd.js';
import { type PlanDir, writePlan } from '../support/plan-files.js';
import { targetOf } from './targets.js';

export const drivers = { 'static-ip': createDriver };

/**
 * A fresh base of working directories on the machines. It is not created
 * here: the machines log in as another user than the test (root), so the
 * first `mkdir -p` on a machine creates it, owned by that user.
 */
export function machineBase(): string {
  return join(tmpdir(), `cloudboot-ssh-${randomBytes(6).toString('hex')}`);
}

/** Plan keys that put a service on test host `i`. */
export function onHost(hosts: SshHosts, i: number): string {
  const host = hosts.hosts[i];
  if (host === undefined) throw new RangeError(`no test host #${i}`);
  return `hostname: ${host.address}\nssh_port: ${host.port}\n`;
}

/** `[defaults]` of every SSH plan: log in as the harness user, programs run over SSH under `base`. */
export function sshDefaults(hosts: SshHosts, base: string, extra = ''): string {
  return (
    '[defaults]\n' +
    'local_exe: false\n' +
    `ssh_username: ${hosts.username}\n` +
    `localsshkeypath: ${hosts.clientKeyPath}\n` +
    `workdir: ${base}\n` +
    extra
  );
}

/** `[runlevels]` naming `l1.conf` … `lN.conf`. */
export function runlevels(count: number): string {
  const lines = Array.from({ length: count }, (_, i) => `level${i + 1}: l${i + 1}.conf`);
  return `[runlevels]\n${lines.join('\n')}\n`;
}

/**
 * `boot.sh [KEY=VALUE]...`: publishes the machine it runs on (`server`, from
 * sshd's SSH_CONNECTION), the directory it runs in (`cwd`) and each pair.
 */
export const PUBLISHING_BOOT = `#!/bin/sh
set -e
server=$(echo "$SSH_CONNECTION" | awk '{print $3 ":" $4}')
out="{\\"server\\": \\"$server\\", \\"cwd\\": \\"$(pwd)\\""
for pair in "$@"; do out="$out, \\"\${pair%%=*}\\": \\"\${pair#*=}\\""; done
echo "$out}" > bootout.json
`;

/** `address:port` of test host `i`, as SSH_CONNECTION names the server. */
export function serverOf(hosts: SshHosts, i: number): string {
  const host = hosts.hosts[i];
  if (host === undefined) throw new RangeError(`no test host #${i}`);
  return `${host.address}:${host.port}`;
}

/** Everything one test made: plans, runs, machine directories, probe connections. */
export class Cleanup {
  readonly #plans: PlanDir[] = [];
  readonly #bases: string[] = [];
  readonly #boots: CloudBoot[] = [];
  readonly #pools: SshPool[] = [];

  /** Writes a plan (see `writePlan`), removed afterwards. */
  plan(files: Readonly<Record<string, string>>): PlanDir {
    const plan = writePlan(files);
    this.#plans.push(plan);
    return plan;
  }

  /** A machine base directory (see {@link machineBase}), removed afterwards. */
  base(): string {
    const base = machineBase();
    this.#bases.push(base);
    return base;
  }

  /** A new run of `plan`'s `top.conf` with the static-ip driver, closed afterwards. */
  boot(plan: PlanDir, runName: string, options: Partial<CloudBootOptions> = {}): CloudBoot {
    return this.#track(
      new CloudBoot({
        dbDir: plan.dbDir,
        planFile: plan.path('top.conf'),
        runName,
        drivers,
        ...options,
      }),
    );
  }

  /** Reopens a run from its database, closed afterwards. */
  reopen(plan: PlanDir, runName: string): CloudBoot {
    return this.#track(new CloudBoot({ dbDir: plan.dbDir, runName, drivers }));
  }

  /**
   * A session on test host `i` over a connection of its own (not the one
   * cloudboot used), to look at the machine as the test's witness.
   */
  machine(hosts: SshHosts, i: number): Promise<MachineSession> {
    const pool = new SshPool({ hostKeys: new MemoryHostKeyStore(), agent: '' });
    this.#pools.push(pool);
    return pool.session(targetOf(hosts, i), { timeoutMs: 5_000 });
  }

  /** Closes and removes everything, even after a failed test. */
  async run(): Promise<void> {
    await Promise.all(this.#pools.splice(0).map((pool) => pool.close()));
    for (const boot of this.#boots.splice(0)) boot.close();
    for (const plan of this.#plans.splice(0)) plan.remove();
    await Promise.all(
      this.#bases.splice(0).map((base) => rm(base, { recursive: true, force: true })),
    );
  }

  #track(boot: CloudBoot): CloudBoot {
    this.#boots.push(boot);
    return boot;
  }
}

/** Runs `sh -c script` on a machine in `cwd`. */
export function sh(session: MachineSession, script: string, cwd = '/'): Promise<RunResult> {
  return session.run({ program: 'sh', args: ['-c', script], cwd, timeoutMs: 5_000 });
}

/** What a CLI command line printed and returned. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cloudboot ARGV` in-process (the static-ip driver is imported from its package). */
export async function cli(argv: readonly string[], cwd: string): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    cwd,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/** Packs `dir` (a directory under `parent`) into `parent/<dir>.tar.gz` with the system tar. */
export async function tarball(parent: string, dir: string): Promise<string> {
  const file = join(parent, `${dir}.tar.gz`);
  await promisify(execFile)('tar', ['-czf', file, '-C', parent, dir]);
  return file;
}

/** Polls `condition` every 50 ms for up to `ms`; resolves with its last value. */
export async function eventually(condition: () => Promise<boolean>, ms = 3_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
