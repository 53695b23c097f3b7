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
import { accessSync, constants, createReadStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { shellJoin, shellQuote } from '../template/shell-words.js';
import type { RunRequest, RunResult } from './machine.js';
import { OutputTail } from './output-tail.js';

interface Job {
  readonly request: RunRequest;
  readonly started: number;
  readonly out: string;
  readonly err: string;
  readonly resolve: (result: RunResult) => void;
  pid?: number;
  /** Set when we killed it: timeout or abort. */
  killedBy?: 'timeout' | 'abort';
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
}

/** An output tail, and the error that cut reading it short, if any. */
type CollectedOutput = OutputTail & { error?: Error };

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
    this.#dir = mkdtempSync(join(outputBase(), 'cloudboot-out-'));
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
      const job: Job = {
        request,
        started: performance.now(),
        out: join(dir, `${id}.out`),
        err: join(dir, `${id}.err`),
        resolve,
      };
      this.#jobs.set(id, job);
      job.timer = setTimeout(() => this.#kill(job, 'timeout'), request.timeoutMs);
      if (request.signal !== undefined) {
        job.onAbort = () => this.#kill(job, 'abort');
        request.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      const assignments = Object.entries(request.env ?? {})
        .map(([name, value]) => `${name}=${shellQuote(value)} `)
        .join('');
      const command = assignments + shellJoin(['setsid', request.program, ...request.args]);
      const err = shellQuote(job.err);
      // `jobs` reaps finished background jobs so the shell's table stays small.
      shell.stdin.write(
        `jobs >/dev/null; ( cd -- ${shellQuote(request.cwd)} 2>${err} || { echo "${id} exit 126"; exit; }; ` +
          `${command} </dev/null >${shellQuote(job.out)} 2>${err} & echo "${id} pid $!"; wait $!; s=$?; ` +
          // Say which outputs are non-empty, so most programs cost no file reads here.
          `o=0; e=0; [ -s ${shellQuote(job.out)} ] && o=1; [ -s ${err} ] && e=1; echo "${id} exit $s $o $e" ) &\n`,
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
    if (job.onAbort !== undefined) job.request.signal?.removeEventListener('abort', job.onAbort);
    const stdout: CollectedOutput = written.stdout
      ? await this.#collect(job, 'stdout', job.out)
      : new OutputTail();
    const stderr: CollectedOutput = written.stderr
      ? await this.#collect(job, 'stderr', job.err)
      : new OutputTail();
    if (stdout.error !== undefined || stderr.error !== undefined) {
      stderr.push(
        Buffer.from(
          `cloudboot: could not read the program's output: ${(stdout.error ?? stderr.error)?.message}\n`,
        ),
      );
    }
    if (note !== undefined) stderr.push(Buffer.from(`${note}\n`));
    const killed = job.killedBy !== undefined;
    job.resolve({
      exitCode: killed ? null : status,
      signal: killed ? 'SIGKILL' : null,
      timedOut: job.killedBy === 'timeout',
      stdoutTail: stdout.text(),
      stderrTail: stderr.text(),
      durationMs: performance.now() - job.started,
    });
  }

  /**
   * Streams an output file to the request's `onOutput`, keeps its tail, and
   * removes it (empty files are left for `close()` to sweep away at once).
   */
  async #collect(job: Job, stream: 'stdout' | 'stderr', file: string): Promise<CollectedOutput> {
    const tail: CollectedOutput = new OutputTail();
    try {
      for await (const chunk of createReadStream(file)) {
        const buffer = chunk as Buffer;
        tail.push(buffer);
        job.request.onOutput?.(stream, buffer);
      }
      await unlink(file);
    } catch (error) {
      // The program's verdict still counts; its output is what was lost.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') tail.error = error as Error;
    }
    return tail;
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
    if (this.#dir !== undefined && this.#jobs.size === 0)
      rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}
