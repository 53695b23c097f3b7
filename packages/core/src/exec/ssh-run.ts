/**
 * Running commands over one SSH connection: short helper commands
 * ({@link execCommand}) and the engine's programs ({@link runProgram}), which
 * stream output, keep its tail, and are killed on the machine (whole process
 * group) when they time out or are aborted.
 */
import type { Client, ClientChannel } from 'ssh2';
import { onAbort } from '../abort.js';
import { RemoteError } from '../errors.js';
import { shellJoin, shellQuote } from '../template/shell-words.js';
import type { RunRequest, RunResult } from './machine.js';
import { OutputTail } from './output-tail.js';

/** How a command ended; `code` is `undefined` when the channel closed without an exit status. */
export interface CommandExit {
  readonly code: number | null | undefined;
  readonly signal: string | null;
  readonly stderr: string;
  /** The last few KiB of stdout. */
  readonly stdout: string;
}

/** Signals the executor sends to a program it stops. */
export type StopSignal = 'TERM' | 'KILL';

/** Sends `signal` to the process group `pgid` on the machine. */
export type GroupKiller = (pgid: number, signal: StopSignal) => Promise<void>;

/** How long a stopped program gets to exit after SIGTERM (and again after SIGKILL). */
const KILL_GRACE_MS = 2_000;
/**
 * After the program exited, how long to wait for its output to end. A
 * background process it left behind may hold stdout open forever.
 */
const DRAIN_AFTER_EXIT_MS = 1_000;
/** First line of stdout: the process group of the program (sshd makes each session its own). */
const PGID_MARKER = 'cloudboot-pgid ';
const MARKER_LINE = new RegExp(`(?<=^|\n)${PGID_MARKER}(\\d+)\n`);
/** Give up looking for the marker after this much output. */
const MARKER_SEARCH_BYTES = 65_536;

/** Runs a short command to completion, stdin closed; the tail of stderr is kept. */
export function execCommand(client: Client, command: string): Promise<CommandExit> {
  return openChannel(client, command).then(
    (channel) =>
      new Promise((resolve) => {
        const stderr = new OutputTail();
        const stdout = new OutputTail();
        channel.on('data', (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('close', (code?: number | null, signal?: string) =>
          resolve({ code, signal: signal ?? null, stderr: stderr.text(), stdout: stdout.text() }),
        );
        channel.end();
      }),
  );
}

/** The remote command line for a request: every word quoted, the shell replaced by the program. */
function programCommand(request: RunRequest): string {
  // A program word starting with "-" would be read as an option of `exec`.
  const program = request.program.startsWith('-') ? `./${request.program}` : request.program;
  const exports = Object.entries(request.env ?? {}).map(
    ([name, value]) => `export ${name}=${shellQuote(value)}`,
  );
  return [
    `echo ${shellQuote(PGID_MARKER)}$$`,
    `cd -- ${shellQuote(request.cwd)}`,
    ...exports,
    `exec ${shellJoin([program, ...request.args])}`,
  ].join(' && ');
}

/**
 * Runs one program (see `MachineSession.run`). Rejects with a `RemoteError`
 * only when the program could not be started or the connection was lost.
 */
export async function runProgram(
  client: Client,
  label: string,
  request: RunRequest,
  killGroup: GroupKiller,
): Promise<RunResult> {
  request.signal?.throwIfAborted();
  const started = performance.now();
  const channel = await openChannel(client, programCommand(request)).catch((error: Error) => {
    const reason = `cannot start ${request.program}: ${error.message}`;
    throw new RemoteError(label, 'command', reason, false, { cause: error });
  });
  return new Promise((resolve, reject) => {
    const run = new ProgramRun(channel, request, killGroup);
    channel.on('close', (code?: number | null, signal?: string) => {
      run.finish();
      if (code === undefined && run.stoppedBy === undefined) {
        const reason = `the connection was lost while ${request.program} was running`;
        reject(new RemoteError(label, 'command', reason, false));
        return;
      }
      resolve(run.result(code, signal ?? null, performance.now() - started));
    });
    channel.end();
  });
}

/** The bookkeeping of one running program: output, timers, stopping. */
class ProgramRun {
  /** Why the executor stopped the program, if it did. */
  stoppedBy: 'timeout' | 'abort' | undefined;
  readonly #channel: ClientChannel;
  readonly #request: RunRequest;
  readonly #killGroup: GroupKiller;
  readonly #stdout = new OutputTail();
  readonly #stderr = new OutputTail();
  readonly #marker = new MarkerScanner();
  readonly #timers: NodeJS.Timeout[] = [];
  /** The program has exited (its output may still be draining). */
  #exited = false;
  #isClosed = false;
  readonly #closed: Promise<void>;
  #markClosed = (): void => {};
  /** Stops waiting for the request's abort signal. */
  #cancelAbort: (() => void) | undefined;

  constructor(channel: ClientChannel, request: RunRequest, killGroup: GroupKiller) {
    this.#channel = channel;
    this.#request = request;
    this.#killGroup = killGroup;
    this.#closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
    channel.on('data', (chunk: Buffer) => this.#output('stdout', this.#marker.take(chunk)));
    channel.stderr.on('data', (chunk: Buffer) => this.#output('stderr', chunk));
    channel.on('exit', () => {
      this.#exited = true;
      this.#timers.push(setTimeout(() => channel.close(), DRAIN_AFTER_EXIT_MS));
    });
    this.#timers.push(setTimeout(() => this.#stop('timeout'), request.timeoutMs));
    this.#cancelAbort = request.signal && onAbort(request.signal, () => this.#stop('abort'));
    void this.#marker.pgid.then((pgid) => {
      if (pgid !== undefined) request.onStart?.(pgid);
    });
  }

  /** Called once the channel closed: stops timers and listeners. */
  finish(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#cancelAbort?.();
    this.#output('stdout', this.#marker.end());
    this.#isClosed = true;
    this.#markClosed();
  }

  /** The result, given how the channel ended. */
  result(code: number | null | undefined, signal: string | null, durationMs: number): RunResult {
    return {
      exitCode: this.stoppedBy === undefined ? (code ?? null) : null,
      signal,
      timedOut: this.stoppedBy === 'timeout',
      stdoutTail: this.#stdout.text(),
      stderrTail: this.#stderr.text(),
      durationMs: Math.round(durationMs),
    };
  }

  #output(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (chunk.length === 0) return;
    (stream === 'stdout' ? this.#stdout : this.#stderr).push(chunk);
    this.#request.onOutput?.(stream, chunk);
  }

  #stop(reason: 'timeout' | 'abort'): void {
    if (this.stoppedBy !== undefined || this.#exited) return;
    this.stoppedBy = reason;
    void this.#terminate();
  }

  /** SIGTERM to the program's process group, SIGKILL if it lingers, then give up on the channel. */
  async #terminate(): Promise<void> {
    const pgid = await Promise.race([this.#marker.pgid, this.#closed.then(() => undefined)]);
    for (const signal of ['TERM', 'KILL'] as const) {
      if (this.#isClosed) return;
      // Without the marker, ask sshd to signal the session (OpenSSH >= 7.9 does killpg).
      if (pgid === undefined) this.#channel.signal(signal);
      else await this.#killGroup(pgid, signal).catch(() => {});
      if (await this.#closedWithin(KILL_GRACE_MS)) return;
    }
    this.#channel.close();
  }

  #closedWithin(ms: number): Promise<boolean> {
    return Promise.race([
      this.#closed.then(() => true),
      new Promise<boolean>((resolve) => this.#timers.push(setTimeout(() => resolve(false), ms))),
    ]);
  }
}

/** Finds the `cloudboot-pgid N` line in stdout and strips it; other output passes through. */
class MarkerScanner {
  /** Resolves with the process group id, or `undefined` if the marker never came. */
  readonly pgid: Promise<number | undefined>;
  #resolve: (pgid: number | undefined) => void = () => {};
  #head: Buffer | undefined = Buffer.alloc(0);

  constructor() {
    this.pgid = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** Returns the part of `chunk` that is program output. */
  take(chunk: Buffer): Buffer {
    if (this.#head === undefined) return chunk;
    const head = Buffer.concat([this.#head, chunk]);
    const match = MARKER_LINE.exec(head.toString('latin1'));
    if (match !== null) {
      this.#head = undefined;
      this.#resolve(Number(match[1]));
      return Buffer.concat([
        head.subarray(0, match.index),
        head.subarray(match.index + match[0].length),
      ]);
    }
    if (head.length <= MARKER_SEARCH_BYTES) {
      this.#head = head;
      return Buffer.alloc(0);
    }
    this.#head = undefined;
    this.#resolve(undefined);
    return head;
  }

  /** No more output: the marker will not come. Returns output held back while looking for it. */
  end(): Buffer {
    const held = this.#head ?? Buffer.alloc(0);
    this.#head = undefined;
    this.#resolve(undefined);
    return held;
  }
}

function openChannel(client: Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    // ssh2 throws "Not connected" synchronously when the socket is gone; the executor rejects.
    client.exec(command, (error, channel) => (error ? reject(error) : resolve(channel)));
  });
}
