/**
 * Starts local programs through one long-lived helper process instead of
 * forking this Node process for each. fork() copies the parent's page
 * tables, so in a 100+ MB process every spawn costs a millisecond or more of
 * system time on the main thread: more than a typical ready program needs,
 * and the dominant cost of booting hundreds of local services. A small
 * helper forks in microseconds, on the other core.
 *
 * Two helpers speak the same protocol (see {@link HelperDialect}): the Perl
 * one (perl-helper.ts), which costs least per program, and the `/bin/sh` one
 * (sh-helper.ts), which needs nothing but util-linux. The first available is
 * used; a helper that says it is ready (Perl) and exits before saying so
 * hands its jobs to the next. Each program leads a process group of its own
 * (so a timeout can kill the whole group) with stdout and stderr going to
 * files, and the helper reports `ID pid N` and `ID exit STATUS O E` on its
 * stdout.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { onAbort } from '../abort.js';
import { processAlive } from '../process-alive.js';
import type { RunRequest, RunResult } from './machine.js';
import { OutputFollower } from './output-follower.js';
import { PERL_HELPER } from './perl-helper.js';
import { SH_HELPER } from './sh-helper.js';

/** One program for a helper: what to run and where its output goes. */
export interface HelperJob {
  readonly request: RunRequest;
  /** File that receives the program's stdout. */
  readonly out: string;
  /** File that receives the program's stderr. */
  readonly err: string;
}

/** A kind of helper process and how jobs are written to its stdin. */
export interface HelperDialect {
  readonly name: 'perl' | 'sh';
  /** Its command line. */
  readonly command: readonly [string, ...string[]];
  /** Commands it needs on PATH. */
  readonly requires: readonly string[];
  /** True when it prints `ready` once started (and its jobs can move to the next helper until then). */
  readonly saysReady: boolean;
  /** Text that makes it run job `id`. */
  encode(id: number, job: HelperJob): string;
}

/** The helpers, the preferred first. */
export const HELPERS: readonly HelperDialect[] = [PERL_HELPER, SH_HELPER];

interface Job extends HelperJob {
  readonly id: number;
  readonly started: number;
  readonly stdout: OutputFollower;
  readonly stderr: OutputFollower;
  readonly resolve: (result: RunResult) => void;
  pid?: number;
  /** Set when we killed it: timeout or abort. */
  killedBy?: 'timeout' | 'abort';
  timer?: NodeJS.Timeout;
  /** Stops waiting for the request's abort signal. */
  cancelAbort?: () => void;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** True where `dialect` can run: a POSIX shell, and what it needs on PATH. */
function available(dialect: HelperDialect): boolean {
  return existsSync('/bin/sh') && dialect.requires.every(onPath);
}

/** Where program output is buffered: memory-backed when the machine has it. */
function outputBase(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** Output directories are `cloudboot-out-<pid of their process>-XXXXXX`. */
const OUTPUT_DIR_PREFIX = 'cloudboot-out-';
const OUTPUT_DIR_NAME = /^cloudboot-out-(\d+)-/;

/** Output directories of this process, removed when it exits. */
const ownDirs = new Set<string>();
let sweptAtStart = false;

/**
 * A new output directory for this process. The first one also sweeps away
 * those of processes that are gone (killed before they could remove theirs).
 */
function makeOutputDir(): string {
  const base = outputBase();
  if (!sweptAtStart) {
    sweptAtStart = true;
    process.once('exit', () => {
      for (const dir of ownDirs) rmSync(dir, { recursive: true, force: true });
    });
    for (const entry of readdirSync(base)) {
      const pid = Number(OUTPUT_DIR_NAME.exec(entry)?.[1] ?? Number.NaN);
      if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) {
        rmSync(join(base, entry), { recursive: true, force: true });
      }
    }
  }
  const dir = mkdtempSync(join(base, `${OUTPUT_DIR_PREFIX}${process.pid}-`));
  ownDirs.add(dir);
  return dir;
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Runs programs through a long-lived helper; see the module comment. */
export class HelperSpawner {
  /** The helpers this one may still use, the current first. */
  readonly #dialects: HelperDialect[];
  #helper: ChildProcessWithoutNullStreams | undefined;
  /** The current helper said `ready` (or never says it). */
  #ready = false;
  #dir: string | undefined;
  readonly #jobs = new Map<number, Job>();
  #next = 1;

  /** Uses the first of `dialects` that is available (see {@link HelperSpawner.available}). */
  constructor(dialects: readonly HelperDialect[] = HELPERS) {
    this.#dialects = dialects.filter(available);
  }

  /** True when one of `dialects` can run here. */
  static available(dialects: readonly HelperDialect[] = HELPERS): boolean {
    return dialects.some(available);
  }

  /** The helper in use (or to be used), for diagnostics and tests. */
  get dialect(): HelperDialect['name'] | undefined {
    return this.#dialects[0]?.name;
  }

  #start(): ChildProcessWithoutNullStreams | undefined {
    if (this.#helper !== undefined) return this.#helper;
    const dialect = this.#dialects[0];
    if (dialect === undefined) return undefined;
    // Its own process group: a Ctrl-C at the terminal goes to cloudboot,
    // which stops the programs itself, not to the helper that runs them.
    const [file, ...args] = dialect.command;
    const helper = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    helper.stderr.resume();
    // A helper that could not be started, or that died, is told by its exit
    // or an error event (a write to its closed stdin fails too): either ends it.
    helper.on('error', () => this.#onHelperExit(helper));
    helper.stdin.on('error', () => {});
    createInterface({ input: helper.stdout }).on('line', (line) => this.#onLine(line));
    helper.on('exit', () => this.#onHelperExit(helper));
    // The helper must not keep the process alive on its own.
    helper.unref();
    (helper.stdin as unknown as { unref?: () => void }).unref?.();
    (helper.stdout as unknown as { unref?: () => void }).unref?.();
    this.#helper = helper;
    this.#ready = !dialect.saysReady;
    return helper;
  }

  /** Runs one program to completion (or timeout/abort). Never rejects. */
  run(request: RunRequest): Promise<RunResult> {
    const id = this.#next++;
    this.#dir ??= makeOutputDir();
    const dir = this.#dir;
    return new Promise((resolve) => {
      const out = join(dir, `${id}.out`);
      const err = join(dir, `${id}.err`);
      const job: Job = {
        id,
        request,
        started: performance.now(),
        out,
        err,
        stdout: new OutputFollower(out, (chunk) => request.onOutput?.('stdout', chunk)),
        stderr: new OutputFollower(err, (chunk) => request.onOutput?.('stderr', chunk)),
        resolve,
      };
      const words = [request.program, request.cwd, ...request.args];
      const env = Object.entries(request.env ?? {}).flat();
      if ([...words, ...env].some((word) => word.includes('\0'))) {
        void this.#finish(
          job,
          127,
          { stdout: false, stderr: false },
          'cloudboot: the program, its arguments or its environment contain a NUL byte',
        );
        return;
      }
      this.#jobs.set(id, job);
      job.timer = setTimeout(() => this.#kill(job, 'timeout'), request.timeoutMs);
      if (request.signal !== undefined) {
        job.cancelAbort = onAbort(request.signal, () => this.#kill(job, 'abort'));
      }
      this.#submit(job);
    });
  }

  /** Writes `job` to the current helper (started if need be). */
  #submit(job: Job): void {
    const helper = this.#start();
    const dialect = this.#dialects[0];
    if (helper === undefined || dialect === undefined) {
      this.#jobs.delete(job.id);
      void this.#finish(
        job,
        null,
        { stdout: false, stderr: false },
        'cloudboot: no helper to run local programs could be started',
      );
      return;
    }
    helper.stdin.write(dialect.encode(job.id, job));
  }

  #kill(job: Job, why: 'timeout' | 'abort'): void {
    job.killedBy ??= why;
    if (job.pid !== undefined) killGroup(job.pid);
  }

  #onLine(line: string): void {
    if (line === 'ready') {
      this.#ready = true;
      return;
    }
    const [idText, kind, value, hasOut, hasErr] = line.split(' ');
    const job = this.#jobs.get(Number(idText));
    if (job === undefined) return;
    if (kind === 'pid') {
      job.pid = Number(value);
      // The helper makes the program the leader of a process group of its own.
      job.request.onStart?.(job.pid);
      if (job.killedBy !== undefined) killGroup(job.pid);
    } else if (kind === 'exit') {
      this.#jobs.delete(job.id);
      void this.#finish(job, Number(value), { stdout: hasOut === '1', stderr: hasErr === '1' });
    }
  }

  async #finish(
    job: Job,
    status: number | null,
    written: { stdout: boolean; stderr: boolean },
    note?: string,
  ): Promise<void> {
    clearTimeout(job.timer);
    job.cancelAbort?.();
    await Promise.all([job.stdout.finish(written.stdout), job.stderr.finish(written.stderr)]);
    const { stdout, stderr } = job;
    if (stdout.error !== undefined || stderr.error !== undefined) {
      stderr.tail.push(
        Buffer.from(
          `cloudboot: could not read the program's output: ${(stdout.error ?? stderr.error)?.message}\n`,
        ),
      );
    }
    if (note !== undefined) stderr.tail.push(Buffer.from(`${note}\n`));
    const killed = job.killedBy !== undefined;
    job.resolve({
      exitCode: killed ? null : status,
      signal: killed ? 'SIGKILL' : null,
      timedOut: job.killedBy === 'timeout',
      stdoutTail: stdout.tail.text(),
      stderrTail: stderr.tail.text(),
      durationMs: performance.now() - job.started,
    });
  }

  #onHelperExit(helper: ChildProcessWithoutNullStreams): void {
    if (helper !== this.#helper) return;
    this.#helper = undefined;
    if (!this.#ready) {
      // It never started (Perl without its core modules, say): nothing it
      // was given ran. The next helper runs all of it.
      this.#dialects.shift();
      for (const job of this.#jobs.values()) this.#submit(job);
      return;
    }
    for (const [id, job] of this.#jobs) {
      this.#jobs.delete(id);
      if (job.pid !== undefined) killGroup(job.pid);
      void this.#finish(
        job,
        null,
        { stdout: true, stderr: true },
        'cloudboot: the helper that runs local programs exited unexpectedly',
      );
    }
  }

  /** Stops the helper (programs still running are left to finish) and removes the output directory. */
  close(): void {
    this.#helper?.stdin.end();
    this.#helper = undefined;
    // With programs still running, the directory goes when this process exits.
    if (this.#dir !== undefined && this.#jobs.size === 0) {
      rmSync(this.#dir, { recursive: true, force: true });
      ownDirs.delete(this.#dir);
    }
    this.#dir = undefined;
  }
}
