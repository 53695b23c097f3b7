/**
 * Starts local programs through one long-lived `/bin/sh` instead of forking
 * this Node process for each. fork() copies the parent's page tables, so in
 * a 100+ MB process every spawn costs a millisecond or more of system time
 * on the main thread: more than a typical ready program needs, and the
 * dominant cost of booting hundreds of local services. A 1 MB shell forks
 * in microseconds, on the other core.
 *
 * Protocol: one line per program is written to the shell's stdin; the
 * shell runs it in the background in its own session (`setsid`, so a
 * timeout can kill its whole process group) with stdout/stderr going to
 * files, and reports `ID pid N` and `ID exit STATUS` on its stdout. Every
 * word is quoted with {@link shellQuote}.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { onAbort } from '../abort.js';
import { processAlive } from '../process-alive.js';
import { shellJoin, shellQuote } from '../template/shell-words.js';
import type { RunRequest, RunResult } from './machine.js';
import { OutputFollower } from './output-follower.js';

interface Job {
  readonly request: RunRequest;
  readonly started: number;
  readonly out: string;
  readonly err: string;
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

/** Runs programs through a long-lived shell; see the module comment. */
export class ShellSpawner {
  #shell: ChildProcessWithoutNullStreams | undefined;
  #dir: string | undefined;
  readonly #jobs = new Map<number, Job>();
  #next = 1;

  /** True where this can work: a POSIX shell and util-linux `setsid`. */
  static available(): boolean {
    return existsSync('/bin/sh') && onPath('setsid');
  }

  #start(): ChildProcessWithoutNullStreams {
    if (this.#shell !== undefined) return this.#shell;
    this.#dir = makeOutputDir();
    // Its own process group: a Ctrl-C at the terminal goes to cloudboot,
    // which stops the programs itself, not to the shell that runs them.
    const shell = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    shell.stderr.resume();
    createInterface({ input: shell.stdout }).on('line', (line) => this.#onLine(line));
    shell.on('exit', () => this.#onShellExit());
    // The shell must not keep the process alive on its own.
    shell.unref();
    (shell.stdin as unknown as { unref?: () => void }).unref?.();
    (shell.stdout as unknown as { unref?: () => void }).unref?.();
    this.#shell = shell;
    return shell;
  }

  /** Runs one program to completion (or timeout/abort). Never rejects. */
  run(request: RunRequest): Promise<RunResult> {
    const shell = this.#start();
    const id = this.#next++;
    const dir = this.#dir ?? tmpdir();
    return new Promise((resolve) => {
      const out = join(dir, `${id}.out`);
      const err = join(dir, `${id}.err`);
      const job: Job = {
        request,
        started: performance.now(),
        out,
        err,
        stdout: new OutputFollower(out, (chunk) => request.onOutput?.('stdout', chunk)),
        stderr: new OutputFollower(err, (chunk) => request.onOutput?.('stderr', chunk)),
        resolve,
      };
      this.#jobs.set(id, job);
      job.timer = setTimeout(() => this.#kill(job, 'timeout'), request.timeoutMs);
      if (request.signal !== undefined) {
        job.cancelAbort = onAbort(request.signal, () => this.#kill(job, 'abort'));
      }
      const assignments = Object.entries(request.env ?? {})
        .map(([name, value]) => `${name}=${shellQuote(value)} `)
        .join('');
      const command = assignments + shellJoin(['setsid', request.program, ...request.args]);
      const errFile = shellQuote(job.err);
      // `jobs` reaps finished background jobs so the shell's table stays small.
      shell.stdin.write(
        `jobs >/dev/null; ( cd -- ${shellQuote(request.cwd)} 2>${errFile} || { echo "${id} exit 126"; exit; }; ` +
          `${command} </dev/null >${shellQuote(job.out)} 2>${errFile} & echo "${id} pid $!"; wait $!; s=$?; ` +
          // Say which outputs are non-empty, so most programs cost no file reads here.
          `o=0; e=0; [ -s ${shellQuote(job.out)} ] && o=1; [ -s ${errFile} ] && e=1; echo "${id} exit $s $o $e" ) &\n`,
      );
    });
  }

  #kill(job: Job, why: 'timeout' | 'abort'): void {
    job.killedBy ??= why;
    if (job.pid !== undefined) killGroup(job.pid);
  }

  #onLine(line: string): void {
    const [idText, kind, value, hasOut, hasErr] = line.split(' ');
    const job = this.#jobs.get(Number(idText));
    if (job === undefined) return;
    if (kind === 'pid') {
      job.pid = Number(value);
      // setsid makes the program the leader of a new session and process group.
      job.request.onStart?.(job.pid);
      if (job.killedBy !== undefined) killGroup(job.pid);
    } else if (kind === 'exit') {
      this.#jobs.delete(Number(idText));
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

  #onShellExit(): void {
    this.#shell = undefined;
    for (const [id, job] of this.#jobs) {
      this.#jobs.delete(id);
      if (job.pid !== undefined) killGroup(job.pid);
      void this.#finish(
        job,
        null,
        { stdout: true, stderr: true },
        'cloudboot: the shell that runs local programs exited unexpectedly',
      );
    }
  }

  /** Stops the shell (programs still running are left to finish) and removes the output directory. */
  close(): void {
    this.#shell?.stdin.end();
    this.#shell = undefined;
    // With programs still running, the directory goes when this process exits.
    if (this.#dir !== undefined && this.#jobs.size === 0) {
      rmSync(this.#dir, { recursive: true, force: true });
      ownDirs.delete(this.#dir);
    }
    this.#dir = undefined;
  }
}
