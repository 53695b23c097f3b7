/**
 * Running one program through the machine's long-lived remote shell (see
 * `ssh-shell.ts`): output is followed from its files over SFTP while it
 * runs, a timeout or abort kills its whole process group, and when the
 * connection drops the program is not lost: once the machine answers again
 * (within the program's timeout) the new shell waits for the same process
 * and reads the status it left.
 */
import { constants } from 'node:os';
import type { SFTPWrapper } from 'ssh2';
import { onAbort } from '../abort.js';
import { RemoteError } from '../errors.js';
import { shellJoin } from '../template/shell-words.js';
import type { RunRequest, RunResult } from './machine.js';
import { OutputTail } from './output-tail.js';
import { type ProgramEnd, programFiles, type RemoteShell } from './ssh-shell.js';

/** How often a running program's output files are read. */
const POLL_MS = 500;
const CHUNK_BYTES = 64 * 1024;
/** How long a stopped program gets between SIGTERM and SIGKILL, in tenths of a second. */
const KILL_GRACE_TENTHS = 20;

/** What a program run needs from its machine. */
export interface ShellRunHost {
  readonly label: string;
  /** The live shell, reconnecting (until `deadline`) when the connection dropped. */
  shell(deadline: number): Promise<RemoteShell>;
  /** The live shell, if there is one now. */
  currentShell(): RemoteShell | undefined;
  /** The SFTP channel of the live connection. */
  sftp(): Promise<SFTPWrapper>;
  /** Counts one SFTP request that reads a program's output. */
  countOutputRead(): void;
}

let runs = 0;

/** Runs `request` through `shell`; see the module comment. Never rejects for a non-zero exit. */
export function runInShell(
  host: ShellRunHost,
  shell: RemoteShell,
  request: RunRequest,
): Promise<RunResult> {
  request.signal?.throwIfAborted();
  runs += 1;
  return new ShellProgram(host, request, `${process.pid}-${runs}`).run(shell);
}

/** One program: its timers, its process group, its output. */
class ShellProgram {
  readonly #host: ShellRunHost;
  readonly #request: RunRequest;
  readonly #name: string;
  /** Where its files are, once it started. */
  #base: string | undefined;
  readonly #started = performance.now();
  readonly #deadline: number;
  readonly #stdout: RemoteFollower;
  readonly #stderr: RemoteFollower;
  #pgid: number | undefined;
  #stoppedBy: 'timeout' | 'abort' | undefined;
  #done = false;
  #timer: NodeJS.Timeout | undefined;
  #resolve: (result: RunResult) => void = () => {};
  #reject: (error: Error) => void = () => {};
  /** Stops waiting for the request's abort signal. */
  #cancelAbort: (() => void) | undefined;

  constructor(host: ShellRunHost, request: RunRequest, name: string) {
    this.#host = host;
    this.#request = request;
    this.#name = name;
    this.#deadline = performance.now() + request.timeoutMs;
    this.#stdout = new RemoteFollower(host, (chunk) => request.onOutput?.('stdout', chunk));
    this.#stderr = new RemoteFollower(host, (chunk) => request.onOutput?.('stderr', chunk));
  }

  run(shell: RemoteShell): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#timer = setTimeout(() => this.#stop('timeout'), this.#request.timeoutMs);
      this.#cancelAbort =
        this.#request.signal && onAbort(this.#request.signal, () => this.#stop('abort'));
      shell.startProgram(this.#request, this.#name, this.#events(shell));
    });
  }

  #events(shell: RemoteShell): Parameters<RemoteShell['startProgram']>[2] {
    shell.onLost(() => void this.#reattach());
    return {
      onPid: (pid, base) => {
        if (this.#pgid === undefined) {
          this.#pgid = pid;
          this.#base = base;
          this.#stdout.follow(`${base}.out`);
          this.#stderr.follow(`${base}.err`);
          this.#request.onStart?.(pid);
        }
        if (this.#stoppedBy !== undefined) this.#kill();
      },
      onExit: (end) => void this.#finish(end),
    };
  }

  /** The connection dropped: find the program again through a new one. */
  async #reattach(): Promise<void> {
    if (this.#done) return;
    let shell: RemoteShell;
    try {
      shell = await this.#host.shell(this.#deadline);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.#fail(
        `the connection was lost while ${this.#request.program} was running, and the machine did not answer again: ${why}`,
      );
      return;
    }
    if (this.#done) return;
    if (this.#base === undefined) {
      this.#fail(`the connection was lost before ${this.#request.program} started`);
      return;
    }
    shell.attachProgram(this.#base, this.#events(shell));
  }

  #stop(reason: 'timeout' | 'abort'): void {
    if (this.#done || this.#stoppedBy !== undefined) return;
    this.#stoppedBy = reason;
    this.#kill();
  }

  /** SIGTERM to the process group, SIGKILL to what is left after the grace period. */
  #kill(): void {
    const pgid = this.#pgid;
    if (pgid === undefined) return;
    const group = `-${pgid}`;
    this.#host
      .currentShell()
      ?.send(
        `${shellJoin(['kill', '-s', 'TERM', '--', group])}; i=0; ` +
          `while ${shellJoin(['kill', '-s', '0', '--', group])} && [ $i -lt ${KILL_GRACE_TENTHS} ]; do sleep 0.1; i=$((i+1)); done; ` +
          shellJoin(['kill', '-s', 'KILL', '--', group]),
      );
  }

  #settle(): void {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#cancelAbort?.();
  }

  #fail(reason: string): void {
    if (this.#done) return;
    this.#settle();
    void Promise.all([this.#stdout.finish(false), this.#stderr.finish(false)]);
    this.#reject(new RemoteError(this.#host.label, 'command', reason, false));
  }

  async #finish(end: ProgramEnd): Promise<void> {
    if (this.#done) return;
    if (end.kind === 'unstarted') {
      this.#fail(`the connection was lost before ${this.#request.program} started`);
      return;
    }
    if (end.kind === 'nowrite') {
      this.#settle();
      const reason = `cannot write ${this.#request.program} (is the disk full?)`;
      this.#reject(new RemoteError(this.#host.label, 'command', reason, true));
      return;
    }
    this.#settle();
    const written = end.kind === 'exit' ? end.written : ([false, false] as const);
    await Promise.all([this.#stdout.finish(written[0]), this.#stderr.finish(written[1])]);
    if (this.#base !== undefined) this.#host.currentShell()?.discard(programFiles(this.#base));
    const stderr = this.#stderr.tail;
    const readError = this.#stdout.error ?? this.#stderr.error;
    if (readError !== undefined) {
      stderr.push(
        Buffer.from(`cloudboot: could not read the program's output: ${readError.message}\n`),
      );
    }
    if (end.kind === 'nocwd') stderr.push(Buffer.from(`${end.message}\n`));
    const status = end.kind === 'exit' ? end.status : 1;
    const stopped = this.#stoppedBy !== undefined;
    // A stopped program's recorder writes 128 + the signal that ended it.
    const killed = status === null || (stopped && status > 128);
    const signal =
      status !== null && status > 128 ? status - 128 : end.kind === 'exit' ? end.signal : undefined;
    this.#resolve({
      exitCode: killed ? null : status,
      signal: killed ? signalName(signal) : null,
      timedOut: this.#stoppedBy === 'timeout',
      stdoutTail: this.#stdout.tail.text(),
      stderrTail: stderr.text(),
      durationMs: Math.round(performance.now() - this.#started),
    });
  }
}

/** The name of signal `number` (Linux numbering), SIGKILL when unknown. */
function signalName(number: number | undefined): string {
  const found = Object.entries(constants.signals).find(([, n]) => n === number);
  return found?.[0] ?? 'SIGKILL';
}

/**
 * Follows one output file on the machine over SFTP. Once the program ended,
 * the file is read only when the exit report says it holds something: the
 * next step does not wait for reads that cannot find anything.
 */
class RemoteFollower {
  readonly tail = new OutputTail();
  error: Error | undefined;
  #path: string | undefined;
  readonly #host: Pick<ShellRunHost, 'sftp' | 'countOutputRead'>;
  readonly #onChunk: (chunk: Buffer) => void;
  #offset = 0;
  #open: { sftp: SFTPWrapper; handle: Buffer } | undefined;
  /**
   * Where reads land, kept across polls: most polls find nothing new, and a
   * fresh 64 KiB buffer for each (off the JavaScript heap) adds up to
   * hundreds of megabytes for the garbage collector over a long program.
   */
  #buffer: Buffer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    host: Pick<ShellRunHost, 'sftp' | 'countOutputRead'>,
    onChunk: (chunk: Buffer) => void,
  ) {
    this.#host = host;
    this.#onChunk = onChunk;
  }

  /** Starts following `path` (the program started). */
  follow(path: string): void {
    this.#path = path;
    this.#timer = setTimeout(this.#tick, POLL_MS);
  }

  readonly #tick = (): void => {
    this.#reading = this.#reading
      .then(() => this.#read(false))
      .then((): void => {
        if (!this.#stopped) this.#timer = setTimeout(this.#tick, POLL_MS);
      });
  };

  /**
   * Reads to the end of the file; false when that failed. A failure while
   * the program runs (the connection dropped, say) is retried at the next
   * poll; only the `final` read records it.
   */
  async #read(final: boolean): Promise<boolean> {
    const path = this.#path;
    if (path === undefined || this.error !== undefined) return true;
    try {
      const sftp = await this.#host.sftp();
      if (this.#open?.sftp !== sftp) {
        this.#host.countOutputRead();
        const handle = await new Promise<Buffer | undefined>((resolve, reject) =>
          sftp.open(path, 'r', (error: (Error & { code?: number }) | undefined, h) =>
            error === undefined || error === null
              ? resolve(h)
              : error.code === 2
                ? resolve(undefined)
                : reject(error),
          ),
        );
        if (handle === undefined) return true;
        this.#open = { sftp, handle };
      }
      const { handle } = this.#open;
      for (;;) {
        this.#host.countOutputRead();
        this.#buffer ??= Buffer.allocUnsafe(CHUNK_BYTES);
        const buffer = this.#buffer;
        const bytesRead = await new Promise<number>((resolve, reject) =>
          sftp.read(handle, buffer, 0, CHUNK_BYTES, this.#offset, (error, n) =>
            error ? reject(error) : resolve(n),
          ),
        );
        if (bytesRead === 0) return true;
        this.#offset += bytesRead;
        const chunk = Buffer.from(buffer.subarray(0, bytesRead));
        this.tail.push(chunk);
        this.#onChunk(chunk);
      }
    } catch (error) {
      // ssh2 reports the end of the file as an error.
      if ((error as { code?: number }).code === 1) return true;
      this.#open = undefined;
      if (final) this.error = error as Error;
      return false;
    }
  }

  /**
   * The program ended: reads what is left when `written` says the file is
   * not empty (trying once more, through the connection of the moment, when
   * that fails), and closes the file (once a poll under way ended).
   */
  async finish(written: boolean): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!written) {
      // An empty file: a poll under way finds nothing, and is not waited for.
      void this.#reading.then(() => this.#close());
      return;
    }
    await this.#reading;
    if (!(await this.#read(false))) await this.#read(true);
    this.#close();
  }

  #close(): void {
    const open = this.#open;
    this.#open = undefined;
    open?.sftp.close(open.handle, () => {});
  }
}
